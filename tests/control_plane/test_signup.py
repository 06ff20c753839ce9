"""Serverless sandbox signup: mail over real SMTP, verification, login, throttling."""

from __future__ import annotations

from tests.control_plane.conftest import bearer, token_from

EMAIL = "ada@example.com"
PASSWORD = "correct horse battery"


def signup_and_verify(client, mailbox, email=EMAIL, password=PASSWORD) -> str:
    before = mailbox.count()
    r = client.post("/v1/signup", json={"email": email, "password": password})
    assert r.status_code == 202, r.text
    token = token_from(mailbox.wait_for(email, after=before))
    r = client.post("/v1/verify", json={"token": token, "password": password})
    assert r.status_code == 200, r.text
    r = client.post("/v1/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["api_key"]


def test_signup_verify_login_gives_a_key_on_the_free_plan(client, mailbox):
    before = mailbox.count()
    r = client.post("/v1/signup", json={"email": "Ada@Example.com ", "password": PASSWORD})
    assert r.status_code == 202 and r.json()["email"] == EMAIL
    mail = mailbox.wait_for(EMAIL, after=before)
    assert mail["Subject"] == "Verify your Granary sandbox"
    token = token_from(mail)

    r = client.post("/v1/login", json={"email": EMAIL, "password": PASSWORD})
    assert r.status_code == 401  # nothing to log in to before the address is verified

    r = client.post("/v1/verify", json={"token": token, "password": PASSWORD})
    assert r.status_code == 200 and r.json()["tenant"].startswith("sandbox-")
    again = client.post("/v1/verify", json={"token": token, "password": PASSWORD})
    assert again.status_code == 400  # used once only

    r = client.post("/v1/login", json={"email": EMAIL, "password": PASSWORD})
    assert r.status_code == 200
    key = r.json()["api_key"]
    assert key.startswith("gk_") and r.json()["scopes"] == ["*"]

    tenant = client.get("/v1/tenant", headers=bearer(key)).json()
    assert tenant["kind"] == "sandbox" and tenant["status"] == "active"
    assert tenant["plan"]["name"] == "free"
    assert tenant["plan"]["home_region"] == "local"
    assert tenant["plan"]["quotas"] == {
        "projects": 1,
        "feature_groups_per_project": 50,
        "offline_bytes": 10 * 1024**3,
        "online_rows": 1_000_000,
        "online_reads_per_second": 100.0,
        "ingestion_rows_per_second": 1000.0,
        "model_deployments": 0,
        "max_joins_per_query": 64,
        "max_spec_bytes": 1024**2,
        "max_spine_bytes": 64 * 1024**2,
        "max_spine_rows": 5_000_000,
        "max_request_seconds": 120.0,
    }


def test_password_is_stored_as_argon2id(client, mailbox, cp_database):
    from sqlalchemy import create_engine, text

    client.post("/v1/signup", json={"email": EMAIL, "password": PASSWORD})
    engine = create_engine(cp_database)
    with engine.connect() as c:
        stored = c.execute(text("SELECT password_hash FROM pending_signups")).scalar_one()
    engine.dispose()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_weak_password_is_refused_and_nothing_is_created(client, mailbox):
    before = mailbox.count()
    r = client.post("/v1/signup", json={"email": EMAIL, "password": "short"})
    assert r.status_code == 400 and "at least 10 characters" in r.json()["message"]
    assert mailbox.count() == before


def test_bad_verification_token_is_refused(client):
    r = client.post("/v1/verify", json={"token": "not-a-token", "password": PASSWORD})
    assert r.status_code == 400 and r.json()["code"] == "invalid_input"


def test_signing_up_again_does_not_reveal_or_replace_a_verified_account(client, mailbox):
    signup_and_verify(client, mailbox)
    before = mailbox.count()
    r = client.post("/v1/signup", json={"email": EMAIL, "password": "another password"})
    assert r.status_code == 202
    assert "already has an account" in mailbox.wait_for(EMAIL, after=before).get_payload(decode=True).decode()
    assert client.post("/v1/login", json={"email": EMAIL, "password": PASSWORD}).status_code == 200


def test_failed_logins_are_throttled_per_email_and_ip(client, mailbox, cp_settings):
    signup_and_verify(client, mailbox)
    for _ in range(cp_settings.login_limits.per_address_client):
        r = client.post("/v1/login", json={"email": EMAIL, "password": "wrong password!"})
        assert r.status_code == 401 and r.json()["message"].startswith("email or password is wrong")
    r = client.post("/v1/login", json={"email": EMAIL, "password": PASSWORD})
    assert r.status_code == 429, r.text
    assert r.json()["code"] == "too_many_requests" and int(r.headers["Retry-After"]) > 0
    # another address from the same client is not affected
    assert (
        client.post("/v1/login", json={"email": "bob@example.com", "password": "x" * 12}).status_code == 401
    )


def test_unknown_email_and_wrong_password_answer_alike(client, mailbox):
    signup_and_verify(client, mailbox)
    a = client.post("/v1/login", json={"email": EMAIL, "password": "wrong password!"})
    b = client.post("/v1/login", json={"email": "nobody@example.com", "password": "wrong password!"})
    assert (a.status_code, a.json()) == (b.status_code, b.json())


def reset_token_from(message) -> str:
    return token_from(message, "granary password-reset --token ")


def test_signing_up_again_before_verifying_mails_a_new_token_and_voids_the_first(client, mailbox):
    before = mailbox.count()
    client.post("/v1/signup", json={"email": EMAIL, "password": PASSWORD})
    first = token_from(mailbox.wait_for(EMAIL, after=before))
    before = mailbox.count()
    assert client.post("/v1/signup", json={"email": EMAIL, "password": PASSWORD}).status_code == 202
    second = token_from(mailbox.wait_for(EMAIL, after=before))
    assert second != first
    assert client.post("/v1/verify", json={"token": first, "password": PASSWORD}).status_code == 400
    assert client.post("/v1/verify", json={"token": second, "password": PASSWORD}).status_code == 200


def test_password_reset_sets_a_new_password_and_revokes_every_key(client, mailbox):
    login_key = signup_and_verify(client, mailbox)
    named = client.post("/v1/keys", json={"name": "notebook"}, headers=bearer(login_key)).json()["api_key"]

    before = mailbox.count()
    r = client.post("/v1/password-reset", json={"email": EMAIL})
    assert r.status_code == 202
    mail = mailbox.wait_for(EMAIL, after=before)
    assert mail["Subject"] == "Reset your Granary password"
    token = reset_token_from(mail)

    # a sign-up token is not a reset token, and the policy applies to the new password
    before = mailbox.count()
    client.post("/v1/signup", json={"email": "eve@example.com", "password": PASSWORD})
    signup_token = token_from(mailbox.wait_for("eve@example.com", after=before))
    confirm = "/v1/password-reset/confirm"
    assert client.post(confirm, json={"token": signup_token, "password": "x" * 12}).status_code == 400
    r = client.post("/v1/password-reset/confirm", json={"token": token, "password": "short"})
    assert r.status_code == 400, r.text

    r = client.post("/v1/password-reset/confirm", json={"token": token, "password": "a brand new password"})
    assert r.status_code == 200 and r.json() == {"email": EMAIL, "revoked_keys": 2}
    assert client.post(confirm, json={"token": token, "password": "x" * 12}).status_code == 400  # once

    assert client.get("/v1/tenant", headers=bearer(login_key)).status_code == 401  # minted by a login
    assert client.get("/v1/tenant", headers=bearer(named)).status_code == 401  # and made by name
    assert client.post("/v1/login", json={"email": EMAIL, "password": PASSWORD}).status_code == 401
    r = client.post("/v1/login", json={"email": EMAIL, "password": "a brand new password"})
    assert r.status_code == 200


def test_password_reset_reveals_no_account_and_is_throttled(client, mailbox, cp_settings):
    before = mailbox.count()
    r = client.post("/v1/password-reset", json={"email": "nobody@example.com"})
    assert r.status_code == 202
    assert r.json() == {"email": "nobody@example.com", "status": "reset_mail_sent_if_registered"}
    for _ in range(cp_settings.reset_limits.per_address_client - 1):
        assert client.post("/v1/password-reset", json={"email": "nobody@example.com"}).status_code == 202
    r = client.post("/v1/password-reset", json={"email": "nobody@example.com"})
    assert r.status_code == 429 and "reset requests" in r.json()["message"]
    assert mailbox.count() == before  # no account, no mail

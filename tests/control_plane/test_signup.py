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
    r = client.post("/v1/verify", json={"token": token})
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
    assert r.status_code == 403 and "not verified" in r.json()["message"]

    r = client.post("/v1/verify", json={"token": token})
    assert r.status_code == 200 and r.json()["tenant"].startswith("sandbox-")
    assert client.post("/v1/verify", json={"token": token}).status_code == 400  # used once only

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
    }


def test_password_is_stored_as_argon2id(client, mailbox, cp_database):
    from sqlalchemy import create_engine, text

    client.post("/v1/signup", json={"email": EMAIL, "password": PASSWORD})
    engine = create_engine(cp_database)
    with engine.connect() as c:
        stored = c.execute(text("SELECT password_hash FROM users")).scalar_one()
    engine.dispose()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_weak_password_is_refused_and_nothing_is_created(client, mailbox):
    before = mailbox.count()
    r = client.post("/v1/signup", json={"email": EMAIL, "password": "short"})
    assert r.status_code == 400 and "at least 10 characters" in r.json()["message"]
    assert mailbox.count() == before


def test_bad_verification_token_is_refused(client):
    r = client.post("/v1/verify", json={"token": "not-a-token"})
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
    for _ in range(cp_settings.login_max_failures):
        r = client.post("/v1/login", json={"email": EMAIL, "password": "wrong password!"})
        assert r.status_code == 401 and r.json()["message"] == "email or password is wrong"
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

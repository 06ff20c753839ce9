"""Attacks on sign-up, login, invitations and resets, over real HTTP against the control
plane served as ``python -m control_plane`` serves it, with real PostgreSQL, Redis and
SMTP. Each test prints how many attempts it made and how many were refused.
"""

from __future__ import annotations

import statistics
import time

import httpx
from sqlalchemy import create_engine, text

from control_plane.mail import SmtpMailer
from control_plane.settings import Limits
from tests.control_plane.conftest import ADMIN, add_user, bearer, make_tenant, token_from

VICTIM_PASSWORD = "victim's own password"
ATTACKER_PASSWORD = "attacker's password!"
LOOSE = Limits(per_address_client=1000, per_address=1000, per_client=1000, overall=10000, window_seconds=900)


def http_of(server) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30)


def sign_up(http, mailbox, email: str, password: str) -> str:
    """Sign up and return the token of the mail it sent."""
    before = mailbox.count()
    r = http.post("/v1/signup", json={"email": email, "password": password})
    assert r.status_code == 202, r.text
    return token_from(mailbox.wait_for(email, after=before))


def login(http, email: str, password: str, **headers) -> httpx.Response:
    return http.post("/v1/login", json={"email": email, "password": password}, headers=headers)


def rows(server, sql: str) -> list:
    engine = create_engine(server.settings.database_url)
    try:
        with engine.connect() as c:
            return list(c.execute(text(sql)).all())
    finally:
        engine.dispose()


# ---------------------------------------------------------------- 1. takeover before verification


def test_signing_up_again_cannot_take_over_a_pending_address(serve, mailbox):
    server = serve()
    email = "victim@example.com"
    with http_of(server) as http:
        first = sign_up(http, mailbox, email, VICTIM_PASSWORD)
        second = sign_up(http, mailbox, email, ATTACKER_PASSWORD)  # the attacker, same address
        attempts = taken_over = 0
        # the victim tries every token in their mailbox with their own password
        for token in (first, second):
            http.post("/v1/verify", json={"token": token, "password": VICTIM_PASSWORD})
            attempts += 1
            taken_over += login(http, email, ATTACKER_PASSWORD).status_code == 200
        # and the attacker cannot verify without the mailbox
        for guess in ("gv_" + "A" * 43, second[:-1] + "B"):
            r = http.post("/v1/verify", json={"token": guess, "password": ATTACKER_PASSWORD})
            attempts += 1
            assert r.status_code == 400
        # the victim signs up once more and gets the account, with their password
        third = sign_up(http, mailbox, email, VICTIM_PASSWORD)
        assert http.post("/v1/verify", json={"token": third, "password": VICTIM_PASSWORD}).status_code == 200
        taken_over += login(http, email, ATTACKER_PASSWORD).status_code == 200
        server.clock.advance(server.settings.login_limits.window_seconds)  # the attacker's tries locked it
        assert login(http, email, VICTIM_PASSWORD).status_code == 200
    print(f"\ntakeover attempts={attempts + 3} succeeded={taken_over}")
    assert taken_over == 0


def test_signing_up_first_with_someone_elses_address_gives_nothing(serve, mailbox):
    server = serve()
    email = "owner@example.com"
    with http_of(server) as http:
        planted = sign_up(http, mailbox, email, ATTACKER_PASSWORD)  # attacker first
        mine = sign_up(http, mailbox, email, VICTIM_PASSWORD)
        # the owner uses the attacker's token by mistake: without its password it is refused
        r = http.post("/v1/verify", json={"token": planted, "password": VICTIM_PASSWORD})
        assert r.status_code == 400
        assert http.post("/v1/verify", json={"token": mine, "password": VICTIM_PASSWORD}).status_code == 200
        attacker = login(http, email, ATTACKER_PASSWORD).status_code
        assert login(http, email, VICTIM_PASSWORD).status_code == 200
    print(f"\npre-signup takeover attempts=1 attacker login status={attacker}")
    assert attacker == 401


def test_a_password_reset_revokes_keys_made_meanwhile(serve, mailbox):
    server = serve()
    email = "reset@example.com"
    with http_of(server) as http:
        token = sign_up(http, mailbox, email, VICTIM_PASSWORD)
        http.post("/v1/verify", json={"token": token, "password": VICTIM_PASSWORD})
        login_key = bearer(login(http, email, VICTIM_PASSWORD).json()["api_key"])
        # whoever held the password made a named key, which outlived resets before
        planted = bearer(
            http.post("/v1/keys", json={"name": "backdoor"}, headers=login_key).json()["api_key"]
        )
        before = mailbox.count()
        http.post("/v1/password-reset", json={"email": email})
        reset = token_from(mailbox.wait_for(email, after=before), "granary password-reset --token ")
        r = http.post("/v1/password-reset/confirm", json={"token": reset, "password": "a new password!"})
        assert r.status_code == 200, r.text
        statuses = [http.get("/v1/tenant", headers=k).status_code for k in (login_key, planted)]
    print(f"\nkeys used after the reset={len(statuses)} refused={statuses.count(401)}")
    assert statuses == [401, 401]


# ---------------------------------------------------------------- 2. proxy headers


def test_forwarded_headers_from_an_untrusted_peer_change_nothing(serve, mailbox):
    server = serve()
    email = "locked@example.com"
    limit = server.settings.login_limits.per_address_client
    with http_of(server) as http:
        token = sign_up(http, mailbox, email, VICTIM_PASSWORD)
        http.post("/v1/verify", json={"token": token, "password": VICTIM_PASSWORD})
        statuses = [
            login(http, email, f"guess number {n}", **{"X-Forwarded-For": f"203.0.113.{n}"}).status_code
            for n in range(1, 13)
        ]
        # locked: the right password with yet another forged address is refused too
        right = login(http, email, VICTIM_PASSWORD, **{"X-Forwarded-For": "198.51.100.7"}).status_code
        seen = {e["client_ip"] for e in http.get("/v1/admin/audit", headers=ADMIN).json()}
    refused = statuses.count(429)
    print(f"\nforged-header guesses attempts={len(statuses)} refused={refused}; right password: {right}")
    assert statuses[:limit] == [401] * limit and refused == len(statuses) - limit
    assert right == 429
    assert seen == {"127.0.0.1"}  # the audit log records the peer, never the forged header


def test_forwarded_headers_from_a_trusted_proxy_name_the_client(serve, mailbox):
    server = serve(trusted_proxies=["127.0.0.0/8"])
    with http_of(server) as http:
        r = http.post(
            "/v1/login",
            json={"email": "x@example.com", "password": "x" * 12},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
        assert r.status_code == 401
        events = http.get("/v1/admin/audit?tenant=-&action=http.refused", headers=ADMIN).json()
    assert [e["client_ip"] for e in events] == ["203.0.113.9"]


# ---------------------------------------------------------------- 3. invitations


def test_a_tenant_admin_cannot_make_a_login_for_someone_elses_address(serve, mailbox):
    server = serve()
    with http_of(server) as http:
        token = sign_up(http, mailbox, "mallory@example.com", ATTACKER_PASSWORD)
        http.post("/v1/verify", json={"token": token, "password": ATTACKER_PASSWORD})
        mallory = bearer(login(http, "mallory@example.com", ATTACKER_PASSWORD).json()["api_key"])
        attempts = [
            http.post(
                "/v1/users", json={"email": "ceo@bigcorp.com", "password": ATTACKER_PASSWORD}, headers=mallory
            ),
            http.post("/v1/users", json={"email": "ceo@bigcorp.com"}, headers=mallory),
        ]
        logins = [login(http, "ceo@bigcorp.com", ATTACKER_PASSWORD).status_code for _ in range(2)]
        users = [u["email"] for u in http.get("/v1/users", headers=mallory).json()]
        # the real owner signs up later and gets their own account
        mine = sign_up(http, mailbox, "ceo@bigcorp.com", VICTIM_PASSWORD)
        verified = http.post("/v1/verify", json={"token": mine, "password": VICTIM_PASSWORD}).status_code
        owner = login(http, "ceo@bigcorp.com", VICTIM_PASSWORD)
    statuses = [r.status_code for r in attempts]
    print(f"\nuser-creation attempts={len(attempts)} statuses={statuses}; logins={logins}")
    assert [r.status_code for r in attempts] == [422, 202]  # a password of the admin's choosing is refused
    assert logins == [401, 401] and users == ["mallory@example.com"]
    assert verified == 200 and owner.status_code == 200 and owner.json()["tenant"] != "mallory"


def test_invitation_answers_say_nothing_of_other_tenants(serve, mailbox):
    server = serve()
    with http_of(server) as http:
        acme = bearer(make_tenant(http, "acme")["admin_key"]["api_key"])
        add_user(http, mailbox, acme, "taken@acme.example.com", VICTIM_PASSWORD)
        globex = bearer(make_tenant(http, "globex")["admin_key"]["api_key"])
        answers = {}
        for email in ("taken@acme.example.com", "fresh@nowhere.example.com"):
            r = http.post("/v1/users", json={"email": email}, headers=globex)
            body = r.json()
            answers[email] = (r.status_code, sorted(body), body["status"], body["tenant"])
        listed = [i["email"] for i in http.get("/v1/invitations", headers=globex).json()]
        audit = [
            (e["action"], e["status"], e["detail"])
            for e in http.get("/v1/audit?action=user.invite", headers=globex).json()
        ]
        # within the tenant, a user already there is named (the admin lists them anyway)
        own = http.post("/v1/users", json={"email": "admin@globex.example.com"}, headers=globex)
    print(f"\ninvitations attempts=2 answers={answers}")
    first, second = answers.values()
    assert first == second == (202, ["email", "expires_at", "status", "tenant"], "invitation_sent", "globex")
    assert listed == ["fresh@nowhere.example.com", "taken@acme.example.com"]
    assert audit[0] == audit[1]
    assert own.status_code == 409


def test_an_invited_user_joins_by_accepting_the_mail(serve, mailbox):
    server = serve()
    with http_of(server) as http:
        acme = bearer(make_tenant(http, "acme")["admin_key"]["api_key"])
        before = mailbox.count()
        assert http.post("/v1/users", json={"email": "ds@acme.example.com"}, headers=acme).status_code == 202
        token = token_from(
            mailbox.wait_for("ds@acme.example.com", after=before), "granary accept-invitation --token "
        )
        assert login(http, "ds@acme.example.com", VICTIM_PASSWORD).status_code == 401  # not yet a user
        r = http.post("/v1/invitations/accept", json={"token": token, "password": VICTIM_PASSWORD})
        assert r.status_code == 200 and r.json() == {"email": "ds@acme.example.com", "tenant": "acme"}
        again = http.post("/v1/invitations/accept", json={"token": token, "password": ATTACKER_PASSWORD})
        assert again.status_code == 400  # once only
        assert login(http, "ds@acme.example.com", VICTIM_PASSWORD).status_code == 200
        users = {u["email"]: u["verified"] for u in http.get("/v1/users", headers=acme).json()}
    assert users == {"admin@acme.example.com": True, "ds@acme.example.com": True}


# ---------------------------------------------------------------- 4. throttles


def test_signups_are_throttled_per_client_and_overall(serve, mailbox):
    limits = Limits(per_address_client=3, per_address=3, per_client=5, overall=8, window_seconds=3600)
    server = serve(signup_limits=limits, trusted_proxies=["127.0.0.1"])
    before = mailbox.count()
    with http_of(server) as http:
        one_client = [
            http.post("/v1/signup", json={"email": f"bot{n}@example.com", "password": "p" * 12}).status_code
            for n in range(15)
        ]
        # spread over source addresses (a trusted proxy says so): the overall limit holds
        spread = [
            http.post(
                "/v1/signup",
                json={"email": f"bot-{n}@example.com", "password": "p" * 12},
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
            ).status_code
            for n in range(15)
        ]
        server.clock.advance(3600)  # the next window
        later = http.post("/v1/signup", json={"email": "later@example.com", "password": "p" * 12}).status_code
    accepted = one_client.count(202) + spread.count(202) + (later == 202)
    deadline = time.monotonic() + 10
    while mailbox.count() - before < accepted and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    mails = mailbox.count() - before
    tenants = rows(server, "SELECT count(*) FROM tenants")[0][0]
    print(
        f"\nsign-up attempts={len(one_client) + len(spread) + 1} accepted={accepted} "
        f"refused={one_client.count(429) + spread.count(429)} mails={mails} tenants={tenants}"
    )
    assert one_client.count(202) == 5 and spread.count(202) == 3 and later == 202
    assert mails == accepted and tenants == 0  # nothing but pending sign-ups until verified


def test_login_guesses_are_throttled_across_clients_and_accounts(serve, mailbox):
    server = serve(trusted_proxies=["127.0.0.1"])
    limits = server.settings.login_limits
    with http_of(server) as http:
        token = sign_up(http, mailbox, "target@example.com", VICTIM_PASSWORD)
        http.post("/v1/verify", json={"token": token, "password": VICTIM_PASSWORD})
        # one account, each guess from another client address
        spread = [
            login(
                http, "target@example.com", f"guess {n}", **{"X-Forwarded-For": f"198.51.100.{n}"}
            ).status_code
            for n in range(20)
        ]
        # one client, each guess on another account
        sprayed = [
            login(
                http, f"user{n}@example.com", "Summer2026!", **{"X-Forwarded-For": "203.0.113.50"}
            ).status_code
            for n in range(20)
        ]
        server.clock.advance(limits.window_seconds)
        after_window = login(http, "target@example.com", VICTIM_PASSWORD).status_code
    print(
        f"\nguesses over clients attempts={len(spread)} refused={spread.count(429)}; "
        f"over accounts attempts={len(sprayed)} refused={sprayed.count(429)}"
    )
    assert spread.count(401) == limits.per_address and spread.count(429) == 20 - limits.per_address
    assert sprayed.count(401) == limits.per_client and sprayed.count(429) == 20 - limits.per_client
    assert after_window == 200


def test_logins_overall_are_throttled(serve):
    limits = Limits(per_address_client=5, per_address=20, per_client=50, overall=10, window_seconds=900)
    server = serve(login_limits=limits, trusted_proxies=["127.0.0.1"])
    with http_of(server) as http:
        statuses = [
            login(http, f"u{n}@example.com", "x" * 12, **{"X-Forwarded-For": f"10.0.{n}.1"}).status_code
            for n in range(15)
        ]
    print(f"\nbotnet guesses attempts={len(statuses)} refused={statuses.count(429)}")
    assert statuses.count(401) == 10 and statuses.count(429) == 5


class SlowRelay(SmtpMailer):
    """The SMTP sink behind a relay that takes 0.3 s per message, as a remote one may."""

    def send(self, to: str, subject: str, body: str) -> None:
        time.sleep(0.3)
        super().send(to, subject, body)


def test_password_reset_answers_as_fast_for_a_known_address(serve, mailbox, smtp_sink):
    relay = SlowRelay("127.0.0.1", smtp_sink[0], "Granary <no-reply@granary.localhost>")
    server = serve(mailer=relay, reset_limits=LOOSE)
    with http_of(server) as http:
        make_tenant(http, "acme")  # its admin, admin@acme.example.com, has an account
        times: dict[str, list[float]] = {"admin@acme.example.com": [], "unknown@example.com": []}
        for _ in range(8):
            for email, spent in times.items():
                started = time.perf_counter()
                r = http.post("/v1/password-reset", json={"email": email})
                spent.append(time.perf_counter() - started)
                assert r.status_code == 202 and r.json()["email"] == email
    known, unknown = (statistics.median(v) * 1000 for v in times.values())
    print(f"\nreset requests attempts=16 median known={known:.1f} ms unknown={unknown:.1f} ms")
    assert known < unknown + 150  # before: the relay's 300 ms showed


def test_login_on_a_pending_signup_does_not_tell_the_password(serve, mailbox):
    server = serve()
    with http_of(server) as http:
        sign_up(http, mailbox, "pending@example.com", VICTIM_PASSWORD)
        right = login(http, "pending@example.com", VICTIM_PASSWORD)
        wrong = login(http, "pending@example.com", "not the password")
        nobody = login(http, "nobody@example.com", "not the password")
    print(f"\npending-account logins attempts=3 statuses={[right.status_code, wrong.status_code]}")
    assert (
        (right.status_code, right.json())
        == (wrong.status_code, wrong.json())
        == (
            nobody.status_code,
            nobody.json(),
        )
    )

"""Usage metering per tenant and project; the append-only audit log."""

from __future__ import annotations

from tests.control_plane.conftest import ADMIN, REGION, add_user, bearer, make_tenant


def test_usage_per_tenant_and_project(client):
    acme = bearer(make_tenant(client, "acme")["admin_key"]["api_key"])
    fraud = client.post("/v1/projects", json={"name": "fraud"}, headers=acme).json()
    client.post("/v1/projects", json={"name": "churn"}, headers=acme)
    client.put(
        "/v1/internal/usage",
        headers=REGION,
        json={"project_id": fraud["id"], "feature_groups": 3, "offline_bytes": 1234, "online_rows": 99},
    )
    for amount in (5, 7):
        client.post(
            "/v1/internal/rate",
            headers=REGION,
            json={"project_id": fraud["id"], "quota": "online_reads_per_second", "amount": amount},
        )
    client.post(
        "/v1/internal/rate",
        headers=REGION,
        json={"project_id": fraud["id"], "quota": "ingestion_rows_per_second", "amount": 500},
    )

    usage = client.get("/v1/usage", headers=acme).json()
    assert usage["tenant"] == "acme" and usage["projects_used"] == 2
    by_name = {p["project"]: p for p in usage["projects"]}
    assert by_name["fraud"]["gauges"] == {
        "feature_groups": 3,
        "offline_bytes": 1234,
        "online_rows": 99,
        "model_deployments": 0,
    }
    assert by_name["fraud"]["metered"] == {
        "online_reads_per_second": 12.0,
        "ingestion_rows_per_second": 500.0,
    }
    assert by_name["churn"]["metered"] == {}
    one = client.get("/v1/projects/fraud/usage", headers=acme).json()
    assert one["gauges"]["feature_groups"] == 3
    assert client.get("/v1/admin/tenants/acme/usage", headers=ADMIN).json() == usage


def test_audit_records_who_what_when_where(client):
    created = make_tenant(client, "acme")
    acme = bearer(created["admin_key"]["api_key"])
    client.post("/v1/projects", json={"name": "fraud"}, headers=acme)
    client.post("/v1/projects", json={"name": "Bad!"}, headers=acme)  # refused: audited too
    client.post("/v1/keys", json={"name": "ci"}, headers=acme)
    client.post("/v1/admin/tenants/acme/suspend", headers=ADMIN)
    client.post("/v1/admin/tenants/acme/resume", headers=ADMIN)
    client.delete("/v1/projects/fraud", headers=acme)

    events = client.get("/v1/audit", headers=acme).json()
    actions = [e["action"] for e in reversed(events)]
    assert actions == [
        "tenant.create",
        "project.create",
        "http.refused",
        "key.create",
        "tenant.suspend",
        "tenant.resume",
        "project.delete",
    ]
    create = next(e for e in events if e["action"] == "project.create")
    assert create["actor"].startswith("user:") and create["key_id"] == created["admin_key"]["key_id"]
    assert create["method"] == "POST" and create["path"] == "/v1/projects" and create["status"] == 201
    assert create["client_ip"] == "testclient" and create["target"] == "fraud" and create["at"]
    refused = next(e for e in events if e["action"] == "http.refused")
    assert refused["status"] == 422
    assert next(e for e in events if e["action"] == "tenant.suspend")["actor"] == "admin"
    # filters and paging
    assert [e["action"] for e in client.get("/v1/audit?action=key.create", headers=acme).json()] == [
        "key.create"
    ]
    page = client.get(f"/v1/audit?limit=2&before_id={events[0]['id']}", headers=acme).json()
    assert [e["id"] for e in page] == [events[1]["id"], events[2]["id"]]


def test_audit_is_for_tenant_admins_of_their_own_tenant_only(client, mailbox):
    acme = bearer(make_tenant(client, "acme")["admin_key"]["api_key"])
    globex = bearer(make_tenant(client, "globex")["admin_key"]["api_key"])
    client.post("/v1/projects", json={"name": "secret"}, headers=globex)
    seen = client.get("/v1/audit", headers=acme).json()
    assert all(e["target"] != "secret" for e in seen) and {e["action"] for e in seen} == {"tenant.create"}
    ds = add_user(client, mailbox, acme, "ds@acme.example.com", "p" * 12)
    r = client.get("/v1/audit", headers=ds)
    assert r.status_code == 403


def test_signup_and_failed_logins_are_audited(client, mailbox):
    from tests.control_plane.test_signup import EMAIL, signup_and_verify

    key = bearer(signup_and_verify(client, mailbox))
    client.post("/v1/login", json={"email": EMAIL, "password": "wrong password"})
    actions = [e["action"] for e in reversed(client.get("/v1/audit", headers=key).json())]
    assert actions[:2] == ["signup.verify", "login"]
    # before verification there is no tenant: the sign-up is recorded for operators
    signups = client.get("/v1/admin/audit?tenant=-&action=signup", headers=ADMIN).json()
    assert [e["target"] for e in signups] == [EMAIL]
    # a failed login has no authenticated caller: it is recorded without a tenant, for operators
    assert "http.refused" not in actions
    refused = client.get("/v1/admin/audit?tenant=-&action=http.refused", headers=ADMIN).json()
    assert [(e["path"], e["status"], e["actor"]) for e in refused] == [("/v1/login", 401, "anonymous")]
    assert client.get("/v1/admin/audit", headers=key).status_code == 403

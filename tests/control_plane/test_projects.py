"""Projects, members with roles, API keys with scopes.

Projects are provisioned into and deleted from a real data plane, through its admin API.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from control_plane.api.app import create_app
from tests.control_plane.conftest import ADMIN, add_user, bearer, make_tenant, settle, with_region


@pytest.fixture
def client(cp_settings, admin_plane):
    with TestClient(create_app(with_region(cp_settings, admin_plane))) as c:
        yield c


@pytest.fixture
def acme(client, mailbox):
    """Tenant acme: its admin's key, plus users ds@ and viewer@ with their own login keys."""
    body = make_tenant(client, "acme")
    admin = bearer(body["admin_key"]["api_key"])
    keys = {"admin": admin}
    for who in ("ds", "viewer", "outsider"):
        keys[who] = add_user(client, mailbox, admin, f"{who}@acme.example.com", "pass-" + "w" * 10)
    return keys


def test_create_project_records_its_region_scope(client, acme, admin_plane):
    r = client.post("/v1/projects", json={"name": "fraud"}, headers=acme["admin"])
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["region"] == "local" and p["role"] == "owner" and p["status"] in ("provisioning", "ready")
    settle(client)
    p = client.get("/v1/projects/fraud", headers=acme["admin"]).json()
    assert p["status"] == "ready" and p["last_error"] is None
    pid = p["id"]
    assert p["metadata_scope"] == pid
    # where the project's data lives is what the region answered
    ns = admin_plane.settings.namespace
    assert p["kafka_topic_prefix"] == f"{ns}.fg."
    assert p["redis_key_prefix"] == f"{ns}.{pid}:"
    assert p["s3_prefixes"] == [
        f"{ns}/offline/{pid}/",
        f"{ns}/training_datasets/{pid}/",
        f"{ns}/models/{pid}/",
    ]
    assert p["data_plane_url"] == admin_plane.api_url
    assert client.post("/v1/projects", json={"name": "fraud"}, headers=acme["admin"]).status_code == 409
    assert client.post("/v1/projects", json={"name": "Bad Name"}, headers=acme["admin"]).status_code == 422


def test_project_quota_is_enforced_with_the_quota_in_the_body(client, acme):
    for name in ("p1", "p2", "p3"):
        assert client.post("/v1/projects", json={"name": name}, headers=acme["admin"]).status_code == 201
    r = client.post("/v1/projects", json={"name": "p4"}, headers=acme["admin"])
    assert r.status_code == 403
    assert r.json() == {
        "code": "quota_exceeded",
        "message": "tenant 'acme': quota 'projects' exceeded: limit 3, current use 3, this request adds 1",
        "quota": "projects",
        "limit": 3,
        "current": 3,
    }
    client.patch("/v1/admin/tenants/acme", json={"quotas": {"projects": 4}}, headers=ADMIN)
    assert client.post("/v1/projects", json={"name": "p4"}, headers=acme["admin"]).status_code == 201


def test_members_see_only_their_projects_with_their_role(client, acme):
    client.post("/v1/projects", json={"name": "fraud"}, headers=acme["admin"])
    client.post("/v1/projects", json={"name": "churn"}, headers=acme["admin"])
    r = client.put(
        "/v1/projects/fraud/members/ds@acme.example.com",
        json={"role": "data_scientist"},
        headers=acme["admin"],
    )
    assert r.status_code == 200 and r.json()["role"] == "data_scientist"
    client.put(
        "/v1/projects/fraud/members/viewer@acme.example.com", json={"role": "viewer"}, headers=acme["admin"]
    )
    listed = client.get("/v1/projects", headers=acme["ds"]).json()
    assert [(p["name"], p["role"]) for p in listed] == [("fraud", "data_scientist")]
    assert client.get("/v1/projects/churn", headers=acme["ds"]).status_code == 404
    assert client.get("/v1/projects", headers=acme["outsider"]).json() == []
    members = client.get("/v1/projects/fraud/members", headers=acme["viewer"]).json()
    assert {m["email"]: m["role"] for m in members} == {
        "admin@acme.example.com": "owner",
        "ds@acme.example.com": "data_scientist",
        "viewer@acme.example.com": "viewer",
    }


def test_only_owners_manage_members_and_delete(client, acme):
    client.post("/v1/projects", json={"name": "fraud"}, headers=acme["admin"])
    client.put(
        "/v1/projects/fraud/members/ds@acme.example.com", json={"role": "data_owner"}, headers=acme["admin"]
    )
    r = client.put(
        "/v1/projects/fraud/members/viewer@acme.example.com", json={"role": "owner"}, headers=acme["ds"]
    )
    assert r.status_code == 403 and "members:manage" in r.json()["message"]
    assert client.delete("/v1/projects/fraud", headers=acme["ds"]).status_code == 403
    # the last owner cannot be demoted or removed
    r = client.put(
        "/v1/projects/fraud/members/admin@acme.example.com", json={"role": "viewer"}, headers=acme["admin"]
    )
    assert r.status_code == 400 and "last owner" in r.json()["message"]
    # members come from the same tenant only
    other = make_tenant(client, "globex")
    r = client.put(
        "/v1/projects/fraud/members/admin@globex.example.com", json={"role": "viewer"}, headers=acme["admin"]
    )
    assert r.status_code == 404
    r = client.delete("/v1/projects/fraud", headers=acme["admin"])
    assert r.status_code == 202 and r.json()["status"] == "deleting", r.text
    settle(client)
    assert client.get("/v1/projects/fraud", headers=acme["admin"]).status_code == 404
    assert other["tenant"]["name"] == "globex"


def test_keys_are_shown_once_scoped_and_revocable_at_once(client, acme):
    client.post("/v1/projects", json={"name": "fraud"}, headers=acme["admin"])
    client.put(
        "/v1/projects/fraud/members/viewer@acme.example.com", json={"role": "viewer"}, headers=acme["admin"]
    )
    r = client.post(
        "/v1/keys", json={"name": "ci", "project": "fraud", "scopes": ["project:read"]}, headers=acme["admin"]
    )
    assert r.status_code == 201, r.text
    created = r.json()
    key = bearer(created["api_key"])
    listed = client.get("/v1/keys", headers=acme["admin"]).json()
    assert created["key_id"] in [k["key_id"] for k in listed]
    assert created["api_key"] not in str(listed)

    assert client.get("/v1/projects/fraud", headers=key).status_code == 200
    # a project key cannot reach account-wide operations or widen itself
    assert client.post("/v1/projects", json={"name": "other"}, headers=key).status_code == 403
    r = client.post("/v1/keys", json={"project": "fraud", "scopes": ["feature_groups:write"]}, headers=key)
    assert r.status_code == 403
    # a viewer cannot mint a key with write scopes for the project
    r = client.post(
        "/v1/keys", json={"project": "fraud", "scopes": ["feature_groups:write"]}, headers=acme["viewer"]
    )
    assert r.status_code == 403 and "viewer" in r.json()["message"]
    r = client.post("/v1/keys", json={"scopes": ["root"]}, headers=acme["admin"])
    assert r.status_code == 400 and "unknown" in r.json()["message"]

    assert client.delete(f"/v1/keys/{created['key_id']}", headers=acme["admin"]).status_code == 204
    r = client.get("/v1/projects/fraud", headers=key)
    assert r.status_code == 401 and "revoked" in r.json()["message"]


def test_users_cannot_revoke_each_others_keys_but_admins_can(client, acme):
    ds_key = client.post("/v1/keys", json={"name": "mine"}, headers=acme["ds"]).json()
    r = client.delete(f"/v1/keys/{ds_key['key_id']}", headers=acme["viewer"])
    assert r.status_code == 403
    assert client.delete(f"/v1/keys/{ds_key['key_id']}", headers=acme["admin"]).status_code == 204
    assert client.get("/v1/tenant", headers=bearer(ds_key["api_key"])).status_code == 401


def test_only_tenant_admins_manage_users(client, acme):
    r = client.post("/v1/users", json={"email": "new@acme.example.com"}, headers=acme["ds"])
    assert r.status_code == 403
    assert client.get("/v1/users", headers=acme["ds"]).status_code == 403
    emails = [u["email"] for u in client.get("/v1/users", headers=acme["admin"]).json()]
    assert "ds@acme.example.com" in emails

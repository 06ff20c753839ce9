"""Operator API for enterprise tenants."""

from __future__ import annotations

from tests.control_plane.conftest import ADMIN, bearer, make_tenant


def test_admin_api_needs_the_admin_token(client):
    acme = make_tenant(client, "acme")
    assert client.get("/v1/admin/tenants").status_code == 401
    assert client.get("/v1/admin/tenants", headers=bearer("wrong-token")).status_code == 401
    r = client.get("/v1/admin/tenants", headers=bearer(acme["admin_key"]["api_key"]))
    assert r.status_code == 403 and "refuses tenant API keys" in r.json()["message"]


def test_create_tenant_with_a_plan_and_its_first_admin(client):
    acme = make_tenant(client, "acme", sla_tier="premium")
    tenant = acme["tenant"]
    assert tenant["kind"] == "enterprise" and tenant["status"] == "active"
    assert tenant["plan"]["sla_tier"] == "premium"
    assert tenant["plan"]["allowed_regions"] == ["local", "eu-1"]
    assert tenant["plan"]["quotas"]["projects"] == 3
    key = acme["admin_key"]["api_key"]
    assert client.get("/v1/tenant", headers=bearer(key)).json()["name"] == "acme"
    listed = client.get("/v1/admin/tenants", headers=ADMIN).json()
    assert [t["name"] for t in listed] == ["acme"]
    assert "api_key" not in str(listed)


def test_create_refuses_duplicates_and_unknown_regions(client):
    make_tenant(client, "acme")
    body = {"name": "acme", "plan": {"home_region": "local"}, "admin_email": "x@y.example.com"}
    assert client.post("/v1/admin/tenants", json=body, headers=ADMIN).status_code == 409
    body = {"name": "other", "plan": {"home_region": "mars-1"}, "admin_email": "x@y.example.com"}
    r = client.post("/v1/admin/tenants", json=body, headers=ADMIN)
    assert r.status_code == 400 and "mars-1" in r.json()["message"]
    body = {
        "name": "other",
        "plan": {"home_region": "local", "allowed_regions": ["eu-1"]},
        "admin_email": "x@y.ex.com",
    }
    r = client.post("/v1/admin/tenants", json=body, headers=ADMIN)
    assert r.status_code == 400 and "home region" in r.json()["message"]


def test_update_changes_only_what_is_given(client):
    make_tenant(client, "acme")
    r = client.patch(
        "/v1/admin/tenants/acme",
        json={"quotas": {"feature_groups_per_project": 500}, "home_region": "eu-1", "sla_tier": "premium"},
        headers=ADMIN,
    )
    assert r.status_code == 200, r.text
    plan = r.json()["plan"]
    assert plan["quotas"]["feature_groups_per_project"] == 500
    assert plan["quotas"]["projects"] == 3
    assert plan["home_region"] == "eu-1" and plan["sla_tier"] == "premium"
    r = client.patch("/v1/admin/tenants/acme", json={"home_region": "mars-1"}, headers=ADMIN)
    assert r.status_code == 400


def test_suspended_tenant_is_refused_at_once_and_resume_restores_it(client):
    acme = make_tenant(client, "acme")
    key = bearer(acme["admin_key"]["api_key"])
    assert client.get("/v1/projects", headers=key).status_code == 200
    r = client.post("/v1/admin/tenants/acme/suspend", headers=ADMIN)
    assert r.json()["status"] == "suspended" and r.json()["suspended_at"]
    for method, path in [("GET", "/v1/projects"), ("POST", "/v1/keys"), ("GET", "/v1/tenant")]:
        r = client.request(method, path, headers=key, json={} if method == "POST" else None)
        assert r.status_code == 403 and r.json()["code"] == "tenant_suspended", (path, r.text)
    client.post("/v1/admin/tenants/acme/resume", headers=ADMIN)
    assert client.get("/v1/projects", headers=key).status_code == 200


def test_delete_tenant_removes_its_projects_and_keys(client):
    acme = make_tenant(client, "acme")
    key = bearer(acme["admin_key"]["api_key"])
    assert client.post("/v1/projects", json={"name": "fraud"}, headers=key).status_code == 201
    assert client.delete("/v1/admin/tenants/acme", headers=ADMIN).status_code == 204
    assert client.get("/v1/admin/tenants/acme", headers=ADMIN).status_code == 404
    assert client.get("/v1/projects", headers=key).status_code == 401
    # the name and the admin's address are free again
    make_tenant(client, "acme")


def test_usage_is_readable_by_the_operator(client):
    acme = make_tenant(client, "acme")
    client.post("/v1/projects", json={"name": "fraud"}, headers=bearer(acme["admin_key"]["api_key"]))
    usage = client.get("/v1/admin/tenants/acme/usage", headers=ADMIN).json()
    assert usage["projects_used"] == 1 and usage["projects"][0]["project"] == "fraud"


def test_a_project_is_placed_in_a_region_its_tenant_allows(client):
    acme = make_tenant(client, "acme", allowed_regions=["local", "eu-1"])
    admin = bearer(acme["admin_key"]["api_key"])
    r = client.post("/v1/projects", json={"name": "eu-proj", "region": "eu-1"}, headers=admin)
    assert r.status_code == 201 and r.json()["region"] == "eu-1", r.text
    home = client.post("/v1/projects", json={"name": "home-proj"}, headers=admin).json()
    assert home["region"] == "local"
    client.patch("/v1/admin/tenants/acme", json={"allowed_regions": ["local"]}, headers=ADMIN)
    r = client.post("/v1/projects", json={"name": "late", "region": "eu-1"}, headers=admin)
    assert r.status_code == 400, r.text
    assert r.json()["message"] == (
        "project 'late': region 'eu-1' is not among tenant 'acme''s allowed regions ['local']"
    )
    names = [p["name"] for p in client.get("/v1/projects", headers=admin).json()]
    assert sorted(names) == ["eu-proj", "home-proj"]

"""The control plane's routing of a tenant's projects: switchover and failover raise the
epoch and re-point the project, in the order that loses nothing, and refuse bad moves.
The regions here record what they are asked; the two-region run with real services is
``tests/replication/test_moves.py``."""

from __future__ import annotations

from tests.control_plane.conftest import ADMIN, bearer, make_tenant, settle


def _regions(client):
    return client.app.state.services.regions


def _project(client, admin, name: str) -> dict:
    assert client.post("/v1/projects", json={"name": name}, headers=admin).status_code == 201
    settle(client)
    return client.get(f"/v1/projects/{name}", headers=admin).json()


def test_switchover_moves_every_project_of_the_tenant_in_order_and_raises_the_epoch(client, cp_settings):
    admin = bearer(make_tenant(client, "acme")["admin_key"]["api_key"])
    fraud, churn = _project(client, admin, "fraud"), _project(client, admin, "churn")
    assert (fraud["region"], fraud["epoch"]) == ("local", 0)
    local, eu = _regions(client).get("local"), _regions(client).get("eu-1")
    for p in (fraud, churn):
        local.home(p["metadata_scope"], 0)

    r = client.post(
        "/v1/admin/tenants/acme/switchover", json={"from_region": "local", "to_region": "eu-1"}, headers=ADMIN
    )
    assert r.status_code == 200, r.text
    moved = r.json()["moved"]
    assert [(m["project"], m["from_region"], m["to_region"], m["epoch"]) for m in moved] == [
        ("churn", "local", "eu-1", 1),
        ("fraud", "local", "eu-1", 1),
    ]
    # the new home caught up with the old before it took the writes, and the old with it
    assert eu.caught_up == ["local", "local"] and local.caught_up == ["eu-1", "eu-1"]
    assert local.homes == {} and eu.homes == {p["metadata_scope"]: 1 for p in (fraud, churn)}
    after = client.get("/v1/projects/fraud", headers=admin).json()
    assert (after["region"], after["epoch"]) == ("eu-1", 1)
    assert after["data_plane_url"] == cp_settings.regions["eu-1"].url

    back = client.post(
        "/v1/admin/tenants/acme/failover", json={"from_region": "eu-1", "to_region": "local"}, headers=ADMIN
    )
    assert [m["epoch"] for m in back.json()["moved"]] == [2, 2]
    assert local.homes == {p["metadata_scope"]: 2 for p in (fraud, churn)}
    assert eu.homes == {p["metadata_scope"]: 1 for p in (fraud, churn)}  # failover never asks the lost one
    audit = client.get("/v1/admin/audit", headers=ADMIN).json()
    assert [e["action"] for e in audit if e["action"].startswith("project.")].count("project.switchover") == 2


def test_a_switchover_that_fails_leaves_the_project_writing_where_it_was(client):
    admin = bearer(make_tenant(client, "acme")["admin_key"]["api_key"])
    fraud = _project(client, admin, "fraud")
    local, eu = _regions(client).get("local"), _regions(client).get("eu-1")
    local.home(fraud["metadata_scope"], 0)

    def cannot_catch_up(handoff, timeout_s, if_linked=False):
        from granary_core.errors import Timeout

        raise Timeout("region 'eu-1' has not caught up with 'local' within 1 s")

    eu.catch_up = cannot_catch_up
    r = client.post(
        "/v1/admin/tenants/acme/switchover",
        json={"from_region": "local", "to_region": "eu-1", "timeout_s": 1},
        headers=ADMIN,
    )
    assert r.status_code == 504 and "has not caught up" in r.json()["message"]
    assert local.homes == {fraud["metadata_scope"]: 0} and eu.homes == {}
    after = client.get("/v1/projects/fraud", headers=admin).json()
    assert (after["region"], after["epoch"]) == ("local", 0)


def test_moves_are_refused_for_unknown_or_disallowed_regions_and_tenant_keys(client):
    acme = make_tenant(client, "acme", allowed_regions=["local"])
    body = {"from_region": "local", "to_region": "eu-1"}
    r = client.post("/v1/admin/tenants/acme/switchover", json=body, headers=ADMIN)
    assert (
        r.status_code == 400 and "region 'eu-1' is not allowed by its plan (['local'])" in r.json()["message"]
    )
    r = client.post("/v1/admin/tenants/acme/failover", json={**body, "to_region": "mars-1"}, headers=ADMIN)
    assert r.status_code == 404 and "mars-1" in r.json()["message"]
    r = client.post("/v1/admin/tenants/acme/switchover", json={**body, "to_region": "local"}, headers=ADMIN)
    assert r.status_code == 400
    r = client.post("/v1/admin/tenants/nobody/switchover", json=body, headers=ADMIN)
    assert r.status_code == 404
    tenant_key = bearer(acme["admin_key"]["api_key"])
    assert client.post("/v1/admin/tenants/acme/switchover", json=body, headers=tenant_key).status_code == 403


def test_the_cli_switches_a_tenant_over_and_prints_what_moved(live_server, monkeypatch, capsys):
    import httpx

    from granary.cli import main

    with httpx.Client(base_url=live_server.url) as http:
        admin = bearer(make_tenant(http, "globex")["admin_key"]["api_key"])
        assert http.post("/v1/projects", json={"name": "fraud"}, headers=admin).status_code == 201
        live_server.settle()
        scope = http.get("/v1/projects/fraud", headers=admin).json()["metadata_scope"]
    live_server.app.state.services.regions.get("local").home(scope, 0)
    monkeypatch.setenv("GRANARY_CONTROL_PLANE", live_server.url)
    argv = ["region", "switchover", "globex", "--from", "local", "--to", "eu-1"]
    assert main([*argv, "--api-key", ADMIN["Authorization"].removeprefix("Bearer ")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "switchover: 1 project(s) of globex now written in eu-1" in out and "fraud" in out
    assert main([*argv, "--api-key", "not-the-admin-token"]) != 0

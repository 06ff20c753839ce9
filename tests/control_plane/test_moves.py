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
    # the move never asked the lost region; the outbox fences it once it answers (here at once)
    settle(client)
    assert eu.homes == {}
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


def _fence_entries(client) -> list[tuple[str, str, str | None, int]]:
    from sqlalchemy import select

    from control_plane.models import OutboxEntry

    with client.app.state.services.sessions() as session:
        rows = session.execute(
            select(
                OutboxEntry.region, OutboxEntry.action, OutboxEntry.outcome, OutboxEntry.attempts
            ).order_by(OutboxEntry.id)
        ).all()
    return [tuple(r) for r in rows if r[1] == "fence"]


def test_a_failover_fences_the_lost_region_the_moment_it_answers_again(client, clock):
    """The lost region is dark at the failover: its fence waits in the outbox, is tried
    every few seconds for as long as it takes (never marked failed), and unhomes the old
    epoch once the region answers."""
    admin = bearer(make_tenant(client, "acme")["admin_key"]["api_key"])
    fraud = _project(client, admin, "fraud")
    scope = fraud["metadata_scope"]
    local, eu = _regions(client).get("local"), _regions(client).get("eu-1")
    local.home(scope, 0)
    local.reachable = False

    r = client.post(
        "/v1/admin/tenants/acme/failover", json={"from_region": "local", "to_region": "eu-1"}, headers=ADMIN
    )
    assert r.status_code == 200, r.text
    assert eu.homes == {scope: 1}
    for _ in range(30):  # a minute of a dark region: tried every 2 s, still waiting, never failed
        settle(client)
        clock.now += 2
    [(region, _, outcome, attempts)] = _fence_entries(client)
    assert (region, outcome) == ("local", None) and attempts >= 25
    assert local.homes == {scope: 0}  # the region still thinks it writes the project
    listed = {r["name"]: r for r in client.get("/v1/admin/regions", headers=ADMIN).json()}
    assert (listed["local"]["reachable"], listed["local"]["pending_fences"]) == (False, 1)
    assert (listed["eu-1"]["projects"], listed["eu-1"]["pending_fences"]) == (1, 0)
    routing = client.get("/v1/admin/tenants/acme/routing", headers=ADMIN).json()["projects"]
    assert [(p["project"], p["region"], p["epoch"], p["unfenced_regions"]) for p in routing] == [
        ("fraud", "eu-1", 1, ["local"])
    ]
    local.reachable = True
    clock.now += 2
    settle(client)
    assert local.homes == {}
    assert [e[2] for e in _fence_entries(client)] == ["done"]


def test_a_late_fence_leaves_a_region_that_homes_the_project_again_alone(client, clock):
    admin = bearer(make_tenant(client, "acme")["admin_key"]["api_key"])
    scope = _project(client, admin, "fraud")["metadata_scope"]
    local, eu = _regions(client).get("local"), _regions(client).get("eu-1")
    local.home(scope, 0)
    local.reachable = False
    body = {"from_region": "local", "to_region": "eu-1"}
    assert client.post("/v1/admin/tenants/acme/failover", json=body, headers=ADMIN).status_code == 200
    local.reachable = True  # back, and failed over to again before its fence is delivered
    body = {"from_region": "eu-1", "to_region": "local"}
    eu.reachable = False
    assert client.post("/v1/admin/tenants/acme/failover", json=body, headers=ADMIN).status_code == 200
    clock.now += 2
    settle(client)
    assert local.homes == {scope: 2}  # its own fence (epoch 1) did not unhome epoch 2
    eu.reachable = True
    clock.now += 2
    settle(client)
    assert eu.homes == {}


def test_failback_fences_now_or_refuses_while_the_region_is_dark(client):
    admin = bearer(make_tenant(client, "acme")["admin_key"]["api_key"])
    scope = _project(client, admin, "fraud")["metadata_scope"]
    local = _regions(client).get("local")
    local.home(scope, 0)
    local.reachable = False
    body = {"from_region": "local", "to_region": "eu-1"}
    assert client.post("/v1/admin/tenants/acme/failover", json=body, headers=ADMIN).status_code == 200
    settle(client)  # tried once, in vain: not due again before the clock moves

    r = client.post("/v1/admin/regions/local/failback", headers=ADMIN)
    assert r.status_code == 503 and "local" in r.json()["message"]
    assert local.homes == {scope: 0} and [e[2] for e in _fence_entries(client)] == [None]
    local.reachable = True
    r = client.post("/v1/admin/regions/local/failback", headers=ADMIN)
    assert r.status_code == 200, r.text
    [fenced] = r.json()["fenced"]
    assert (
        fenced["project"],
        fenced["tenant"],
        fenced["region"],
        fenced["epoch"],
        fenced["fenced_epoch"],
    ) == (
        "fraud",
        "acme",
        "eu-1",
        1,
        0,
    )
    assert local.homes == {} and [e[2] for e in _fence_entries(client)] == ["done"]
    assert client.post("/v1/admin/regions/local/failback", headers=ADMIN).json()["fenced"] == []
    assert client.post("/v1/admin/regions/mars-1/failback", headers=ADMIN).status_code == 404
    tenant_key = bearer(make_tenant(client, "other")["admin_key"]["api_key"])
    for method, path in (
        ("POST", "/v1/admin/regions/local/failback"),
        ("GET", "/v1/admin/regions"),
        ("GET", "/v1/admin/tenants/acme/routing"),
    ):
        assert client.request(method, path, headers=tenant_key).status_code == 403


def test_the_cli_lists_regions_shows_routing_and_fails_back(live_server, monkeypatch, capsys):
    import httpx

    from granary.cli import main

    with httpx.Client(base_url=live_server.url) as http:
        admin = bearer(make_tenant(http, "initech")["admin_key"]["api_key"])
        assert http.post("/v1/projects", json={"name": "churn"}, headers=admin).status_code == 201
        live_server.settle()
        scope = http.get("/v1/projects/churn", headers=admin).json()["metadata_scope"]
    local = live_server.app.state.services.regions.get("local")
    local.home(scope, 0)
    local.reachable = False
    monkeypatch.setenv("GRANARY_CONTROL_PLANE", live_server.url)
    monkeypatch.setenv("GRANARY_CONTROL_PLANE_KEY", ADMIN["Authorization"].removeprefix("Bearer "))
    try:
        assert main(["region", "failover", "initech", "--from", "local", "--to", "eu-1"]) == 0
        out = " ".join(capsys.readouterr().out.split())
        assert "failover: 1 project(s) of initech now written in eu-1" in out
        assert "fenced the moment it answers again" in out
        live_server.settle()  # tried once, in vain: not due again before the clock moves
        assert main(["region", "list"]) == 0
        out = " ".join(capsys.readouterr().out.split())
        assert "local" in out and "NO" in out and "unreachable" in out
        assert main(["region", "status", "initech"]) == 0
        out = " ".join(capsys.readouterr().out.split())
        assert "churn" in out and "eu-1" in out and "local" in out
        local.reachable = True
        assert main(["region", "failback", "local"]) == 0
        out = " ".join(capsys.readouterr().out.split())
        assert "local: fenced 1 project(s)" in out and "python -m replication catalog failback" in out
        assert local.homes.get(scope) is None
    finally:
        local.reachable = True

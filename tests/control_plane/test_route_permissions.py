"""Every control-plane route declares who may call it, and an API key's scopes bound it.

The walk enumerates ``app.routes`` of the running service, so a route added without an
access declaration fails here; then it calls every tenant route over real HTTP with
narrowly scoped keys of a tenant admin (who owns every project, so only the scopes
narrow) and expects a refusal wherever the scope does not reach. Each test prints how
many attempts it made.
"""

from __future__ import annotations

import re
from collections import Counter

import httpx
import pytest

from tests.control_plane.conftest import add_user, bearer, make_tenant

PASSWORD = "p" * 12
SCOPES = (
    "project:read",
    "feature_groups:write",
    "feature_views:write",
    "training_data:write",
    "models:write",
    "members:manage",
    "keys:manage",
    "project:delete",
)
#: Tenant-wide permissions no scope name carries: only '*' on a key bound to no project.
STAR_ONLY = {"projects:create", "tenant:admin"}


def _tenant(http: httpx.Client, name: str) -> dict:
    return bearer(make_tenant(http, name, projects=5)["admin_key"]["api_key"])


def _key(http: httpx.Client, holder: dict, scopes: list[str], project: str | None = None) -> dict:
    r = http.post("/v1/keys", json={"name": "narrow", "scopes": scopes, "project": project}, headers=holder)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(scope="module")
def world(live_server, smtp_sink):
    """Tenant acme (admin, project 'fraud', user ds@ as its data owner) and tenant globex."""
    http = httpx.Client(base_url=live_server.url, timeout=30)
    admin = _tenant(http, "acme")
    assert http.post("/v1/projects", json={"name": "fraud"}, headers=admin).status_code == 201
    ds_email = "ds@acme.example.com"
    ds = add_user(http, smtp_sink[1], admin, ds_email, PASSWORD)
    r = http.put(f"/v1/projects/fraud/members/{ds_email}", json={"role": "data_owner"}, headers=admin)
    assert r.status_code == 200, r.text
    globex = _tenant(http, "globex")
    assert http.post("/v1/projects", json={"name": "ledger"}, headers=globex).status_code == 201
    yield {
        "http": http,
        "app": live_server.server.config.app,
        "admin": admin,
        "ds": ds,
        "ds_email": ds_email,
        "globex": globex,
    }
    http.close()


def snapshot(w: dict) -> dict:
    """What acme's admin and ds@ can read about acme, to compare before and after attacks."""
    http, admin = w["http"], w["admin"]
    return {
        "projects": http.get("/v1/projects", headers=admin).json(),
        "members": http.get("/v1/projects/fraud/members", headers=admin).json(),
        "users": http.get("/v1/users", headers=admin).json(),
        "admin_keys": http.get("/v1/keys", headers=admin).json(),
        "ds_keys": http.get("/v1/keys", headers=w["ds"]).json(),
    }


def _declared(app) -> list:
    # imported here so that the attacks below also run against a service without it
    from control_plane.api.access import declared_routes

    return declared_routes(app)


def test_every_route_declares_who_may_call_it(world):
    app = world["app"]
    documentation = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    undeclared, rules = [], Counter()
    routes = _declared(app)
    for route in routes:
        if route.access is None:
            assert route.path in documentation, f"{route.path}: a route outside FastAPI's routing"
        elif len(route.access) != 1:
            undeclared.append(f"{sorted(route.methods)} {route.path}: {[a.rule for a in route.access]}")
        else:
            rules[route.access[0].rule] += 1
    print(f"\nroutes: {len(routes)}, by declared rule {dict(sorted(rules.items()))}")
    assert sum(rules.values()) >= 30, "the walk found too few routes to be the whole app"
    assert not undeclared, "routes must declare exactly one access rule:\n" + "\n".join(undeclared)


def _tenant_routes(app) -> list[tuple[str, str, str | None]]:
    """(method, path, permission) of every API route; permission None for token and public ones."""
    from control_plane.api.access import Allow, OnProject

    out = []
    for route in _declared(app):
        if route.access is None:
            continue
        (declared,) = route.access
        permission = declared.permission if isinstance(declared, Allow | OnProject) else None
        out += [(method, route.path, permission) for method in sorted(route.methods)]
    return out


def _allowed(permission: str, scopes: list[str], bound: bool) -> bool:
    """Written out here, independently of the service: the holder is a tenant admin."""
    if permission in STAR_ONLY:
        return "*" in scopes and not bound
    return "*" in scopes or permission in scopes


def _narrow_keys(w: dict) -> list[tuple[str, dict, list[str], bool]]:
    keys = []
    for scope in SCOPES:
        for project in (None, "fraud"):
            created = _key(w["http"], w["admin"], [scope], project)
            keys.append((f"{scope}@{project or 'any'}", bearer(created["api_key"]), [scope], bool(project)))
    created = _key(w["http"], w["admin"], ["*"], "fraud")
    keys.append(("*@fraud", bearer(created["api_key"]), ["*"], True))
    return keys


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def test_narrow_keys_are_refused_wherever_their_scopes_do_not_reach(world):
    http, app = world["http"], world["app"]
    ds_key = _key(http, world["ds"], ["*"])
    keys = _narrow_keys(world)
    before = snapshot(world)
    # real targets: another user's key and member, the tenant's project
    targets = {"name": "fraud", "email": world["ds_email"], "key_id": ds_key["key_id"]}
    counts: Counter[str] = Counter()
    positive: list[tuple[str, str, dict, str]] = []
    for method, path, permission in _tenant_routes(app):
        body = {} if method in ("POST", "PUT", "PATCH") else None
        if permission is None:
            if path.startswith(("/v1/admin", "/v1/internal")):
                for _, key, _, _ in keys:
                    r = http.request(
                        method, _fill(path, {"name": "acme", "region": "local"}), headers=key, json=body
                    )
                    assert r.status_code == 403, (method, path, r.text)
                    counts["token route refused"] += 1
            continue
        for label, key, scopes, bound in keys:
            if _allowed(permission, scopes, bound):
                positive.append((method, path, key, permission))
                continue
            r = http.request(method, _fill(path, targets), headers=key, json=body)
            counts["tenant route refused"] += 1
            assert r.status_code == 403, (label, method, path, r.status_code, r.text)
            assert r.json()["code"] == "permission_denied", (label, method, path, r.text)
            assert f"needs '{permission}'" in r.json()["message"], (label, method, path, r.text)
    assert snapshot(world) == before
    assert http.get("/v1/tenant", headers=bearer(ds_key["api_key"])).status_code == 200  # not revoked

    # where the scope reaches, the permission check lets the call through; harmless
    # targets (unknown key, member, project to delete; empty bodies) keep this read-only
    harmless = {"name": "fraud", "email": "nobody@acme.example.com", "key_id": "000000000000"}
    for method, path, key, permission in positive:
        values = (
            {**harmless, "name": "no-such-project"}
            if (method, path) == ("DELETE", "/v1/projects/{name}")
            else harmless
        )
        r = http.request(
            method, _fill(path, values), headers=key, json={} if method in ("POST", "PUT") else None
        )
        counts["tenant route let through"] += 1
        refused = r.status_code == 403 and f"needs '{permission}'" in r.json().get("message", "")
        assert not refused and r.status_code < 500, (method, path, r.status_code, r.text)
    assert snapshot(world) == before
    print(f"\nnarrow keys: {len(keys)}; attempts by outcome {dict(counts)}")


def test_read_scoped_key_cannot_manage_its_holders_keys(world):
    http, ds = world["http"], world["ds"]
    other = _key(http, ds, ["*"])
    readers = [_key(http, ds, ["project:read"]), _key(http, ds, ["project:read"], "fraud")]
    before = snapshot(world)
    attempts = 0
    for reader in readers:
        key = bearer(reader["api_key"])
        for method, path, body in [
            ("DELETE", f"/v1/keys/{other['key_id']}", None),
            ("DELETE", f"/v1/keys/{reader['key_id']}", None),
            ("POST", "/v1/keys", {"name": "more", "scopes": ["project:read"], "project": "fraud"}),
            ("GET", "/v1/keys", None),
        ]:
            r = http.request(method, path, headers=key, json=body)
            attempts += 1
            assert r.status_code == 403, (reader["scopes"], method, path, r.status_code, r.text)
            assert "needs 'keys:manage'" in r.json()["message"], r.text
    assert snapshot(world) == before
    assert http.get("/v1/tenant", headers=bearer(other["api_key"])).status_code == 200
    print(f"\nread-scoped key management attempts: {attempts}, refused: {attempts}")


def test_tenant_admins_read_only_key_cannot_revoke_other_users_keys(world):
    http, admin, ds = world["http"], world["admin"], world["ds"]
    victims = [_key(http, ds, ["*"]), _key(http, ds, ["*"], "fraud")]
    read_only = [_key(http, admin, ["project:read"]), _key(http, admin, ["project:read"], "fraud")]
    attempts = 0
    for reader in read_only:
        for victim in victims:
            r = http.delete(f"/v1/keys/{victim['key_id']}", headers=bearer(reader["api_key"]))
            attempts += 1
            assert r.status_code == 403 and "needs 'keys:manage'" in r.json()["message"], r.text
    for victim in victims:
        assert http.get("/v1/tenant", headers=bearer(victim["api_key"])).status_code == 200
    # a data owner's keys:manage key reaches only its own keys
    ds_manager = bearer(_key(http, ds, ["keys:manage"])["api_key"])
    admins_own = _key(http, admin, ["project:read"], "fraud")
    r = http.delete(f"/v1/keys/{admins_own['key_id']}", headers=ds_manager)
    attempts += 1
    assert r.status_code == 403 and "belongs to another user" in r.json()["message"], r.text
    # the admin's key scoped to keys:manage may; so may the ds's own
    manager = bearer(_key(http, admin, ["keys:manage"])["api_key"])
    assert http.delete(f"/v1/keys/{victims[0]['key_id']}", headers=manager).status_code == 204
    assert http.delete(f"/v1/keys/{victims[1]['key_id']}", headers=ds_manager).status_code == 204
    for victim in victims:
        assert http.get("/v1/tenant", headers=bearer(victim["api_key"])).status_code == 401
    print(f"\nread-only revocations of other users' keys: {attempts}, refused: {attempts}")


def test_keys_of_one_tenant_cannot_touch_anothers_keys_projects_or_users(world):
    http, globex = world["http"], world["globex"]
    acme_key = _key(http, world["ds"], ["*"], "fraud")
    attackers = {
        "owner": globex,
        "bound": bearer(_key(http, globex, ["*"], "ledger")["api_key"]),
        "keys": bearer(_key(http, globex, ["keys:manage"])["api_key"]),
        "members": bearer(_key(http, globex, ["members:manage"], "ledger")["api_key"]),
    }
    email = world["ds_email"]
    targets = [
        ("DELETE", f"/v1/keys/{acme_key['key_id']}", None),
        ("GET", "/v1/projects/fraud", None),
        ("GET", "/v1/projects/fraud/members", None),
        ("GET", "/v1/projects/fraud/usage", None),
        ("PUT", f"/v1/projects/fraud/members/{email}", {"role": "owner"}),
        ("DELETE", f"/v1/projects/fraud/members/{email}", None),
        ("DELETE", "/v1/projects/fraud", None),
        ("POST", "/v1/keys", {"project": "fraud", "scopes": ["*"]}),
        ("PUT", f"/v1/projects/ledger/members/{email}", {"role": "owner"}),
        ("DELETE", f"/v1/projects/ledger/members/{email}", None),
    ]
    before = snapshot(world)
    statuses: Counter[int] = Counter()
    for name, key in attackers.items():
        for method, path, body in targets:
            r = http.request(method, path, headers=key, json=body)
            statuses[r.status_code] += 1
            assert r.status_code in (403, 404), (name, method, path, r.status_code, r.text)
            assert "acme" not in r.text.replace(email, ""), (name, method, path, r.text)
        for listing in ("/v1/projects", "/v1/users", "/v1/keys"):
            r = http.get(listing, headers=key)
            statuses[r.status_code] += 1
            assert "acme" not in r.text, (name, listing, r.text)
    assert snapshot(world) == before
    assert http.get("/v1/tenant", headers=bearer(acme_key["api_key"])).status_code == 200
    print(f"\ncross-tenant attempts: {sum(statuses.values())} by status {dict(sorted(statuses.items()))}")

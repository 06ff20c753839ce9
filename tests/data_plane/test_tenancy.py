"""Keys and projects, tested from outside: 401 without a known key, 403 across projects.

Every REST route and every Flight command must refuse another project's key, so the
REST check walks the whole OpenAPI spec rather than a hand-picked list.
"""

from __future__ import annotations

import json

import pyarrow.flight as flight
import pytest

from tests.data_plane.conftest import arrow_body, rows


def test_missing_malformed_and_unknown_keys_get_401(data_plane, group):
    import httpx

    path = group.path("feature-groups")
    for headers in ({}, {"authorization": "Bearer nonsense"}, {"authorization": "Bearer gk_000000000000_x"}):
        response = httpx.get(data_plane.api_url + path, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["code"] == "unauthenticated"


def test_revoked_key_gets_401(data_plane):
    import httpx

    project, key = data_plane.new_key()
    url = f"{data_plane.api_url}/api/v1/projects/{project}/feature-groups"
    assert httpx.get(url, headers={"authorization": f"Bearer {key}"}).status_code == 200
    data_plane.region.keys.revoke(key.split("_")[1])
    assert httpx.get(url, headers={"authorization": f"Bearer {key}"}).status_code == 401


def _concrete(path: str) -> str:
    values = {"project": "{project}", "name": "g", "version": "1", "td_version": "1"}
    for key, value in values.items():
        if key != "project":
            path = path.replace("{" + key + "}", value)
    return path


def test_every_project_route_refuses_another_projects_key(data_plane, group, tenants):
    intruder = tenants()
    spec = intruder.http.get("/openapi.json").json()
    checked = 0
    for path, methods in spec["paths"].items():
        if "{project}" not in path:
            continue
        for method in methods:
            url = _concrete(path).replace("{project}", group.project)
            response = intruder.http.request(method.upper(), url, json={})
            # the region's admin API takes the region token alone: any API key is a 401
            status, code = (
                (401, "unauthenticated") if path.startswith("/admin/") else (403, "permission_denied")
            )
            assert response.status_code == status, (method, path, response.text)
            assert response.json()["code"] == code
            checked += 1
    assert checked >= 15
    # and the owner still sees its data untouched
    assert group.http.get(group.path("feature-groups/g")).status_code == 200


def test_cross_project_write_is_refused_and_writes_nothing(group, tenants):
    intruder = tenants()
    url = intruder.path("feature-groups/g/versions/1/rows", project=group.project)
    assert intruder.http.post(url, **arrow_body(rows(5, start=100))).status_code == 403
    commits = group.http.get(group.path("feature-groups/g/versions/1/commits")).json()
    assert len(commits) == 1


def test_same_names_in_two_projects_are_separate(tenants):
    a, b = tenants(), tenants()
    for tenant in (a, b):
        body = {"name": "shared", "version": 1, "primary_key": ["k"], "event_time": "ts"}
        assert tenant.http.post(tenant.path("feature-groups"), json=body).status_code == 201
    a.http.post(a.path("feature-groups/shared/versions/1/rows"), **arrow_body(rows(2)))
    commits_b = b.http.get(b.path("feature-groups/shared/versions/1/commits")).json()
    assert commits_b == []


@pytest.mark.parametrize(
    "command",
    [
        {"kind": "read", "name": "g", "version": 1},
        {"kind": "read_online", "name": "g", "version": 1},
        {"kind": "query", "query": {"fg": {"name": "g", "version": 1}, "features": None, "joins": []}},
        {"kind": "training_splits", "name": "v", "version": 1, "options": {}},
        {"kind": "training_dataset", "name": "v", "version": 1, "td_version": 1},
    ],
)
def test_flight_refuses_other_projects_and_missing_keys(data_plane, group, tenants, command):
    ticket = flight.Ticket(json.dumps({**command, "project": group.project}).encode())
    if command["kind"].startswith("training"):  # the owner hears "not found": there is no view
        with pytest.raises(flight.FlightServerError) as missing:
            group.flight.do_get(ticket, group.options).read_all()
        assert json.loads(missing.value.extra_info)["code"] == "feature_view_not_found"
    else:
        assert group.flight.do_get(ticket, group.options).read_all().num_rows == 3
    intruder = tenants()
    with pytest.raises(flight.FlightUnauthorizedError) as refused:
        intruder.flight.do_get(ticket, intruder.options).read_all()
    assert json.loads(refused.value.extra_info)["code"] == "permission_denied"
    anonymous = flight.FlightClient(data_plane.flight_uri)
    with pytest.raises(flight.FlightUnauthenticatedError):
        anonymous.do_get(ticket).read_all()
    bad = flight.FlightCallOptions(headers=[(b"authorization", b"Bearer gk_000000000000_nope")])
    with pytest.raises(flight.FlightUnauthenticatedError):
        anonymous.do_get(ticket, bad).read_all()
    anonymous.close()


def test_login_with_a_key_for_another_project_is_refused(data_plane):
    import granary
    from granary_core import errors

    _, key = data_plane.new_key()
    with pytest.raises(errors.PermissionDenied, match="not allowed to access project 'someone_else'"):
        granary.login(host=data_plane.api_url, api_key=key, project="someone_else")
    with pytest.raises(errors.Unauthenticated):
        granary.login(host=data_plane.api_url, api_key="gk_000000000000_nope")

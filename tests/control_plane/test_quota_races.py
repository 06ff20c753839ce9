"""Counted quotas hold under concurrent creates: count and create are one step.

Many creates are fired at once over HTTP with few slots left; the number created must
end at exactly the limit, every other request refused with a 403 naming the quota.
Each round prints its counts.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.control_plane.conftest import bearer, make_tenant
from tests.control_plane.test_managed import Managed, managed  # noqa: F401 - the managed stack

ROUNDS = 3
CONCURRENT = 12
SLOTS_LEFT = 5


def _all_at_once(url: str, headers: dict, requests: list[tuple[str, dict]]) -> list[httpx.Response]:
    """Send ``requests`` (path, JSON body) together: each thread waits at a barrier first."""
    barrier = threading.Barrier(len(requests))

    def send(request: tuple[str, dict]) -> httpx.Response:
        path, body = request
        with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            barrier.wait()
            return http.post(path, json=body)

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, requests))


def _check_refusals(responses: list[httpx.Response], quota: str) -> Counter[int]:
    statuses = Counter(r.status_code for r in responses)
    for r in responses:
        if r.status_code != 201:
            assert r.status_code == 403, r.text
            body = r.json()
            assert body["code"] == "quota_exceeded" and body["quota"] == quota, body
            assert f"quota '{quota}' exceeded" in body["message"], body
    return statuses


def test_concurrent_feature_group_creates_stop_at_the_limit(managed: Managed):  # noqa: F811
    limit = 8
    tenant = managed.tenant("race", feature_groups_per_project=limit, projects=ROUNDS)
    for round_ in range(ROUNDS):
        project = managed.project(tenant["admin"], f"race{round_}")
        key = managed.key(tenant["admin"], project["name"])
        path = f"/api/v1/projects/{project['metadata_scope']}/feature-groups"
        with managed.dp(key) as dp:
            for i in range(limit - SLOTS_LEFT):
                r = dp.post(path, json={"name": f"existing{i}", "version": 1, "primary_key": ["id"]})
                assert r.status_code == 201, r.text
        bodies = [{"name": f"g{i}", "version": 1, "primary_key": ["id"]} for i in range(CONCURRENT)]
        responses = _all_at_once(managed.plane.api_url, bearer(key), [(path, b) for b in bodies])
        statuses = _check_refusals(responses, "feature_groups_per_project")
        with managed.dp(key) as dp:
            stored = len(dp.get(path).json())
        print(
            f"\nround {round_}: {CONCURRENT} concurrent creates with {SLOTS_LEFT} of {limit} slots left: "
            f"created {statuses[201]}, refused {statuses[403]}, groups stored {stored}"
        )
        assert stored == limit and statuses == {201: SLOTS_LEFT, 403: CONCURRENT - SLOTS_LEFT}


def test_concurrent_project_creates_stop_at_the_limit(live_server):
    """The control plane's counted quota: the tenant's row is locked for count and insert
    (without that lock this ends at 13 projects of 7). Keys and members have no quotas."""
    http = httpx.Client(base_url=live_server.url, timeout=60)
    limit = 7
    for round_ in range(ROUNDS):
        tenant = make_tenant(http, f"prace{round_}-{secrets.token_hex(3)}", projects=limit)
        admin = bearer(tenant["admin_key"]["api_key"])
        for i in range(limit - SLOTS_LEFT):
            assert http.post("/v1/projects", json={"name": f"existing{i}"}, headers=admin).status_code == 201
        responses = _all_at_once(
            live_server.url, admin, [("/v1/projects", {"name": f"p{i}"}) for i in range(CONCURRENT)]
        )
        statuses = _check_refusals(responses, "projects")
        stored = len(http.get("/v1/projects", headers=admin).json())
        print(
            f"\nround {round_}: {CONCURRENT} concurrent project creates with {SLOTS_LEFT} of {limit} slots "
            f"left: created {statuses[201]}, refused {statuses[403]}, projects stored {stored}"
        )
        assert stored == limit and statuses == {201: SLOTS_LEFT, 403: CONCURRENT - SLOTS_LEFT}
    http.close()

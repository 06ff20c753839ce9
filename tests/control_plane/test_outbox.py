"""Provisioning and deletion go through the region outbox: a dark region holds nothing.

The region is a real data plane (its admin API) behind a switch (``Darkened``): dark,
the control plane's requests to it hang (a region that accepts and never answers) or
are refused (a region that is down). Projects are created and deleted over HTTP
against a live control plane; what the region holds is asked of the region itself.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from control_plane.regions import AdminApiRegion, Regions
from control_plane.settings import ControlPlaneSettings
from tests.control_plane.conftest import Clock, LiveServer, bearer, make_tenant, with_region
from tests.transports import Darkened

#: Longest a request may take while the region is dark, in seconds (a generous bound:
#: the same requests take milliseconds; a held tenant lock would take the region's 60 s).
PROMPT = 5.0


def behind(switch: Darkened, settings: ControlPlaneSettings) -> Regions:
    return Regions(
        {name: AdminApiRegion(name, cfg, transport=switch) for name, cfg in settings.regions.items()}
    )


def timed(call, *args, **kwargs) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call(*args, **kwargs)
    return response, time.monotonic() - started


def wait_until(predicate, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"not within {seconds}s: {what}"
        time.sleep(0.02)


@pytest.fixture
def settings(cp_settings, admin_plane) -> ControlPlaneSettings:
    return with_region(cp_settings, admin_plane, timeout_seconds=90)


def test_a_hanging_region_blocks_neither_the_create_nor_other_writes_of_the_tenant(settings, admin_plane):
    switch = Darkened()
    switch.darken(hang=True)
    with (
        LiveServer(settings, regions=behind(switch, settings)) as cp,
        httpx.Client(base_url=cp.url, timeout=120) as http,
    ):
        acme = bearer(make_tenant(http, "acme", projects=5)["admin_key"]["api_key"])
        r, took = timed(http.post, "/v1/projects", json={"name": "fraud"}, headers=acme)
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "provisioning" and took < PROMPT, (r.json(), took)
        wait_until(lambda: switch.waiting >= 1, "the dispatcher is waiting on the dark region")

        # while the region holds the dispatcher, the tenant's other writes go through
        with ThreadPoolExecutor(2) as pool:
            key = pool.submit(
                timed, http.post, "/v1/keys", json={"name": "nb", "project": "fraud"}, headers=acme
            )
            churn = pool.submit(timed, http.post, "/v1/projects", json={"name": "churn"}, headers=acme)
            (key_r, key_took), (churn_r, churn_took) = key.result(), churn.result()
        print(
            f"\ndark region: create {took:.3f}s, key {key_took:.3f}s, second create {churn_took:.3f}s; "
            f"attempts waiting={switch.waiting} passed={switch.passed}"
        )
        assert key_r.status_code == 201 and key_took < PROMPT, (key_r.text, key_took)
        assert churn_r.status_code == 201 and churn_took < PROMPT, (churn_r.text, churn_took)
        assert http.get("/v1/projects/fraud", headers=acme).json()["status"] == "provisioning"

        switch.light()
        cp.settle()
        ns = admin_plane.settings.namespace
        for name in ("fraud", "churn"):
            p = http.get(f"/v1/projects/{name}", headers=acme).json()
            assert p["status"] == "ready" and p["last_error"] is None, p
            assert p["redis_key_prefix"] == f"{ns}.{p['id']}:", p  # as the region named it
        region = AdminApiRegion("local", settings.regions["local"])
        assert region.usage(p["metadata_scope"])["feature_groups"] == 0  # it exists there
        region.close()


def test_no_promise_is_lost_across_a_restart_while_the_region_is_down(settings, admin_plane):
    switch = Darkened()
    with (
        LiveServer(settings, regions=behind(switch, settings)) as cp,
        httpx.Client(base_url=cp.url, timeout=60) as http,
    ):
        acme = bearer(make_tenant(http, "acme", projects=5)["admin_key"]["api_key"])
        assert http.post("/v1/projects", json={"name": "fraud"}, headers=acme).status_code == 201
        cp.settle()
        doomed = http.get("/v1/projects/fraud", headers=acme).json()
        assert doomed["status"] == "ready"

        switch.darken(hang=False)  # the region is down: its port refuses
        r, took = timed(http.delete, "/v1/projects/fraud", headers=acme)
        assert r.status_code == 202 and r.json()["status"] == "deleting" and took < PROMPT, (r.text, took)
        r, took = timed(http.post, "/v1/projects", json={"name": "churn"}, headers=acme)
        assert r.status_code == 201 and took < PROMPT, (r.text, took)
        cp.settle()  # one attempt each, refused: both wait for their retry
        for name, status in (("fraud", "deleting"), ("churn", "provisioning")):
            p = http.get(f"/v1/projects/{name}", headers=acme).json()
            assert p["status"] == status and "region 'local'" in p["last_error"], p
        refused = switch.refused

    # a new process, an hour later, with the region back: it finishes both
    switch.light()
    later = Clock(Clock().now + 3600)
    with (
        LiveServer(settings, clock=later, regions=behind(switch, settings)) as cp,
        httpx.Client(base_url=cp.url, timeout=60) as http,
    ):
        cp.settle()
        print(f"\nregion down across a restart: refused={refused} passed={switch.passed}")
        assert http.get("/v1/projects/fraud", headers=acme).status_code == 404
        churn = http.get("/v1/projects/churn", headers=acme).json()
        assert churn["status"] == "ready", churn
    region = AdminApiRegion("local", settings.regions["local"])
    assert region.residue(doomed["metadata_scope"]).empty()
    region.close()


def test_a_region_that_keeps_refusing_fails_the_project_and_delete_finishes_it(settings):
    switch = Darkened()
    switch.darken(hang=False)
    settings = settings.model_copy(update={"outbox_max_attempts": 2})
    clock = Clock()
    with (
        LiveServer(settings, clock=clock, regions=behind(switch, settings)) as cp,
        httpx.Client(base_url=cp.url, timeout=60) as http,
    ):
        acme = bearer(make_tenant(http, "acme", projects=5)["admin_key"]["api_key"])
        assert http.post("/v1/projects", json={"name": "fraud"}, headers=acme).status_code == 201
        cp.settle()
        clock.advance(3600)
        cp.settle()
        p = http.get("/v1/projects/fraud", headers=acme).json()
        print(f"\nrefusing region: refused={switch.refused}")
        assert p["status"] == "failed" and "unreachable" in p["last_error"], p

        switch.light()
        r = http.delete("/v1/projects/fraud", headers=acme)
        assert r.status_code == 202 and r.json()["status"] == "deleting", r.text
        cp.settle()
        assert http.get("/v1/projects/fraud", headers=acme).status_code == 404

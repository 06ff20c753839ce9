"""The data plane's client of the control plane tries again after a dropped connection.

Key checks sit on every data plane request: one refused connection (a control plane
worker restarting, a load balancer dropping a socket) must not turn into a 503 for
the user, while a real refusal (a bad key) is answered at once, not retried.
"""

from __future__ import annotations

import secrets

import httpx
import pytest

from granary_core.errors import BackendUnavailable, QuotaExceeded, Unauthenticated
from tenancy.control_plane_client import ControlPlaneClient
from tests.control_plane.conftest import REGION_TOKEN, bearer, make_tenant
from tests.transports import DropFirstConnections


@pytest.fixture
def tenant_key(live_server):
    with httpx.Client(base_url=live_server.url) as http:
        tenant = make_tenant(http, f"retry-{secrets.token_hex(4)}")
        key = tenant["admin_key"]["api_key"]
        project = http.post("/v1/projects", json={"name": "fraud"}, headers=bearer(key)).json()
    live_server.settle()  # keys reach a project once its region made it
    return key, project["metadata_scope"]


def _client(live_server, transport) -> ControlPlaneClient:
    return ControlPlaneClient(live_server.url, REGION_TOKEN, cache_seconds=0, transport=transport)


def test_a_key_check_survives_two_dropped_connections(live_server, tenant_key):
    key, project = tenant_key
    transport = DropFirstConnections(failures=2)
    client = _client(live_server, transport)
    principal = client.authenticate(key, project)
    client.close()
    print(f"attempts={transport.requests} dropped={transport.failures}")
    assert principal.project == project and transport.requests == 3


def test_a_control_plane_that_stays_unreachable_is_backend_unavailable(live_server, tenant_key):
    key, project = tenant_key
    transport = DropFirstConnections(failures=100)
    client = _client(live_server, transport)
    with pytest.raises(BackendUnavailable, match="unreachable"):
        client.authenticate(key, project)
    client.close()
    print(f"attempts={transport.requests}")
    assert transport.requests == 3


def test_a_refused_key_is_not_retried(live_server):
    transport = DropFirstConnections(failures=0)
    client = _client(live_server, transport)
    with pytest.raises(Unauthenticated):
        client.authenticate("gk_not-a-key", None)
    client.close()
    assert transport.requests == 1


def test_keys_checked_before_the_control_plane_went_dark_are_served_within_the_stale_bound(
    live_server, tenant_key
):
    """The control plane goes dark: a key it accepted lately keeps working (on its last
    answer) for ``stale_seconds``, and the control plane is not asked on every request
    meanwhile; a key never seen gets 503; when it answers again a revoked key is refused
    at once and its old answer forgotten."""
    from tests.control_plane.conftest import Clock
    from tests.transports import Darkened

    key, project = tenant_key
    other = another_tenant_key(live_server)
    switch, clock = Darkened(), Clock()
    client = ControlPlaneClient(
        live_server.url, REGION_TOKEN, cache_seconds=5, stale_seconds=900, transport=switch, clock=clock
    )
    assert client.authenticate(key, project).project == project
    switch.darken(hang=False)
    for step in (6, 100, 300, 480):  # past the cache, up to 886 s after the last answer
        clock.now += step
        assert client.authenticate(key, project).project == project
    asked = switch.refused
    assert 1 <= asked <= 4 * 3  # one check (three tries) per cache period at most, not per request
    for _ in range(20):
        client.authenticate(key, project)
    assert switch.refused == asked
    with pytest.raises(BackendUnavailable, match="unreachable"):
        client.authenticate(other, None)  # never seen here
    clock.now += 20  # 906 s: older than the bound
    with pytest.raises(BackendUnavailable, match="unreachable"):
        client.authenticate(key, project)

    switch.light()
    assert client.authenticate(key, project).project == project
    with httpx.Client(base_url=live_server.url) as http:
        key_id = client.authenticate(key, project).key_id
        assert http.delete(f"/v1/keys/{key_id}", headers=bearer(key)).status_code == 204
    clock.now += 6
    with pytest.raises(Unauthenticated):
        client.authenticate(key, project)
    switch.darken(hang=False)
    clock.now += 6
    with pytest.raises(BackendUnavailable):  # the refusal dropped the old answer: nothing to serve
        client.authenticate(key, project)
    client.close()


def another_tenant_key(live_server) -> str:
    with httpx.Client(base_url=live_server.url) as http:
        return make_tenant(http, f"stale-{secrets.token_hex(4)}")["admin_key"]["api_key"]


def test_size_quotas_that_passed_lately_let_writes_through_while_the_control_plane_is_dark(
    live_server, tenant_key
):
    from tests.control_plane.conftest import Clock
    from tests.transports import Darkened

    key, project = tenant_key
    switch, clock = Darkened(), Clock()
    client = ControlPlaneClient(
        live_server.url, REGION_TOKEN, cache_seconds=5, stale_seconds=900, transport=switch, clock=clock
    )
    project_id = client.authenticate(key, project).project_id
    client.check_quota(project_id, "offline_bytes", 1000)
    switch.darken(hang=False)
    clock.now += 600
    client.check_quota(project_id, "offline_bytes", 1000)  # passed 600 s ago: through
    with pytest.raises(BackendUnavailable):
        client.check_quota(project_id, "online_rows", 10)  # never checked here
    clock.now += 301
    with pytest.raises(BackendUnavailable):
        client.check_quota(project_id, "offline_bytes", 1000)  # older than the bound
    switch.light()
    with pytest.raises(QuotaExceeded):  # answered again: over the plan is refused at once
        client.check_quota(project_id, "offline_bytes", 10**15)
    switch.darken(hang=False)
    clock.now += 6
    with pytest.raises(BackendUnavailable):  # the refusal dropped the earlier pass
        client.check_quota(project_id, "offline_bytes", 1000)
    client.close()

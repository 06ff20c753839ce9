"""The data plane's client of the control plane tries again after a dropped connection.

Key checks sit on every data plane request: one refused connection (a control plane
worker restarting, a load balancer dropping a socket) must not turn into a 503 for
the user, while a real refusal (a bad key) is answered at once, not retried.
"""

from __future__ import annotations

import secrets

import httpx
import pytest

from granary_core.errors import BackendUnavailable, Unauthenticated
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

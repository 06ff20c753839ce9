"""The SDK's remote backend sends a call again while no connection can be made.

A data plane restarting behind a load balancer refuses connections for a moment;
nothing reached it, so the SDK tries again briefly instead of failing the notebook.
"""

from __future__ import annotations

import pytest

from granary.remote import RemoteBackend
from granary_core.errors import BackendUnavailable
from tests.transports import DropFirstConnections


def test_login_and_writes_survive_refused_connections(data_plane):
    project, key = data_plane.new_key()
    transport = DropFirstConnections(failures=3)
    backend = RemoteBackend(data_plane.api_url, key, transport=transport)
    assert backend.project_name == project
    transport.failures = transport.requests + 2  # the next call's first two connections too
    group = backend.create_feature_group(
        name="g", version=1, primary_key=["k"], event_time="ts", online_enabled=False
    )
    backend.close()
    print(f"attempts={transport.requests} refused=5")
    assert group.name == "g" and transport.requests == 7


def test_a_data_plane_that_stays_unreachable_is_backend_unavailable(data_plane):
    _, key = data_plane.new_key()
    transport = DropFirstConnections(failures=100)
    with pytest.raises(BackendUnavailable, match="cannot reach"):
        RemoteBackend(data_plane.api_url, key, transport=transport)
    print(f"attempts={transport.requests}")
    assert transport.requests == 4

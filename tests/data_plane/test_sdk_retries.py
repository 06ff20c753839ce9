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


def test_a_flight_read_whose_region_cannot_be_reached_follows_the_project(data_plane):
    """Offline reads come over Arrow Flight from the project's region: when that region's
    Flight server cannot be reached (it went dark; a failover moved the project), the
    read asks where the project is now and is sent there, as REST calls are."""
    import pandas as pd
    import pyarrow.flight as flight

    from granary.project import Project
    from granary.remote import Route
    from tests.remote_stack import free_port

    project, key = data_plane.new_key()
    asked = []

    def route() -> Route:
        asked.append(True)
        return Route(data_plane.api_url, project, 1)

    backend = RemoteBackend(data_plane.api_url, key, project, reroute=route)
    fg = Project(backend).get_feature_store().create_feature_group("f", version=1, primary_key=["k"])
    fg.insert(pd.DataFrame({"k": [1, 2], "v": [1.0, 2.0]}), wait=True)
    dark = f"grpc://127.0.0.1:{free_port()}"  # the old region's Flight server, gone
    backend._flight, backend.flight_uri = flight.FlightClient(dark), dark
    rows = fg.read()
    backend.close()
    assert asked and sorted(rows["k"]) == [1, 2]
    assert backend.flight_uri != dark

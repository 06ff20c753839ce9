"""Fixtures for testing the data plane services from the outside (HTTP and Flight)."""

from __future__ import annotations

import datetime as dt

import httpx
import pandas as pd
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from granary_core.wire import ARROW_STREAM, table_to_ipc
from tests.remote_stack import start_data_plane

#: The region token of the data plane :func:`plane` starts: its admin API takes it.
REGION_TOKEN = "data-plane-tests-region-token-0123"


@pytest.fixture(scope="module")
def plane(region_env):
    """A data plane of the test region, named as ``ops/region up`` names it, with its
    admin API open to :data:`REGION_TOKEN`; one per test module."""
    started = start_data_plane(region_env, region=region_env["GRANARY_REGION"], region_token=REGION_TOKEN)
    yield started
    started.stop()


class Tenant:
    """One project and its key, speaking raw HTTP and Flight to the services."""

    def __init__(self, plane, project: str, key: str) -> None:
        self.project, self.key = project, key
        self.http = httpx.Client(base_url=plane.api_url, headers={"authorization": f"Bearer {key}"})
        self.flight = flight.FlightClient(plane.flight_uri)
        self.options = flight.FlightCallOptions(headers=[(b"authorization", f"Bearer {key}".encode())])

    def path(self, rest: str, project: str | None = None) -> str:
        return f"/api/v1/projects/{project or self.project}/{rest}"

    def close(self) -> None:
        self.http.close()
        self.flight.close()


def arrow_body(table: pa.Table) -> dict:
    return {"content": table_to_ipc(table), "headers": {"content-type": ARROW_STREAM}}


def ticket(project: str, kind: str, **fields) -> flight.Ticket:
    import json

    return flight.Ticket(json.dumps({"kind": kind, "project": project, **fields}).encode())


def rows(n: int = 3, start: int = 0) -> pa.Table:
    return pa.Table.from_pandas(
        pd.DataFrame(
            {
                "k": list(range(start, start + n)),
                "ts": pd.to_datetime([dt.datetime(2025, 1, 1)] * n, utc=True),
                "v": [float(i) for i in range(start, start + n)],
            }
        ),
        preserve_index=False,
    )


@pytest.fixture
def tenants(data_plane):
    made = []

    def make() -> Tenant:
        project, key = data_plane.new_key()
        tenant = Tenant(data_plane, project, key)
        made.append(tenant)
        return tenant

    yield make
    for tenant in made:
        tenant.close()


@pytest.fixture
def group(tenants):
    """A tenant with an online-enabled group 'g' v1 holding three rows."""
    tenant = tenants()
    created = tenant.http.post(
        tenant.path("feature-groups"),
        json={"name": "g", "version": 1, "primary_key": ["k"], "event_time": "ts", "online_enabled": True},
    )
    assert created.status_code == 201, created.text
    inserted = tenant.http.post(tenant.path("feature-groups/g/versions/1/rows"), **arrow_body(rows()))
    assert inserted.status_code == 200, inserted.text
    return tenant

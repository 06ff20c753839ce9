"""The API contract: the checked-in OpenAPI spec, no 5xx under generated input, and
the operational endpoints (/health per dependency, /metrics)."""

from __future__ import annotations

import collections

import httpx
import pyarrow as pa
import pyarrow.tests.strategies as pst
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_plane.api.openapi import SPEC_PATH, current_spec
from granary_core.wire import ARROW_STREAM
from tenancy.openapi_spec import render
from tests.data_plane.conftest import arrow_body, rows
from tests.test_arrow_types import GENERATED_TYPES


def test_checked_in_openapi_spec_matches_the_code():
    assert SPEC_PATH.read_text() == render(current_spec()), (
        "the REST API changed: regenerate the spec with `python -m data_plane.api.openapi` and review it"
    )


def test_spec_is_served(data_plane):
    served = httpx.get(f"{data_plane.api_url}/openapi.json").json()
    assert served["paths"].keys() == current_spec()["paths"].keys()


@schemathesis.serializer(ARROW_STREAM)
def _arrow_bytes(ctx, value):
    """Generated bodies for Arrow endpoints are arbitrary bytes: the server must say 400."""
    return value if isinstance(value, bytes) else str(value).encode()


@pytest.fixture(scope="module")
def fuzz_target(data_plane):
    project, key = data_plane.new_key()
    client = httpx.Client(base_url=data_plane.api_url, headers={"authorization": f"Bearer {key}"})
    body = {"name": "g", "version": 1, "primary_key": ["k"], "event_time": "ts", "online_enabled": True}
    assert client.post(f"/api/v1/projects/{project}/feature-groups", json=body).status_code == 201
    url = f"/api/v1/projects/{project}/feature-groups/g/versions/1/rows"
    assert client.post(url, **arrow_body(rows())).status_code == 200
    client.close()
    return data_plane, project, key


@pytest.mark.slow
def test_generated_requests_never_get_a_5xx(fuzz_target):
    """Schemathesis cases for every operation (20 each), sent with a valid key.

    Driven through hypothesis directly: schemathesis' pytest plugin does not load
    under this pytest version.
    """
    data_plane, project, key = fuzz_target
    schema = schemathesis.openapi.from_url(f"{data_plane.api_url}/openapi.json")
    failures: list[str] = []
    operations = calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def check(case) -> None:
            if "project" in (case.path_parameters or {}):
                # our own project, so requests get past the tenant check into the handlers
                case.path_parameters["project"] = project
            nonlocal calls
            calls += 1
            response = case.call(base_url=data_plane.api_url, headers={"authorization": f"Bearer {key}"})
            if response.status_code >= 500:
                text = response.text[:300]
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} {text}")

        check()
    assert operations >= 17
    assert calls >= 5 * operations, f"only {calls} generated requests"
    assert not failures, "\n".join(failures[:20])


@pytest.mark.slow
def test_generated_arrow_inserts_never_get_a_5xx_and_a_refusal_stores_nothing(tenants):
    """Generated Arrow columns (pyarrow's hypothesis strategies, as in tests/test_arrow_types.py)
    inserted beside the keys into a fresh group each: stored (2xx) or refused (4xx) with
    the group left without schema or commits, never a 5xx."""
    tenant = tenants()
    outcomes: collections.Counter[int] = collections.Counter()

    @given(columns=st.lists(pst.arrays(GENERATED_TYPES, size=3), min_size=1, max_size=3))
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def check(columns: list[pa.Array]) -> None:
        name = f"gen{sum(outcomes.values())}"
        group = {"name": name, "version": 1, "primary_key": ["k"], "event_time": "ts", "online_enabled": True}
        assert tenant.http.post(tenant.path("feature-groups"), json=group).status_code == 201
        table = rows()
        for i, column in enumerate(columns):
            table = table.append_column(f"x{i}", column)
        response = tenant.http.post(
            tenant.path(f"feature-groups/{name}/versions/1/rows"), **arrow_body(table)
        )
        outcomes[response.status_code] += 1
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            stored = tenant.http.get(tenant.path(f"feature-groups/{name}")).json()
            commits = tenant.http.get(tenant.path(f"feature-groups/{name}/versions/1/commits")).json()
            assert (stored["features"], commits) == ([], []), response.text

    check()
    print(f"attempts={sum(outcomes.values())} outcomes={dict(outcomes)}")
    assert outcomes[200] and outcomes[400]


def test_health_reports_every_dependency(data_plane):
    body = httpx.get(f"{data_plane.api_url}/health").json()
    assert body["status"] == "ok"
    assert set(body["dependencies"]) == {"postgres", "kafka", "s3", "redis"}
    assert all(d["status"] == "up" for d in body["dependencies"].values())


def test_health_paths_are_the_control_planes_too(data_plane):
    """``/healthz`` (the process answers) and ``/health`` (per dependency), as on the control plane."""
    assert httpx.get(f"{data_plane.api_url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{data_plane.api_url}/health").status_code == 200


def test_metrics_expose_latency_histograms_and_lags(data_plane, group):
    text = httpx.get(f"{data_plane.api_url}/metrics").text
    assert "granary_http_request_duration_seconds_bucket" in text
    assert '/projects/{project}/feature-groups/{name}/versions/{version}/rows"' in text
    assert "granary_materialization_lag_seconds_bucket" in text
    assert "granary_consumer_lag_records" in text

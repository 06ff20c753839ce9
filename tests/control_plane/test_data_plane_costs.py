"""What one tenant's requests may cost the shared data plane, attacked from outside.

A tenant of the managed service (control plane + data plane on the real test region)
reads online rows by every route and sends costly queries (many joins, big specs, big
spines, heavy work) over HTTP, Arrow Flight and the SDK. Each refusal must name the
limit, its value and what the request came to, and happen before the work. Every test
prints how many attempts it made.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import granary
from data_plane.flight.commands import COMMANDS, READS_ONLINE_ROWS
from granary_core import errors
from tests.control_plane.conftest import ADMIN
from tests.control_plane.test_managed import Managed, _frame, _group, managed_service


@pytest.fixture(scope="module")
def managed(region_env, cp_postgres, cp_template, cp_redis, smtp_sink):
    with managed_service(region_env, cp_postgres, cp_template, cp_redis, smtp_sink) as service:
        yield service


def _login(managed: Managed, name: str, **quotas) -> tuple[dict, str, Any]:
    tenant = managed.tenant(name, ingestion_rows_per_second=1_000_000, **quotas)
    managed.project(tenant["admin"])
    key = managed.key(tenant["admin"], "fraud")
    return tenant, key, granary.login(host=managed.plane.api_url, api_key=key)


def _flight(managed: Managed, key: str) -> tuple[flight.FlightClient, flight.FlightCallOptions]:
    options = flight.FlightCallOptions(headers=[(b"authorization", f"Bearer {key}".encode())], timeout=120)
    return flight.FlightClient(managed.plane.flight_uri), options


def _ticket(project: str, kind: str, **fields) -> flight.Ticket:
    return flight.Ticket(json.dumps({"kind": kind, "project": project, **fields}).encode())


def _flight_body(exc_info) -> dict:
    return json.loads(exc_info.value.extra_info)


def _metered(managed: Managed, tenant: dict) -> dict:
    r = managed.http.get(f"/v1/admin/tenants/{tenant['name']}/usage", headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()["projects"][0]["metered"]


def _limit(body: dict, quota: str, limit: float) -> None:
    assert body["code"] in ("limit_exceeded", "time_limit_exceeded"), body
    assert body["quota"] == quota and body["limit"] == limit, body
    assert body["current"] > limit, body
    assert quota in body["message"], body


# 7. one online read rate, whatever the route ------------------------------------------
def test_every_route_to_online_rows_is_metered_by_one_bucket(managed):
    """Flight ``read_online`` is charged the rows it returns from the same bucket as REST
    vectors, and refused like them (``rate_limit_exceeded``, the SDK's RateLimitExceeded)."""
    tenant, key, project = _login(managed, "rho", online_reads_per_second=1)
    fs = project.get_feature_store()
    cards = _group(fs)
    cards.insert(_frame(20))
    view = fs.create_feature_view("v", version=1, query=cards.select_all())
    view.init_serving()
    client, options = _flight(managed, key)
    attempts = refused = 0

    # 1 row/s with a burst of 1: a full bucket lets one read of 20 rows through and
    # leaves it 19 rows (19 s) in debt, metered as 20 rows read
    assert len(cards.read(online=True)) == 20
    attempts += 1
    assert _metered(managed, tenant).get("online_reads_per_second") == 20

    # the same bucket now refuses REST vectors, both the fast path and the route
    with pytest.raises(errors.RateLimitExceeded) as info:
        view.get_feature_vectors([{"card_id": 1}])
    attempts, refused = attempts + 1, refused + 1
    assert info.value.quota == "online_reads_per_second"
    r = managed.dp(key).post(
        f"/api/v1/projects/{project.name}/feature-views/v/versions/1/vectors",
        json={"entries": [{"card_id": 1}]},
        headers={"content-type": "application/json"},
    )
    attempts, refused = attempts + 1, refused + (r.status_code == 429)
    assert r.status_code == 429 and r.json()["code"] == "rate_limit_exceeded", r.text

    # and every Flight command that reads online rows
    assert READS_ONLINE_ROWS and set(COMMANDS) >= READS_ONLINE_ROWS
    for kind in sorted(READS_ONLINE_ROWS):
        with pytest.raises(flight.FlightError) as flight_info:
            client.do_get(_ticket(project.name, kind, name="cards", version=1), options).read_all()
        attempts, refused = attempts + 1, refused + 1
        body = _flight_body(flight_info)
        assert body["code"] == "rate_limit_exceeded" and body["quota"] == "online_reads_per_second", body
    with pytest.raises(errors.RateLimitExceeded):  # the SDK maps it to REST's class
        cards.read(online=True)
    attempts, refused = attempts + 1, refused + 1
    assert _metered(managed, tenant).get("online_reads_per_second") == 20  # refusals took nothing
    client.close()
    print(f"\nonline reads: attempts={attempts} refused={refused} (kinds: {sorted(READS_ONLINE_ROWS)})")


# 8. cost limits -------------------------------------------------------------------------
def _joined(ref: dict, joins: int) -> dict:
    """A query of ``joins`` joins of a group with itself (as the attacker sent)."""
    join = {"query": {"fg": ref, "features": ["amount"]}, "on": ["card_id"]}
    return {
        "fg": ref,
        "features": None,
        "joins": [{**join, "prefix": f"j{i}_"} for i in range(joins)],
    }


def test_joins_and_spec_size_are_refused_before_planning(managed):
    _, key, project = _login(managed, "sigma", max_joins_per_query=8, max_spec_bytes=256 * 1024)
    fs = project.get_feature_store()
    cards = _group(fs, online=False)
    cards.insert(_frame(3))
    ref = {"name": "cards", "version": 1}
    dp = managed.dp(key)
    client, options = _flight(managed, key)
    attempts = 0

    # 9 joins over every route: SDK query (Flight), query SQL and feature view (REST)
    nine = cards.select_all()
    for i in range(9):
        nine = nine.join(cards.select(["amount"]), on=["card_id"], prefix=f"j{i}_")
    with pytest.raises(errors.LimitExceeded) as info:
        nine.read()
    attempts += 1
    _limit(info.value.to_dict(), "max_joins_per_query", 8)
    assert info.value.current == 9
    with pytest.raises(errors.LimitExceeded):
        fs.create_feature_view("nine", version=1, query=nine)
    attempts += 1
    assert fs.get_feature_views() == []  # nothing stored
    eight = cards.select_all()
    for i in range(8):
        eight = eight.join(cards.select(["amount"]), on=["card_id"], prefix=f"j{i}_")
    assert len(eight.read()) == 3  # at the limit is allowed

    # 1,500 joins (the attack): refused at once, naming the count; 10,000: by size first
    for joins, quota in [(1_500, "max_joins_per_query"), (10_000, "max_spec_bytes")]:
        spec = _joined(ref, joins)
        r = dp.post(f"/api/v1/projects/{project.name}/queries/sql", json={"query": spec})
        attempts += 1
        assert r.status_code == 422, r.text
        _limit(r.json(), quota, 8 if quota == "max_joins_per_query" else 256 * 1024)
        r = dp.post(
            f"/api/v1/projects/{project.name}/feature-views",
            json={"name": "attack", "version": 1, "query": spec},
        )
        attempts += 1
        assert r.status_code == 422 and r.json()["quota"] == quota, r.text
        with pytest.raises(flight.FlightError) as flight_info:
            client.do_get(_ticket(project.name, "query", query=spec), options).read_all()
        attempts += 1
        _limit(_flight_body(flight_info), quota, 8 if quota == "max_joins_per_query" else 256 * 1024)
    client.close()
    print(f"\nquery cost: attempts={attempts} refused={attempts}")


def test_an_oversize_spine_is_refused_as_it_arrives(managed):
    """The server counts the spine's bytes batch by batch and stops reading at the cap:
    what it reports having read is the cap plus at most one batch, not the upload."""
    cap = 1024 * 1024
    _, key, project = _login(managed, "tau", max_spine_bytes=cap, max_spine_rows=50_000)
    fs = project.get_feature_store()
    cards = _group(fs, online=False)
    cards.insert(_frame(3))
    view = fs.create_feature_view("v", version=1, query=cards.select_all())
    client, options = _flight(managed, key)
    attempts = 0

    # 64 batches of 1,024 rows (~68 KiB each, a note per row): 4.3 MiB offered, 1 MiB allowed
    batch_rows, batches = 1024, 64
    schema = pa.schema([("card_id", pa.int64()), ("ts", pa.timestamp("us", tz="UTC")), ("note", pa.string())])
    batch = pa.record_batch(
        [
            pa.array(range(batch_rows), pa.int64()),
            pa.array([0] * batch_rows, pa.timestamp("us", tz="UTC")),
            pa.array(["x" * 48] * batch_rows),
        ],
        schema=schema,
    )
    command = json.dumps({"kind": "query", "project": project.name, "query": view.query.to_dict()})
    writer, reader = client.do_exchange(flight.FlightDescriptor.for_command(command.encode()), options)
    sent = 0
    try:
        writer.begin(schema)
        for _ in range(batches):
            writer.write_batch(batch)
            sent += 1
        writer.done_writing()
    except (flight.FlightError, pa.ArrowException):
        pass  # the server stopped reading
    with pytest.raises(flight.FlightError) as flight_info:
        reader.read_all()
    attempts += 1
    body = _flight_body(flight_info)
    _limit(body, "max_spine_bytes", cap)
    assert body["current"] <= cap + batch.nbytes, body  # stopped at the cap: never held the rest
    with pytest.raises(flight.FlightError):  # closing reports the same refusal
        writer.close()

    # over the SDK (Flight DoExchange) and REST (training data with a spine): rows too
    spine = pd.DataFrame({"card_id": range(60_000), "ts": pd.Timestamp("2026-01-02", tz="UTC")})
    with pytest.raises(errors.LimitExceeded) as info:
        view.get_batch_data(spine=spine)
    attempts += 1
    _limit(info.value.to_dict(), "max_spine_rows", 50_000)
    with pytest.raises(errors.LimitExceeded) as info:
        view.create_training_data(spine=spine)
    attempts += 1
    _limit(info.value.to_dict(), "max_spine_rows", 50_000)
    assert view.get_training_datasets() == []
    client.close()
    print(
        f"\nspine: attempts={attempts} refused={attempts}; raw upload refused after {sent} of "
        f"{batches} batches were written, server read {body['current']} of {batches * batch.nbytes} bytes"
    )


def _heavy(fs) -> tuple[object, dict]:
    """Two groups whose join key is one value in every row: 20,000 x 20,000 pairs for
    DuckDB to test against a filter no pair passes. Minutes of work, no rows out."""
    groups = []
    for name in ("left_side", "right_side"):
        fg = fs.create_feature_group(name, version=1, primary_key=["id"])
        fg.insert(pd.DataFrame({"id": range(20_000), "c": 0, "v": 1.0}))
        groups.append(fg)
    left, right = groups
    query = left.select_all().join(right.select(["c", "v"]), left_on=["c"], right_on=["c"], prefix="r_")
    query = query.filter((left.v == 0.5) | (right.v == 0.5))
    return query, query.to_dict()


def test_a_request_past_its_time_limit_is_stopped(managed):
    """``max_request_seconds`` 0.2 on a query that would run for minutes: DuckDB is
    interrupted, and the call fails with ``time_limit_exceeded``, over Flight and REST."""
    _, key, project = _login(managed, "upsilon", max_request_seconds=0.2)
    fs = project.get_feature_store()
    query, spec = _heavy(fs)
    client, options = _flight(managed, key)
    attempts = 0
    with pytest.raises(flight.FlightError) as flight_info:
        client.do_get(_ticket(project.name, "query", query=spec), options).read_all()
    attempts += 1
    body = _flight_body(flight_info)
    assert body["code"] == "time_limit_exceeded", body
    _limit(body, "max_request_seconds", 0.2)
    with pytest.raises(errors.TimeLimitExceeded):
        query.read()
    attempts += 1
    view = fs.create_feature_view("heavy", version=1, query=query)
    r = managed.dp(key).post(
        f"/api/v1/projects/{project.name}/feature-views/heavy/versions/1/training-datasets", json={}
    )
    attempts += 1
    assert r.status_code == 422 and r.json()["code"] == "time_limit_exceeded", r.text
    assert view.get_training_datasets() == []
    client.close()
    print(f"\ntime limit: attempts={attempts} refused={attempts}")

"""Bad input over the wire: a 4xx that says what is wrong, never a 5xx or a partial write."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from granary_core.wire import ARROW_STREAM, table_to_ipc
from tests.data_plane.conftest import arrow_body, rows, ticket


def _commits(tenant) -> int:
    return len(tenant.http.get(tenant.path("feature-groups/g/versions/1/commits")).json())


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        (b"not arrow at all", ARROW_STREAM, "not a valid Arrow IPC stream"),
        (b"", ARROW_STREAM, "empty"),
        (table_to_ipc(rows())[:-40], ARROW_STREAM, "not a valid Arrow IPC stream"),
        (b'{"k": [1]}', "application/json", "send the rows as application/vnd.apache.arrow.stream"),
    ],
)
def test_malformed_arrow_is_400_and_writes_nothing(group, content, content_type, message):
    url = group.path("feature-groups/g/versions/1/rows")
    response = group.http.post(url, content=content, headers={"content-type": content_type})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_input"
    assert message in response.json()["message"]
    assert _commits(group) == 1


def test_schema_mismatch_names_column_and_types(group):
    bad = rows().set_column(2, "v", pa.array(["x", "y", "z"]))
    response = group.http.post(group.path("feature-groups/g/versions/1/rows"), **arrow_body(bad))
    assert response.status_code == 400
    assert response.json() == {
        "code": "schema_mismatch",
        "message": "feature group 'g' v1: column 'v' is string, expected double",
    }
    assert _commits(group) == 1


def test_missing_key_column_is_400(group):
    url = group.path("feature-groups/g/versions/1/rows")
    response = group.http.post(url, **arrow_body(rows().drop(["k"])))
    assert response.status_code == 400
    assert "column 'k' is missing" in response.json()["message"]


def test_oversize_body_is_413_whatever_the_header_says(group, data_plane):
    limit = data_plane.settings.max_body_bytes
    big = b"\0" * (limit + 1)
    url = group.path("feature-groups/g/versions/1/rows")
    declared = group.http.post(url, content=big, headers={"content-type": ARROW_STREAM})
    assert declared.status_code == 413
    assert declared.json()["code"] == "payload_too_large"

    def chunks():  # no Content-Length: counted as it streams
        for _ in range(limit // 65536 + 2):
            yield b"\0" * 65536

    streamed = group.http.post(url, content=chunks(), headers={"content-type": ARROW_STREAM})
    assert streamed.status_code == 413
    assert _commits(group) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"name": "x"}',
        b'{"name": "x", "primary_key": "k", "unknown": 1}',
        b'{"name": 5, "primary_key": ["k"]}',
        b"[]",
    ],
)
def test_malformed_json_is_4xx_with_a_message(group, body):
    response = group.http.post(
        group.path("feature-groups"), content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["code"] == "invalid_input"
    assert response.json()["message"]


@pytest.mark.parametrize(
    ("method", "rest", "code"),
    [
        ("GET", "feature-groups/nope", "feature_group_not_found"),
        ("GET", "feature-groups/g?version=9", "feature_group_not_found"),
        ("DELETE", "feature-groups/nope/versions/1", "feature_group_not_found"),
        ("GET", "feature-groups/nope/versions/1/commits", "feature_group_not_found"),
        ("GET", "feature-views/nope", "feature_view_not_found"),
        ("GET", "feature-views/nope/versions/1/training-datasets/1", "feature_view_not_found"),
        ("POST", "feature-views/nope/versions/1/serving", "feature_view_not_found"),
    ],
)
def test_unknown_objects_are_404(group, method, rest, code):
    response = group.http.request(method, group.path(rest))
    assert response.status_code == 404, response.text
    assert response.json()["code"] == code


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"fg": "g"},
        {"fg": {"name": "g", "version": "1"}},
        {"fg": {"name": "g", "version": 1}, "joins": [{"query": 3}]},
        {"fg": {"name": "g", "version": 1}, "filter": {"fg": {"name": "g", "version": 1}, "op": "zz"}},
        {"fg": {"name": "g", "version": 1}, "as_of": "yesterday"},
    ],
)
def test_malformed_query_descriptions_are_400(group, query):
    response = group.http.post(group.path("queries/sql"), json={"query": query})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_input"


def test_insert_into_unknown_group_is_404_and_produces_nothing(group):
    response = group.http.post(group.path("feature-groups/nope/versions/1/rows"), **arrow_body(rows()))
    assert response.status_code == 404


# Values at the edges of what is stored: a 4xx naming the field, nothing stored ------------
GROUP = {"name": "t", "version": 1, "primary_key": ["k"], "event_time": "ts"}


@pytest.mark.parametrize("ttl", [b"NaN", b"Infinity", b"-Infinity", b"1e308", b"1e400", b"0", b"-1"])
def test_a_ttl_that_is_not_a_finite_positive_span_is_400(group, ttl):
    body = json.dumps({**GROUP, "ttl_seconds": 1}).replace(
        '"ttl_seconds": 1', f'"ttl_seconds": {ttl.decode()}'
    )
    response = group.http.post(
        group.path("feature-groups"), content=body.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert "ttl_seconds" in response.json()["message"]
    assert group.http.get(group.path("feature-groups/t")).status_code == 404


def test_nanosecond_timestamps_are_accepted(group):
    table = rows().set_column(1, "ts", pa.array([1_735_689_600_123_456_789] * 3, pa.timestamp("ns", "UTC")))
    response = group.http.post(group.path("feature-groups/g/versions/1/rows"), **arrow_body(table))
    assert response.status_code == 200, response.text
    assert _commits(group) == 2


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            rows().set_column(1, "ts", pa.array([10**13] * 3, pa.timestamp("s"))),
            "column 'ts' has a value outside",
        ),
        (rows().append_column("d", pa.array([-800_000] * 3, pa.date32())), "column 'd' has a value outside"),
        (rows().append_column("v", pa.array([1.0] * 3)), "column 'v' appears more than once"),
        (rows().append_column("", pa.array([1.0] * 3)), "column 4 of 4 has an empty name"),
        (rows().append_column("t", pa.array([1] * 3, pa.time64("us"))), "column 't' is time64[us]"),
    ],
    ids=["timestamp", "date", "duplicate_name", "empty_name", "time64"],
)
def test_columns_no_store_can_hold_are_400_by_name(group, table, message):
    before = group.http.get(group.path("feature-groups/g")).json()["features"]
    response = group.http.post(group.path("feature-groups/g/versions/1/rows"), **arrow_body(table))
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
    assert group.http.get(group.path("feature-groups/g")).json()["features"] == before
    assert _commits(group) == 1


@pytest.fixture
def view(group):
    query = {"fg": {"name": "g", "version": 1}}
    created = group.http.post(group.path("feature-views"), json={"name": "fv", "version": 1, "query": query})
    assert created.status_code == 201, created.text
    return group


def _flight_error(call) -> dict:
    with pytest.raises(flight.FlightError) as caught:
        call()
    return json.loads(caught.value.extra_info)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"test_size": "0.2"}, "options.test_size"),
        ({"test_size": 0.2, "seed": "x"}, "options.seed"),
        ({"test_size": 0.2, "seed": -1}, "options.seed"),
        ({"ranges": {"train": [10**400, None]}}, "options.ranges.train[0]"),
        ({"ranges": [1, 2]}, "options.ranges"),
        ({"test_sise": 0.2}, "unknown field(s) ['test_sise']"),
        ("x", "options"),
    ],
)
def test_training_options_of_the_wrong_type_are_400_by_name(view, options, field):
    path = view.path("feature-views/fv/versions/1/training-datasets")
    response = view.http.post(path, json={"options": options})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_input"
    assert field in response.json()["message"]
    assert view.http.get(path).json() == []
    command = ticket(view.project, "training_splits", name="fv", version=1, options=options)
    error = _flight_error(lambda: view.flight.do_get(command, view.options).read_all())
    assert error["code"] == "invalid_input" and field in error["message"], error


def test_a_filter_value_no_column_holds_is_400_naming_the_feature(view):
    query = {
        "fg": {"name": "g", "version": 1},
        "filter": {"fg": {"name": "g", "version": 1}, "feature": "v", "op": "gt", "value": 10**400},
    }
    for path, body in [
        ("queries/sql", {"query": query}),
        ("feature-views", {"name": "filtered", "version": 1, "query": query}),
    ]:
        response = view.http.post(view.path(path), json=body)
        assert response.status_code == 400, response.text
        assert "filter on feature 'v' of 'g' v1" in response.json()["message"]
    assert [v["name"] for v in view.http.get(view.path("feature-views")).json()] == ["fv"]
    error = _flight_error(
        lambda: view.flight.do_get(ticket(view.project, "query", query=query), view.options).read_all()
    )
    assert error["code"] == "invalid_input" and "filter on feature 'v'" in error["message"], error


# A 500 keeps the connection usable --------------------------------------------------------
def _local_address(response) -> tuple:
    return response.extensions["network_stream"].get_extra_info("client_addr")


def test_a_500_leaves_the_keep_alive_connection_usable(group, data_plane, monkeypatch):
    """An unexpected error is answered 500 ``internal_error`` and the client's next request
    goes over the same connection (or the 500 said ``Connection: close``)."""

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(data_plane.region.engine(group.project), "query_sql", broken)
    attempts = reused = 0
    for _ in range(5):
        attempts += 1
        failed = group.http.post(
            group.path("queries/sql"), json={"query": {"fg": {"name": "g", "version": 1}}}
        )
        assert failed.status_code == 500
        assert failed.json() == {
            "code": "internal_error",
            "message": "internal error; the service logged the details",
        }
        after = group.http.get(group.path("feature-groups/g"))
        assert after.status_code == 200
        if _local_address(after) == _local_address(failed):
            reused += 1
        else:
            assert failed.headers.get("connection") == "close", "the server dropped the connection silently"
    print(f"attempts={attempts} reused={reused}")
    assert reused == attempts


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"query": {"fg": {"name": "g", "version": 1}}, "start_time": "0001-01-01T00:00:00+01:00"},
            "start_time",
        ),
        ({"query": {"fg": {"name": "g", "version": 1}}, "end_time": "9999-12-31T23:59:59-01:00"}, "end_time"),
        ({"query": {"fg": {"name": "g", "version": 1}, "as_of": "0001-01-01T00:00:00+01:00"}}, "query.as_of"),
    ],
    ids=["start_time", "end_time", "as_of"],
)
def test_times_that_leave_years_1_to_9999_in_utc_are_400_by_name(group, body, field):
    response = group.http.post(group.path("queries/sql"), json=body)
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(f"{field}: "), response.text


DECLARED = [
    {"name": "k", "type": "int64"},
    {"name": "ts", "type": "timestamp[us, tz=UTC]"},
    {"name": "v", "type": "double"},
]


def test_a_declared_schema_is_the_groups_from_creation_and_checks_the_first_insert(group):
    created = group.http.post(group.path("feature-groups"), json={**GROUP, "features": DECLARED})
    assert created.status_code == 201, created.text
    assert [(f["name"], f["type"]) for f in created.json()["features"]] == [
        ("k", "int64"),
        ("ts", "timestamp[us, tz=UTC]"),
        ("v", "double"),
    ]
    bad = rows().set_column(2, "v", pa.array(["x", "y", "z"]))
    response = group.http.post(group.path("feature-groups/t/versions/1/rows"), **arrow_body(bad))
    assert response.status_code == 400
    assert response.json()["message"] == "feature group 't' v1: column 'v' is string, expected double"
    response = group.http.post(group.path("feature-groups/t/versions/1/rows"), **arrow_body(rows()))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("features", "message"),
    [
        (
            [{"name": "k", "type": "float64"}],
            "feature 'k': type 'float64' is stored as 'double'; declare that",
        ),
        (
            [{"name": "k", "type": "int64"}, {"name": "ts", "type": "nope"}],
            "feature 'ts': unknown type 'nope'",
        ),
        ([{"name": "K", "type": "int64"}], "feature 'K' is not lower case"),
        ([{"name": "k", "type": "int64"}], "key column 'ts' is not among the declared features ['k']"),
        (
            [{"name": "k", "type": "int64"}, {"name": "ts", "type": "double"}],
            "event time column 'ts' is double, expected a timestamp or date",
        ),
        ([*DECLARED, {"name": "k", "type": "string"}], "column 'k' appears more than once"),
    ],
)
def test_a_declared_schema_the_store_cannot_hold_is_400_by_feature(group, features, message):
    response = group.http.post(group.path("feature-groups"), json={**GROUP, "features": features})
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
    assert group.http.get(group.path("feature-groups/t")).status_code == 404

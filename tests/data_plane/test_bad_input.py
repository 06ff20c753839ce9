"""Bad input over the wire: a 4xx that says what is wrong, never a 5xx or a partial write."""

from __future__ import annotations

import pyarrow as pa
import pytest

from granary.wire import ARROW_STREAM, table_to_ipc
from tests.data_plane.conftest import arrow_body, rows


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

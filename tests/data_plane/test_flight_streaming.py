"""Flight reads stream: batches leave as DuckDB produces them, never as one table.

The group's rows come from a counting source registered in place of its offline
relation, so the tests see how far the server has read while the client holds the
stream. A server that built the whole answer first would have read every source batch
before the client got its first one.
"""

from __future__ import annotations

import json
import threading
import time

import pyarrow as pa
import pyarrow.flight as flight
import pytest

import granary
from granary_core.errors import GranaryError
from tests.data_plane.conftest import ticket

SOURCE_BATCHES = 80
SOURCE_ROWS = 64 * 1024  # per batch: 80 x 64k rows x 24 bytes = 126 MB in all; a streaming
# server reads ~13 batches ahead of a stalled client (DuckDB and gRPC buffers)


class CountingSource:
    """Stands in for a group's offline relation: batches of (k, ts, v), counted as read."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.read = 0
        self.fail_after = fail_after
        self._lock = threading.Lock()

    def batches(self):
        ts = pa.array([0] * SOURCE_ROWS, pa.timestamp("us", "UTC"))
        for i in range(SOURCE_BATCHES):
            if self.fail_after is not None and i == self.fail_after:
                raise OSError("the object store went away")
            with self._lock:
                self.read += 1
            k = pa.array(range(i * SOURCE_ROWS, (i + 1) * SOURCE_ROWS), pa.int64())
            yield pa.record_batch([k, ts, k.cast(pa.float64())], names=["k", "ts", "v"])

    def install(self, monkeypatch, engine) -> None:
        def relation_for(info, wallclock, con):
            schema = pa.schema([("k", pa.int64()), ("ts", pa.timestamp("us", "UTC")), ("v", pa.float64())])
            con.register("__counted", pa.RecordBatchReader.from_batches(schema, self.batches()))
            return "__counted"

        monkeypatch.setattr(engine, "relation_for", relation_for)


def test_a_stalled_client_holds_the_server_to_a_few_batches(data_plane, group, monkeypatch):
    source = CountingSource()
    source.install(monkeypatch, data_plane.region.engine(group.project))
    reader = group.flight.do_get(ticket(group.project, "read", name="g", version=1), group.options)
    first = reader.read_chunk()
    time.sleep(1.0)  # time enough for a server that does not stream to read everything
    read_while_stalled = source.read
    if read_while_stalled >= SOURCE_BATCHES // 2:
        reader.cancel()  # else the server's shutdown waits for this call
        pytest.fail(
            f"the server read {read_while_stalled} of {SOURCE_BATCHES} source batches before the "
            "client read its second one: it is not streaming"
        )
    chunks, rows, total = 1, first.data.num_rows, pa.compute.sum(first.data["k"]).as_py()
    while True:
        try:
            chunk = reader.read_chunk()
        except StopIteration:
            break
        chunks += 1
        rows += chunk.data.num_rows
        total += pa.compute.sum(chunk.data["k"]).as_py() or 0
    n = SOURCE_BATCHES * SOURCE_ROWS
    assert (rows, total) == (n, n * (n - 1) // 2)
    assert chunks >= SOURCE_BATCHES


def test_an_error_after_the_first_batch_is_a_flight_error_with_code_and_message(
    data_plane, group, monkeypatch
):
    source = CountingSource(fail_after=SOURCE_BATCHES // 2)
    source.install(monkeypatch, data_plane.region.engine(group.project))
    reader = group.flight.do_get(ticket(group.project, "read", name="g", version=1), group.options)
    received = 0
    with pytest.raises(flight.FlightServerError) as failed:
        while True:
            received += reader.read_chunk().data.num_rows
    assert received > 0, "the error should come after the first batches, not instead of them"
    body = json.loads(failed.value.extra_info)
    assert body["code"] == "granary_error"
    assert "read: failed while streaming" in body["message"]
    assert "the object store went away" in body["message"]


def test_the_sdk_reraises_an_error_raised_mid_stream(data_plane, group, monkeypatch):
    CountingSource(fail_after=SOURCE_BATCHES // 2).install(
        monkeypatch, data_plane.region.engine(group.project)
    )
    fs = granary.login(host=data_plane.api_url, api_key=group.key).get_feature_store()
    with pytest.raises(GranaryError, match="the object store went away"):
        fs.get_feature_group("g", version=1).read()

"""The materializer compacts a group on its own after ``compact_after_commits`` commits."""

from __future__ import annotations

import pyarrow as pa

from data_plane.ingest.materializer import Materializer
from data_plane.ingest.messages import IngestMessage


class Engine:
    def __init__(self, fail: bool = False) -> None:
        self.compacted: list[tuple[str, int]] = []
        self.fail = fail

    def compact(self, name: str, version: int) -> None:
        if self.fail:
            raise OSError("object store down")
        self.compacted.append((name, version))


def materializer(after: int) -> Materializer:
    worker = Materializer.__new__(Materializer)  # no Kafka: only the policy is under test
    worker._compact_after = after
    worker._commits_since_compact = {}
    return worker


def message(group_id: int, name: str) -> IngestMessage:
    return IngestMessage.new("p", group_id, name, 1, "upsert", pa.table({"k": [1]}))


def test_every_nth_commit_of_a_group_compacts_it():
    worker, engine = materializer(3), Engine()
    for _ in range(7):
        worker._maybe_compact(engine, message(1, "a"))
    worker._maybe_compact(engine, message(2, "b"))
    assert engine.compacted == [("a", 1), ("a", 1)]
    assert worker._commits_since_compact == {1: 1, 2: 1}


def test_zero_turns_it_off_and_a_failure_is_retried_at_the_next_commit():
    worker, engine = materializer(0), Engine()
    for _ in range(10):
        worker._maybe_compact(engine, message(1, "a"))
    assert engine.compacted == [] and worker._commits_since_compact == {}

    worker, failing = materializer(2), Engine(fail=True)
    for _ in range(3):
        worker._maybe_compact(failing, message(1, "a"))
    assert worker._commits_since_compact == {1: 3}
    failing.fail = False
    worker._maybe_compact(failing, message(1, "a"))
    assert failing.compacted == [("a", 1)] and worker._commits_since_compact == {}

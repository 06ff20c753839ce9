"""What a Flight ticket can ask for, and how each is answered with Arrow record batches.

Every command is JSON with ``kind`` and ``project`` (already authorized by the
server); times are ISO-8601 strings. The answer is one or more named parts of one
schema (a single read is the part ``""``; training splits are ``train``/``test``...).
Parts are streamed: a query's batches leave as DuckDB produces them, never as one
table built first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from data_plane import training
from data_plane.engine import FeatureStoreEngine
from data_plane.query.validate import check_query_spec
from data_plane.region import Region
from granary.errors import InvalidInput, NotSupported
from granary.wire import parse_time

Source = pa.Table | pa.RecordBatchReader
Part = Source | Callable[[], Source]  # a callable part is opened when the stream reaches it


@dataclass
class Answer:
    """Named parts of one schema. The first part is opened when the answer is made, so
    planning errors are raised before anything is sent and the schema is known; later
    parts may be callables, opened in turn, so one query runs at a time."""

    schema: pa.Schema
    parts: list[tuple[str, Part]]
    started: float = field(default=0.0)

    @classmethod
    def of(cls, parts: dict[str, Part]) -> Answer:
        items = list(parts.items())
        name, first = items[0]
        if callable(first):
            first = first()
        items[0] = (name, first)
        return cls(first.schema, items)

    def batches(self, max_rows: int) -> Iterator[tuple[str, pa.RecordBatch]]:
        """(part name, batch) in order, at most ``max_rows`` rows per batch; an empty part
        still yields one empty batch, so the client sees every part's name."""
        for name, part in self.parts:
            source = part() if callable(part) else part
            if isinstance(source, pa.Table):
                source = pa.RecordBatchReader.from_batches(source.schema, source.to_batches(max_rows))
            empty = True
            for batch in source:
                for offset in range(0, batch.num_rows, max_rows):
                    empty = False
                    yield name, self._conform(batch.slice(offset, max_rows))
            if empty:
                yield name, pa.RecordBatch.from_pylist([], schema=self.schema)

    def _conform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return batch if batch.schema.equals(self.schema) else batch.cast(self.schema)


def _str(command: dict[str, Any], key: str) -> str:
    value = command.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"ticket field '{key}' must be a non-empty string")
    return value


def _int(command: dict[str, Any], key: str) -> int:
    value = command.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 2**31 - 1:
        raise InvalidInput(f"ticket field '{key}' must be a positive integer")
    return value


def _read(region: Region, engine: FeatureStoreEngine, c: dict[str, Any], spine: Any) -> Answer:
    reader = engine.stream_read(
        _str(c, "name"),
        _int(c, "version"),
        parse_time(c.get("wallclock_time"), "wallclock_time"),
        parse_time(c.get("start_time"), "start_time"),
        parse_time(c.get("end_time"), "end_time"),
    )
    return Answer.of({"": reader})


def _read_online(region: Region, engine: FeatureStoreEngine, c: dict[str, Any], spine: Any) -> Answer:
    if engine.online is None:
        raise NotSupported("this region has no online store configured")
    info = engine.catalog.get_group(_str(c, "name"), _int(c, "version"))
    return Answer.of({"": engine.online.read_all(info)})


def _query(region: Region, engine: FeatureStoreEngine, c: dict[str, Any], spine: Any) -> Answer:
    spec = c.get("query")
    check_query_spec(spec)
    reader = engine.stream_query(
        spec,
        spine=spine,
        start_time=parse_time(c.get("start_time"), "start_time"),
        end_time=parse_time(c.get("end_time"), "end_time"),
        **({"include_keys": True} if c.get("include_keys") else {}),
    )
    return Answer.of({"": reader})


def _options(c: dict[str, Any]) -> training.SplitOptions:
    options = c.get("options") or {}
    if not isinstance(options, dict):
        raise InvalidInput("ticket field 'options' must be an object")
    try:
        return training.SplitOptions.from_dict(options)
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(f"split options {options!r} are malformed: {exc}") from exc


def _training_splits(region: Region, engine: FeatureStoreEngine, c: dict[str, Any], spine: Any) -> Answer:
    view = engine.catalog.get_view(_str(c, "name"), _int(c, "version"))
    splits = training.split_streams(
        engine,
        view,
        _options(c),
        parse_time(c.get("start_time"), "start_time"),
        parse_time(c.get("end_time"), "end_time"),
        spine,
    )
    return Answer.of(splits)


def _training_dataset(region: Region, engine: FeatureStoreEngine, c: dict[str, Any], spine: Any) -> Answer:
    info = engine.catalog.get_training_dataset(_str(c, "name"), _int(c, "version"), _int(c, "td_version"))
    return Answer.of(training.open_training_dataset(info, filesystem=region.filesystem))


Handler = Callable[[Region, FeatureStoreEngine, dict[str, Any], pa.Table | None], Answer]

COMMANDS: dict[str, Handler] = {
    "read": _read,
    "read_online": _read_online,
    "query": _query,
    "training_splits": _training_splits,
    "training_dataset": _training_dataset,
}


def run_command(region: Region, command: dict[str, Any], spine: pa.Table | None) -> Answer:
    handler = COMMANDS.get(command.get("kind"))  # type: ignore[arg-type]
    if handler is None:
        raise InvalidInput(f"unknown ticket kind {command.get('kind')!r}; one of {sorted(COMMANDS)}")
    return handler(region, region.engine(command["project"]), command, spine)

"""What a Flight ticket can ask for, and how each is answered with Arrow record batches.

Every command is JSON with ``kind`` and ``project`` (already authorized by the
server, which also checked its size and read any spine within the caller's cost
limits); times are ISO-8601 strings. Commands that read online rows
(:data:`READS_ONLINE_ROWS`) charge them to the tenant's online read rate, as REST
vectors do. The answer is one or more named parts of one schema (a single read is
the part ``""``; training splits are ``train``/``test``...).
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
from data_plane.limits import check_joins
from data_plane.query.validate import check_query_spec
from data_plane.region import Region
from granary_core.errors import InvalidInput, NotSupported
from granary_core.wire import parse_time
from tenancy.plans import CostLimits
from tenancy.scope import Principal

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


@dataclass(frozen=True)
class Call:
    """Who runs a command, where, and within which cost limits."""

    region: Region
    engine: FeatureStoreEngine
    caller: Principal
    limits: CostLimits


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


def _read(call: Call, c: dict[str, Any], spine: Any) -> Answer:
    reader = call.engine.stream_read(
        _str(c, "name"),
        _int(c, "version"),
        parse_time(c.get("wallclock_time"), "wallclock_time"),
        parse_time(c.get("start_time"), "start_time"),
        parse_time(c.get("end_time"), "end_time"),
    )
    return Answer.of({"": reader})


def _read_online(call: Call, c: dict[str, Any], spine: Any) -> Answer:
    """A group's online rows, metered like vectors: refused before the scan when the
    tenant's bucket is spent, and charged every row read before any row leaves."""
    online = call.engine.online
    if online is None:
        raise NotSupported("this region has no online store configured")
    info = call.engine.catalog.get_group(_str(c, "name"), _int(c, "version"))
    call.region.quotas.online_reads_left(call.caller)
    table = online.read_all(info)
    call.region.quotas.online_reads(call.caller, table.num_rows)
    return Answer.of({"": table})


def _query(call: Call, c: dict[str, Any], spine: Any) -> Answer:
    spec = c.get("query")
    check_joins(spec, call.limits)
    check_query_spec(spec)
    reader = call.engine.stream_query(
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


def _training_splits(call: Call, c: dict[str, Any], spine: Any) -> Answer:
    view = call.engine.catalog.get_view(_str(c, "name"), _int(c, "version"))
    check_joins(view.query, call.limits, f"feature view '{view.name}' v{view.version}")
    splits = training.split_streams(
        call.engine,
        view,
        _options(c),
        parse_time(c.get("start_time"), "start_time"),
        parse_time(c.get("end_time"), "end_time"),
        spine,
    )
    return Answer.of(splits)


def _training_dataset(call: Call, c: dict[str, Any], spine: Any) -> Answer:
    catalog = call.engine.catalog
    info = catalog.get_training_dataset(_str(c, "name"), _int(c, "version"), _int(c, "td_version"))
    return Answer.of(training.open_version(call.engine, info, filesystem=call.region.filesystem))


Handler = Callable[[Call, dict[str, Any], pa.Table | None], Answer]

COMMANDS: dict[str, Handler] = {
    "read": _read,
    "read_online": _read_online,
    "query": _query,
    "training_splits": _training_splits,
    "training_dataset": _training_dataset,
}

#: The commands that answer with online rows; each is metered by ``QuotaGate.online_reads``.
READS_ONLINE_ROWS = frozenset({"read_online"})


def run_command(
    region: Region, caller: Principal, limits: CostLimits, command: dict[str, Any], spine: pa.Table | None
) -> Answer:
    handler = COMMANDS.get(command.get("kind"))  # type: ignore[arg-type]
    if handler is None:
        raise InvalidInput(f"unknown ticket kind {command.get('kind')!r}; one of {sorted(COMMANDS)}")
    return handler(Call(region, region.engine(command["project"]), caller, limits), command, spine)

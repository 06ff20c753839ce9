"""What SQLite and Redis online stores share: one key and one packed value per row.

Adapters only say how to put, delete, scan and multi-get raw values; choosing the
newest row of an insert, keys, expiry and the row codec live here, so both stores lay
out rows identically and serve identical vectors.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data_plane.online.codec import RowCodec
from data_plane.online.keys import encode_key, encode_table_keys, group_prefix, key_kind, key_value
from granary_core import schema as schemas
from granary_core.specs import FeatureGroupInfo

_US_PER_MS = 1000


@dataclass(frozen=True)
class Batch:
    """Rows ready to store: keys, packed values, event times (us) and expiry (ms)."""

    keys: list[str]
    values: list[bytes]
    event_time_us: list[int] | None  # None: the group has no event time, last write wins
    expire_at_ms: list[int] | None  # None: rows never expire


def newest_per_key(table: pa.Table, primary_key: list[str], event_time: str | None) -> pa.Table:
    """Keep the row with the greatest event time per key (the last of equal ones)."""
    if table.num_rows <= 1:
        return table
    if event_time is not None:
        table = table.take(pc.sort_indices(table, [(event_time, "ascending")]))
    indexed = table.append_column("__row", pa.array(np.arange(table.num_rows)))
    last = indexed.group_by(primary_key, use_threads=False).aggregate([("__row", "max")])
    if last.num_rows == table.num_rows:
        return table
    return table.take(np.sort(last["__row_max"].to_numpy()))


def where(info: FeatureGroupInfo) -> str:
    return f"feature group '{info.name}' v{info.version}: online store"


class KeyValueReader:
    """A prepared lookup: the group's prefix, key kinds and a codec for its schema."""

    def __init__(self, prefix: str, info: FeatureGroupInfo, columns: list[str] | None) -> None:
        self.info = info
        self.prefix = prefix
        features = [{"name": f.name, "type": f.type} for f in info.features]
        schema = schemas.schema_from_json(features) or pa.schema([])
        self.codec = RowCodec(schema)
        # Positions in the schema of the columns to decode (unknown names left out).
        self.positions = self.codec.positions(list(columns) if columns is not None else schema.names)
        self.columns = [schema.names[i] for i in self.positions]
        types = {f.name: f.type for f in schema}
        self.kinds = [key_kind(types[k], where(info)) if k in types else "str" for k in info.primary_key]
        self._single = self.kinds[0] if len(self.kinds) == 1 else None
        self._subsets: dict[tuple[int, ...], tuple[int, ...]] = {}

    def wanted(self, columns: tuple[int, ...] | None) -> tuple[int, ...]:
        """Schema positions of the reader's columns at ``columns`` (default all), cached."""
        if columns is None:
            columns = tuple(range(len(self.positions)))
        subset = self._subsets.get(columns)
        if subset is None:
            subset = self._subsets[columns] = tuple(self.positions[c] for c in columns)
        return subset

    def keys(
        self, columns: Sequence[Sequence[Any]], names: Sequence[str], memo: dict[Any, list[str]] | None = None
    ) -> list[str]:
        """The keys under this group's prefix; ``memo`` shares the key text (the part
        after the prefix) between groups keyed by the same entry names in one request."""
        shape = (tuple(names), tuple(self.kinds))
        texts = None if memo is None else memo.get(shape)
        if texts is None:
            texts = self._texts(columns, names)
            if memo is not None:
                memo[shape] = texts
        return list(map(self.prefix.__add__, texts))

    def _texts(self, columns: Sequence[Sequence[Any]], names: Sequence[str]) -> list[str]:
        if self._single is not None:
            values = columns[0]
            # The common case, integer keys, without the general checks per value.
            if self._single == "int" and set(map(type, values)) == {int}:
                return list(map(str, values))
            return [key_value(v, self._single, names[0]) for v in values]
        parts = [
            [key_value(v, kind, name) for v in values]
            for values, kind, name in zip(columns, self.kinds, names, strict=True)
        ]
        return [encode_key("", row, self.kinds) for row in zip(*parts, strict=True)]

    def decode(self, values: list[bytes | None]) -> KeyValueRows:
        return KeyValueRows(self, values)


class KeyValueRows:
    """Fetched values of one group, decoded when and as the caller needs them."""

    def __init__(self, reader: KeyValueReader, values: list[bytes | None]) -> None:
        self.reader = reader
        self.values = values
        self._found: np.ndarray | None = None

    @property
    def complete(self) -> bool:
        return all(self.values)  # a stored row is never empty

    @property
    def found(self) -> np.ndarray:
        if self._found is None:
            values = self.values
            if all(values):  # a stored row is never empty
                self._found = np.ones(len(values), bool)
            else:
                self._found = np.fromiter((v is not None for v in values), bool, count=len(values))
        return self._found

    def arrays(self) -> list[pa.Array]:
        return self.reader.codec.decode_arrays(self.values, self.reader.positions)[0]

    def objects(
        self, columns: tuple[int, ...] | None = None, out: np.ndarray | None = None, place: Any = None
    ) -> np.ndarray:
        return self.reader.codec.decode_objects(self.values, list(self.reader.wanted(columns)), out, place)

    def pylist(self, columns: tuple[int, ...] | None = None) -> list[list[Any] | None]:
        return self.reader.codec.decode_rows(self.values, self.reader.wanted(columns))

    @property
    def table(self) -> pa.Table:
        return pa.Table.from_arrays(self.arrays(), names=self.reader.columns)


class KeyValueOnlineStore(ABC):
    """An online store of packed rows under text keys; adapters supply raw storage."""

    def __init__(self, project: str) -> None:
        self.project = project
        self._codecs: dict[pa.Schema, RowCodec] = {}

    # raw storage, per adapter -------------------------------------------------------------
    @abstractmethod
    def _put(self, prefix: str, batch: Batch, overwrite: bool) -> None:
        """Store values, keeping the newer event time per key (unless ``overwrite``)."""

    @abstractmethod
    def _delete(self, keys: list[str], event_time_us: list[int] | None) -> None:
        """Delete keys whose stored event time equals the given one (any, if None)."""

    @abstractmethod
    def _drop_prefix(self, prefix: str) -> None: ...

    @abstractmethod
    def _scan(self, prefix: str) -> list[bytes]:
        """Every live value under ``prefix``."""

    @abstractmethod
    def _multi_get(self, keys: list[str]) -> list[bytes | None]:
        """Values of ``keys`` (None when absent or expired), in one round trip."""

    @abstractmethod
    def _keys(self, prefix: str, limit: int | None) -> list[str]:
        """Stored keys under ``prefix`` (at most ``limit``; all if None), expired or not."""

    @abstractmethod
    def for_project(self, project: str) -> KeyValueOnlineStore: ...

    @abstractmethod
    def ping(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    # the project as a whole -----------------------------------------------------------
    @property
    def project_prefix(self) -> str:
        """What every key of the project starts with (see :func:`.keys.group_prefix`)."""
        return f"{self.project}:"

    def count(self) -> int:
        return len(self._keys(self.project_prefix, None))

    def stored_keys(self, limit: int) -> list[str]:
        return self._keys(self.project_prefix, limit)

    def holds(self, mark: str) -> bool:
        return self._multi_get([f"#mark:{mark}"])[0] is not None

    def set_mark(self, mark: str) -> None:
        self._put("#mark:", Batch([f"#mark:{mark}"], [b"1"], None, None), overwrite=False)

    def drop_project(self) -> None:
        self._drop_prefix(self.project_prefix)

    # the OnlineStore protocol -------------------------------------------------------------
    def _codec(self, schema: pa.Schema) -> RowCodec:
        codec = self._codecs.get(schema)
        if codec is None:
            codec = self._codecs[schema] = RowCodec(schema)
        return codec

    def prepare(self, info: FeatureGroupInfo, table: pa.Table) -> Batch:
        """Everything but the I/O of a write: newest rows, keys, values, expiry."""
        rows = newest_per_key(table, info.primary_key, info.event_time)
        keys = encode_table_keys(group_prefix(self.project, info), rows, info.primary_key, where(info))
        event_us = None
        if info.event_time is not None:
            column = rows.column(info.event_time)
            if pa.types.is_date32(column.type):
                column = column.cast(pa.timestamp("us", tz="UTC"))
            event_us = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy()
        expire = None
        if info.ttl_seconds is not None:
            ttl_ms = int(info.ttl_seconds * 1000)
            base = event_us // _US_PER_MS if event_us is not None else np.full(len(keys), now_ms())
            expire = (base + ttl_ms).tolist()
        values = self._codec(rows.schema).encode(rows, event_us)
        return Batch(keys, values, None if event_us is None else event_us.tolist(), expire)

    def write(self, info: FeatureGroupInfo, table: pa.Table, overwrite: bool = False) -> None:
        if table.num_rows == 0 and not overwrite:
            return
        self._put(group_prefix(self.project, info), self.prepare(info, table), overwrite)

    def remove(self, info: FeatureGroupInfo, keys: pa.Table) -> None:
        if keys.num_rows == 0:
            return
        encoded = encode_table_keys(group_prefix(self.project, info), keys, info.primary_key, where(info))
        event_us = None
        if info.event_time is not None:
            column = keys.column(info.event_time).cast(pa.timestamp("us", tz="UTC"))
            event_us = column.cast(pa.int64()).to_pylist()
        self._delete(encoded, event_us)

    def drop(self, info: FeatureGroupInfo) -> None:
        self._drop_prefix(group_prefix(self.project, info))

    def reader(self, info: FeatureGroupInfo, columns: list[str] | None = None) -> KeyValueReader:
        return KeyValueReader(group_prefix(self.project, info), info, columns)

    def read_all(self, info: FeatureGroupInfo) -> pa.Table:
        reader = self.reader(info)
        table, _ = reader.codec.decode(self._scan(reader.prefix))  # type: ignore[arg-type]
        return table

    def get_rows(self, requests: Sequence[tuple[KeyValueReader, list[Hashable]]]) -> list[KeyValueRows]:
        keys: list[str] = []
        for _, wanted in requests:
            keys.extend(wanted)  # type: ignore[arg-type]
        values = self._multi_get(keys) if keys else []
        out, at = [], 0
        for reader, wanted in requests:
            out.append(reader.decode(values[at : at + len(wanted)]))
            at += len(wanted)
        return out


def now_ms() -> int:
    return time.time_ns() // 1_000_000

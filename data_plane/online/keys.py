"""Online row keys: ``{project}:{group}:{version}:{primary key}``, one per row.

The project comes first because projects share one Redis in the managed service, and a
prefix per group lets ``drop`` and ``read_all`` find a group's rows by range (SQLite)
or ``SCAN MATCH`` (Redis). A primary key value is written as text: integers in
decimal, strings as they are, booleans ``true``/``false``, dates ISO, timestamps as
microseconds since the epoch. Keys of several columns join their parts with ``|``,
escaping ``\\`` and ``|`` inside strings, so two different keys never meet.

Inserted tables are encoded column-wise with Arrow; the entries of a feature-vector
request are encoded value by value (a few hundred at most), with the same result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from granary_core.errors import InvalidInput, NotSupported
from granary_core.frames import to_utc
from granary_core.specs import FeatureGroupInfo


def scan_pattern(prefix: str) -> str:
    """The Redis ``SCAN MATCH`` pattern of every key starting with ``prefix`` (a project's
    or a group's), with the glob characters of ``prefix`` itself escaped."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in prefix) + "*"


SEPARATOR = "|"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def group_prefix(project: str, info: FeatureGroupInfo) -> str:
    return f"{project}:{info.name}:{info.version}:"


def key_kind(typ: pa.DataType, where: str) -> str:
    """How a key column is written; float and nested keys cannot be looked up exactly."""
    if pa.types.is_integer(typ):
        return "int"
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return "str"
    if pa.types.is_boolean(typ):
        return "bool"
    if pa.types.is_date32(typ):
        return "date"
    if pa.types.is_timestamp(typ):
        return "timestamp"
    raise NotSupported(
        f"{where}: primary key type {typ} cannot key the online store; use integers, strings, "
        "booleans, dates or timestamps"
    )


def _escape(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    column = pc.replace_substring(column, "\\", "\\\\")
    return pc.replace_substring(column, SEPARATOR, "\\" + SEPARATOR)


def encode_table_keys(prefix: str, table: pa.Table, primary_key: list[str], where: str) -> list[str]:
    """The key of every row of ``table``, vectorized."""
    parts = []
    for name in primary_key:
        column = table.column(name)
        kind = key_kind(column.type, where)
        if kind == "timestamp":
            column = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
        text = column.cast(pa.string())
        if kind == "str" and len(primary_key) > 1:
            text = _escape(text)
        parts.append(text)
    joined = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, SEPARATOR)
    return pc.binary_join_element_wise(pa.scalar(prefix), joined, "").to_pylist()


def key_value(value: Any, kind: str, name: str) -> str:
    """One entry value as key text; the wrong Python type is an error, not a guess."""
    if kind == "int":
        if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
            return str(int(value))
    elif kind == "str":
        if isinstance(value, str):
            return value
    elif kind == "bool":
        if isinstance(value, bool | np.bool_):
            return "true" if value else "false"
    elif kind == "date":
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value.isoformat()
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value).isoformat()
            except ValueError:
                pass
    elif kind == "timestamp":
        try:
            moment = to_utc(value) if not isinstance(value, bool | int | float) else None
        except InvalidInput:
            moment = None
        if moment is not None:
            return str((moment - EPOCH) // dt.timedelta(microseconds=1))
    expected = {
        "int": "an integer",
        "str": "a string",
        "bool": "a boolean",
        "date": "a date",
        "timestamp": "a timestamp",
    }[kind]
    raise InvalidInput(f"serving key '{name}' must be {expected}, got {type(value).__name__} {value!r}")


def encode_key(prefix: str, values: Sequence[str], kinds: Sequence[str]) -> str:
    """Join already-converted key parts (see :func:`key_value`) under a group prefix."""
    if len(values) == 1:
        return prefix + values[0]
    parts = [
        v.replace("\\", "\\\\").replace(SEPARATOR, "\\" + SEPARATOR) if k == "str" else v
        for v, k in zip(values, kinds, strict=True)
    ]
    return prefix + SEPARATOR.join(parts)

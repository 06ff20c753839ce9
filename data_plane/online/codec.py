"""The bytes of one online row, and how a batch of them is decoded column by column.

Why a custom layout: a feature vector read is one MGET (Redis) or one SELECT (SQLite)
of whole rows, so a row must be one compact value, and decoding 1,000 of them must not
build Python objects per value. Every row of a group is packed with the group's fixed
schema, little-endian, no padding::

    header   int64  event time, microseconds since the Unix epoch (UTC); 0 without one
             uint16 number of columns the row was written with
             uint32 size of header + fixed part (where the variable part starts)
    fixed    per column, in schema order: uint8 null flag (1 = null), then the value
             (int64 / uint64 / float64 / timestamp-us as 8 bytes, date32 as 4, bool
             as 1; string, binary and nested values as a uint32 byte length)
    variable the bytes of the variable-length columns, in schema order (nested
             types such as lists and decimals as JSON text)

A batch is decoded with numpy (``decode_arrays``): all rows are joined into one
buffer, their fixed parts read as one (rows x bytes) array (in place when all rows
have one length), values of the same width copied for all columns at once by strided
views and wrapped as Arrow buffers without per-value work, and each string column cut
out of the joined rows with one Arrow ``take``. A handful of rows is cheaper to decode
with one ``struct.unpack_from`` per row (``decode_rows``), because making an Arrow
array costs microseconds per column; both give equal values. Schemas only grow by
appending columns, so a
row written with fewer columns decodes with the trailing ones null, and a row written
with more (by a newer writer) decodes the known prefix: the header says where its
variable part starts.

The event time leads the value so Redis' Lua compare-and-set can read it with
``struct.unpack('<i8', value)``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HEADER = np.dtype([("event_time", "<i8"), ("ncols", "<u2"), ("fixed_size", "<u4")])
EPOCH_DATE = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class _Column:
    name: str
    type: pa.DataType
    kind: str  # "fixed" | "bytes" | "json"
    format: str  # numpy format of the fixed slot


def _column(name: str, typ: pa.DataType) -> _Column:
    if pa.types.is_boolean(typ):
        return _Column(name, typ, "fixed", "u1")
    if pa.types.is_date32(typ):
        return _Column(name, typ, "fixed", "<i4")
    if pa.types.is_timestamp(typ) or pa.types.is_signed_integer(typ):
        return _Column(name, typ, "fixed", "<i8")
    if pa.types.is_unsigned_integer(typ):
        return _Column(name, typ, "fixed", "<u8")
    if pa.types.is_floating(typ):
        return _Column(name, typ, "fixed", "<f8")
    if pa.types.is_string(typ) or pa.types.is_binary(typ):
        return _Column(name, typ, "bytes", "<u4")
    return _Column(name, typ, "json", "<u4")


def _fixed_dtype(columns: list[_Column], itemsize: int | None = None) -> np.dtype:
    names, formats, offsets = list(HEADER.names), [HEADER[n] for n in HEADER.names], [0, 8, 10]
    offset = HEADER.itemsize
    for i, column in enumerate(columns):
        names += [f"n{i}", f"v{i}"]
        formats += ["u1", column.format]
        offsets += [offset, offset + 1]
        offset += 1 + np.dtype(column.format).itemsize
    spec = {"names": names, "formats": formats, "offsets": offsets, "itemsize": itemsize or offset}
    return np.dtype(spec)


class RowCodec:
    """Encode and decode the rows of one group schema (the columns in stored order)."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.columns = [_column(f.name, f.type) for f in schema]
        self.dtype = _fixed_dtype(self.columns)
        self._position = {c.name: i for i, c in enumerate(self.columns)}
        self._recipes: dict[tuple[int, int, tuple[int, ...]], _Recipe] = {}
        self._row_recipes: dict[tuple[int, int, tuple[int, ...]], _RowRecipe] = {}
        self._wanted_cache: dict[tuple[str, ...] | None, list[int]] = {}
        self._schema_cache: dict[tuple[int, ...], pa.Schema] = {}

    # writing --------------------------------------------------------------------------
    def encode(self, table: pa.Table, event_time_us: np.ndarray | None) -> list[bytes]:
        """One value per row of ``table`` (whose columns match the codec's schema)."""
        n = table.num_rows
        fixed = np.zeros(n, self.dtype)
        fixed["event_time"] = 0 if event_time_us is None else event_time_us
        fixed["ncols"] = len(self.columns)
        fixed["fixed_size"] = self.dtype.itemsize
        variable: list[pa.Array] = []
        for i, column in enumerate(self.columns):
            data = table.column(column.name)
            fixed[f"n{i}"] = data.is_null().to_numpy(zero_copy_only=False)
            if column.kind == "fixed":
                fixed[f"v{i}"] = _fixed_values(data, column)
                continue
            payload = _bytes_values(data) if column.kind == "bytes" else _json_values(data)
            fixed[f"v{i}"] = pc.binary_length(payload).to_numpy(zero_copy_only=False)
            variable.append(payload)
        head = pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(self.dtype.itemsize), n, [None, pa.py_buffer(fixed.tobytes())]
        ).cast(pa.binary())
        if variable:
            head = pc.binary_join_element_wise(head, *variable, b"")
        return head.to_pylist()

    # reading --------------------------------------------------------------------------
    def decode(
        self, values: list[bytes | None], columns: list[str] | None = None
    ) -> tuple[pa.Table, np.ndarray]:
        """Decode values (None = no row) into a table aligned with them, and a found mask.

        Only ``columns`` (default: all, in schema order) are decoded, in the order given;
        names the schema lacks are left out. Rows that are missing are null.
        """
        wanted = self._wanted(columns)
        arrays, found = self.decode_arrays(values, wanted)
        return pa.Table.from_arrays(arrays, schema=self._schema_of(wanted)), found

    def decode_arrays(
        self, values: list[bytes | None], wanted: list[int]
    ) -> tuple[list[pa.Array], np.ndarray]:
        """Like :meth:`decode`, as one Arrow array per wanted column position."""
        n = len(values)
        present = list(filter(None, values))  # a stored row is never empty
        if not present:
            return [pa.nulls(n, self.columns[i].type) for i in wanted], np.zeros(n, bool)
        if len(present) == n:
            return self._decode_present(present, wanted), np.ones(n, bool)
        found = np.fromiter((v is not None for v in values), bool, count=n)
        arrays = self._decode_present(present, wanted)
        index = pa.array(np.cumsum(found) - 1, pa.int64(), mask=~found)
        return [a.take(index) for a in arrays], found

    def decode_rows(self, values: list[bytes | None], wanted: list[int]) -> list[list[Any] | None]:
        """Python values per row (None = no row), as Arrow's ``to_pylist`` would give them.

        For a few rows this beats building Arrow arrays, which costs per column.
        """
        key = tuple(wanted)
        out: list[list[Any] | None] = []
        for value in values:
            if value is None:
                out.append(None)
                continue
            ncols, fixed_size = _SIZES.unpack_from(value, 8)
            recipe = self._row_recipes.get((ncols, fixed_size, key))
            if recipe is None:
                known = min(ncols, len(self.columns))
                recipe = _RowRecipe(self.columns, known, fixed_size, wanted)
                self._row_recipes[(ncols, fixed_size, key)] = recipe
            out.append(recipe.row(value))
        return out

    def _wanted(self, columns: list[str] | None) -> list[int]:
        """Positions of the requested columns, cached per request shape."""
        key = None if columns is None else tuple(columns)
        wanted = self._wanted_cache.get(key)
        if wanted is None:
            if columns is None:
                wanted = list(range(len(self.columns)))
            else:
                wanted = [self._position[n] for n in columns if n in self._position]
            self._wanted_cache[key] = wanted
        return wanted

    def positions(self, columns: list[str]) -> list[int]:
        return self._wanted(columns)

    def _schema_of(self, wanted: list[int]) -> pa.Schema:
        key = tuple(wanted)
        schema = self._schema_cache.get(key)
        if schema is None:
            schema = pa.schema([pa.field(self.columns[i].name, self.columns[i].type) for i in wanted])
            self._schema_cache[key] = schema
        return schema

    def _decode_present(self, values: list[bytes], wanted: list[int]) -> list[pa.Array]:
        n = len(values)
        data = b"".join(values)
        head = np.frombuffer(data, HEADER, count=1)[0]
        ncols, fixed_size = int(head["ncols"]), int(head["fixed_size"])
        lengths = np.fromiter(map(len, values), np.int64, count=n)
        shortest, longest = int(lengths.min()), int(lengths.max())
        fixed: Any = None
        if shortest == longest >= fixed_size:
            # Rows of one length (e.g. groups without strings): read in place.
            fixed, stride, lengths = data, shortest, None
        elif shortest >= fixed_size:
            ends = np.zeros(n + 1, np.int64)
            np.cumsum(lengths, out=ends[1:])
            buffers = [None, pa.py_buffer(ends), pa.py_buffer(data)]
            whole = pa.Array.from_buffers(pa.large_binary(), n, buffers)
            fixed, stride = pc.binary_slice(whole, 0, fixed_size).buffers()[2], fixed_size
        if fixed is not None and (np.ndarray(n, "<u2", fixed, 8, (stride,)) == ncols).all():
            recipe = self._recipe(ncols, fixed_size, tuple(wanted))
            return recipe.run(n, data, lengths, fixed, stride)
        # Rows written with different schemas (the group grew): decode each kind apart.
        heads = np.frombuffer(b"".join([v[: HEADER.itemsize] for v in values]), HEADER)
        counts = np.unique(heads["ncols"])
        if len(counts) == 1:
            raise ValueError(f"online rows of {counts[0]} columns shorter than their fixed part")
        parts, order = [], []
        for count in counts:
            rows = np.flatnonzero(heads["ncols"] == count)
            parts.append(self._decode_present([values[i] for i in rows], wanted))
            order.append(rows)
        back = pa.array(np.argsort(np.concatenate(order), kind="stable"))
        return [pa.concat_arrays([p[j] for p in parts]).take(back) for j in range(len(wanted))]

    def _recipe(self, ncols: int, fixed_size: int, wanted: tuple[int, ...]) -> _Recipe:
        key = (ncols, fixed_size, wanted)
        recipe = self._recipes.get(key)
        if recipe is None:
            known = min(ncols, len(self.columns))
            recipe = self._recipes[key] = _Recipe(self.columns, known, fixed_size, wanted)
        return recipe


class _Recipe:
    """How to decode rows of one layout into some columns, worked out once.

    Fixed-width values of the same width are copied for all wanted columns at once
    into a (columns, rows, width) array (one strided copy per run of adjacent columns),
    and the string values of all variable columns are cut out of the joined rows by
    one Arrow array of every row's segments, so a request costs a constant number of
    numpy and Arrow calls plus one ``from_buffers`` per column, however wide the group.
    """

    def __init__(self, columns: list[_Column], known: int, fixed_size: int, wanted: tuple[int, ...]) -> None:
        self.columns = columns
        self.wanted = wanted
        self.fixed_size = fixed_size
        offsets, offset = {}, HEADER.itemsize
        for i, column in enumerate(columns[:known]):
            offsets[i] = offset
            offset += 1 + np.dtype(column.format).itemsize
        self.present = [i for i in wanted if i < known]
        self.flag_index = np.array([offsets[i] for i in self.present], np.intp)
        # Fixed columns grouped by width, each group cut into runs of evenly spaced
        # values: (first value byte, distance between values, how many).
        self.groups: list[tuple[int, list[int], list[tuple[int, int, int]]]] = []
        for width in (8, 4, 1):
            members = [i for i in self.present if columns[i].kind == "fixed" and _width(columns[i]) == width]
            if members:
                self.groups.append((width, members, _runs([offsets[i] + 1 for i in members])))
        # Every variable column up to ``known`` matters: each one shifts the next.
        self.var_all = [i for i in range(known) if columns[i].kind != "fixed"]
        self.var_wanted = [i for i in self.present if columns[i].kind != "fixed"]
        self.var_index = (
            np.concatenate([np.arange(offsets[i] + 1, offsets[i] + 5) for i in self.var_all])
            if self.var_wanted
            else None
        )

    def run(self, n: int, data: bytes, lengths: np.ndarray | None, fixed: Any, stride: int) -> list[pa.Array]:
        """Decode ``n`` rows: ``data`` all values joined, ``lengths`` their sizes (None:
        all equal), ``fixed`` (a buffer) the rows' fixed parts, every ``stride`` bytes."""
        raw = np.ndarray((n, stride), np.uint8, fixed)
        out: dict[int, pa.Array] = {}
        flags = raw[:, self.flag_index] if len(self.present) else raw[:, :0]
        has_nulls = flags.any(axis=0).tolist()
        nulls = {i: (flags[:, j] == 1 if has_nulls[j] else None) for j, i in enumerate(self.present)}
        for width, members, runs in self.groups:
            # Values of one width as one (columns x rows) array, a strided copy per run; the
            # columns are slices of its one buffer, so readers can see they follow each other.
            block = np.empty((len(members), n), f"<u{width}")
            j = 0
            for first, step, count in runs:
                block[j : j + count] = np.ndarray((count, n), block.dtype, fixed, first, (step, stride))
                j += count
            buffer = pa.py_buffer(block)
            size = n * width
            for j, i in enumerate(members):
                if width == 1:
                    values = pa.py_buffer(np.packbits(block[j].astype(bool), bitorder="little"))
                else:
                    values = buffer.slice(j * size, size)
                out[i] = pa.Array.from_buffers(self.columns[i].type, n, [_validity(nulls[i]), values])
        if self.var_wanted:
            out.update(self._variable(data, lengths, raw, nulls))
        return [out[i] if i in out else pa.nulls(n, self.columns[i].type) for i in self.wanted]

    def _variable(
        self, data: bytes, lengths: np.ndarray | None, raw: np.ndarray, nulls: dict[int, np.ndarray | None]
    ) -> dict[int, pa.Array]:
        """Variable columns: every row is cut into segments (fixed part, one per variable
        column, then whatever a newer writer appended), all rows' segments form one Arrow
        binary array over ``data`` without copying, and a column is one ``take``."""
        n, k = raw.shape[0], len(self.var_all)
        sizes = raw[:, self.var_index].copy().view("<u4").reshape(n, k)
        segments = np.empty((n, k + 2), np.int64)
        segments[:, 0] = self.fixed_size
        segments[:, 1 : k + 1] = sizes
        row = np.full(n, len(data) // n, np.int64) if lengths is None else lengths
        segments[:, k + 1] = row - self.fixed_size - segments[:, 1 : k + 1].sum(axis=1)
        if (segments[:, k + 1] < 0).any():
            raise ValueError("online row shorter than its variable-length columns say")
        wide = len(data) >= 2**31  # past int32 offsets: large types, then cast down
        ends = np.zeros(n * (k + 2) + 1, np.int64 if wide else np.int32)
        np.cumsum(segments.reshape(-1), out=ends[1:])
        flat = pa.Array.from_buffers(
            pa.large_binary() if wide else pa.binary(),
            n * (k + 2),
            [None, pa.py_buffer(ends), pa.py_buffer(data)],
        )
        out = {}
        for j, i in enumerate(self.var_all):
            if i in self.var_wanted:
                cut = flat.take(np.arange(j + 1, n * (k + 2), k + 2))
                out[i] = _var_array(cut, nulls[i], self.columns[i], wide)
        return out


def _runs(starts: list[int]) -> list[tuple[int, int, int]]:
    """Byte positions as runs of equal distance: (first, distance, count)."""
    runs: list[tuple[int, int, int]] = []
    for at in starts:
        if runs:
            first, step, count = runs[-1]
            if count == 1 or at - first == step * count:
                runs[-1] = (first, at - first if count == 1 else step, count + 1)
                continue
        runs.append((at, 0, 1))
    return runs


_SIZES = struct.Struct("<HI")
_STRUCT_CODES = {"u1": "B", "<i4": "i", "<i8": "q", "<u8": "Q", "<f8": "d", "<u4": "I"}
_UTC = pa.scalar(0, pa.timestamp("us", tz="UTC")).as_py().tzinfo
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)


def _python_converter(column: _Column) -> Callable[[Any], Any] | None:
    """How one stored value becomes the Python value Arrow's ``to_pylist`` gives."""
    typ = column.type
    if column.kind == "json":
        return lambda raw: _from_json(json.loads(raw), typ)
    if column.kind == "bytes":
        return bytes if pa.types.is_binary(typ) else lambda raw: raw.decode()
    if pa.types.is_timestamp(typ):
        return lambda us: _EPOCH + dt.timedelta(microseconds=us)
    if pa.types.is_date32(typ):
        return lambda days: EPOCH_DATE + dt.timedelta(days=days)
    if pa.types.is_boolean(typ):
        return bool
    return None


class _RowRecipe:
    """Decode one row of one layout with a single ``struct.unpack_from``."""

    def __init__(self, columns: list[_Column], known: int, fixed_size: int, wanted: list[int]) -> None:
        codes = "".join("B" + _STRUCT_CODES[c.format] for c in columns[:known])
        self.struct = struct.Struct("<qHI" + codes)
        self.fixed_size = fixed_size
        var = [i for i in range(known) if columns[i].kind != "fixed"]
        self.var_fields = [4 + 2 * i for i in var]
        self.steps: list[tuple[int, int, Callable[[Any], Any] | None, int | None] | None] = []
        for i in wanted:
            if i >= known:
                self.steps.append(None)
                continue
            position = var.index(i) if i in var else None
            self.steps.append((3 + 2 * i, 4 + 2 * i, _python_converter(columns[i]), position))

    def row(self, value: bytes) -> list[Any]:
        fields = self.struct.unpack_from(value)
        starts = []
        if self.var_fields:
            at = self.fixed_size
            for field in self.var_fields:
                starts.append(at)
                at += fields[field]
        out: list[Any] = []
        for step in self.steps:
            if step is None or fields[step[0]]:
                out.append(None)
                continue
            _, at_value, convert, var = step
            if var is not None:
                start = starts[var]
                out.append(convert(value[start : start + fields[at_value]]))  # type: ignore[misc]
            else:
                raw = fields[at_value]
                out.append(raw if convert is None else convert(raw))
        return out


def _width(column: _Column) -> int:
    return np.dtype(column.format).itemsize


def _fixed_values(data: pa.ChunkedArray, column: _Column) -> np.ndarray:
    typ = column.type
    if pa.types.is_timestamp(typ):
        data = data.cast(pa.timestamp("us", tz=typ.tz)).cast(pa.int64())
    elif pa.types.is_date32(typ):
        data = data.cast(pa.int32())
    elif pa.types.is_boolean(typ):
        data = data.cast(pa.uint8())
    zero = pa.scalar(0, data.type) if not pa.types.is_floating(data.type) else pa.scalar(0.0, data.type)
    return pc.fill_null(data, zero).to_numpy()


def _bytes_values(data: pa.ChunkedArray) -> pa.Array:
    return pc.fill_null(data.cast(pa.binary()), b"").combine_chunks()


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("latin-1")
    raise TypeError(f"cannot store {type(value).__name__} online")


def _json_values(data: pa.ChunkedArray) -> pa.Array:
    """Nested values (lists, decimals, structs) are rare in vectors: JSON per value."""
    text = [b"" if v is None else json.dumps(v, default=_json_default).encode() for v in data.to_pylist()]
    return pa.array(text, pa.binary())


def _validity(nulls: np.ndarray | None) -> pa.Buffer | None:
    return None if nulls is None else pa.py_buffer(np.packbits(~nulls, bitorder="little"))


def _var_array(cut: pa.Array, nulls: np.ndarray | None, column: _Column, wide: bool) -> pa.Array:
    """One variable column from its values cut out of the rows (binary, no nulls yet)."""
    if cut.offset:
        cut = pa.concat_arrays([cut])  # offset 0, so the validity bitmap lines up
    buffers = [_validity(nulls), *cut.buffers()[1:]]
    if column.kind == "json":
        raw = pa.Array.from_buffers(cut.type, len(cut), buffers)
        values = [None if v is None else _from_json(json.loads(v), column.type) for v in raw.to_pylist()]
        return pa.array(values, column.type)
    if not wide:
        return pa.Array.from_buffers(column.type, len(cut), buffers)
    typ = pa.large_binary() if pa.types.is_binary(column.type) else pa.large_string()
    return pa.Array.from_buffers(typ, len(cut), buffers).cast(column.type)


def _from_json(value: Any, typ: pa.DataType) -> Any:
    if pa.types.is_decimal(typ):
        return decimal.Decimal(value)
    return value

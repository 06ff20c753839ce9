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
out of the joined rows with one Arrow ``take``. Python rows of a batch
(``decode_objects``) come from the same copies: numpy turns a block of numeric columns
into Python values with one assignment into an object matrix, whose ``tolist`` makes
the rows. A handful of rows is cheaper to decode with one ``struct.unpack_from`` per
row (``decode_rows``), because each numpy or Arrow call costs microseconds; all three
give equal values. Schemas only grow by appending columns, so a row written with fewer
columns decodes with the trailing ones null, and a row written
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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
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

    def decode_objects(
        self, values: list[bytes | None], wanted: list[int], out: np.ndarray | None = None, place: Any = None
    ) -> np.ndarray:
        """Like :meth:`decode_rows`, as an object matrix (missing rows all None): numpy
        makes the Python values of whole column blocks in C, and one ``tolist`` makes rows.

        The values go into ``out`` (rows x anything, None-filled, e.g. ``np.empty(...,
        object)``) at columns ``place`` (one per wanted column), so a caller assembling
        several groups copies nothing; by default into a new (rows x wanted) matrix.
        """
        n = len(values)
        if out is None:
            out, place = np.empty((n, len(wanted)), object), np.arange(len(wanted))
        place = np.asarray(place)
        present = list(filter(None, values))
        if len(present) == n:
            self._decode_present(present, wanted, (out, place))
        elif present:
            found = np.flatnonzero(np.fromiter((v is not None for v in values), bool, count=n))
            out[np.ix_(found, place)] = self.decode_objects(present, wanted)
        return out

    def decode_rows(self, values: list[bytes | None], wanted: Sequence[int]) -> list[list[Any] | None]:
        """Python values per row (None = no row), as Arrow's ``to_pylist`` would give them.

        For a few rows this beats building Arrow arrays, which costs per column.
        """
        key = wanted if type(wanted) is tuple else tuple(wanted)
        out: list[list[Any] | None] = []
        for value in values:
            if value is None:
                out.append(None)
                continue
            ncols, fixed_size = _SIZES.unpack_from(value, 8)
            recipe = self._row_recipes.get((ncols, fixed_size, key))
            if recipe is None:
                known = min(ncols, len(self.columns))
                recipe = _RowRecipe(self.columns, known, fixed_size, list(key))
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

    def _decode_present(
        self, values: list[bytes], wanted: list[int], into: tuple[np.ndarray, np.ndarray] | None = None
    ) -> list[pa.Array] | None:
        """Arrow arrays of rows that all exist, or their Python values put ``into`` a
        matrix at the given columns (see :meth:`decode_objects`)."""
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
            if into is not None:
                recipe.objects(n, data, lengths, fixed, stride, *into)
                return None
            return recipe.run(n, data, lengths, fixed, stride)
        # Rows written with different schemas (the group grew): decode each kind apart.
        heads = np.frombuffer(b"".join([v[: HEADER.itemsize] for v in values]), HEADER)
        counts = np.unique(heads["ncols"])
        if len(counts) == 1:
            raise ValueError(f"online rows of {counts[0]} columns shorter than their fixed part")
        if into is not None:
            out, place = into
            for count in counts:
                rows = np.flatnonzero(heads["ncols"] == count)
                out[np.ix_(rows, place)] = self.decode_objects([values[i] for i in rows], wanted)
            return None
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
    Python values (``objects``) come from the same copies: numpy turns a whole block of
    int64, uint64, float64 or bool columns into Python values with one assignment.
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
        # Where each column goes in an object matrix (a column may be asked for twice).
        self.targets: dict[int, list[int]] = {}
        for at, i in enumerate(wanted):
            self.targets.setdefault(i, []).append(at)
        # Fixed columns grouped by width, each group cut into runs of evenly spaced
        # values: (first value byte, distance between values, how many).
        self.groups: list[tuple[int, list[int], list[tuple[int, int, int]]]] = []
        self.object_plans: list[_ObjectPlan] = []
        for width in (8, 4, 1):
            members = [i for i in self.present if columns[i].kind == "fixed" and _width(columns[i]) == width]
            if members:
                self.groups.append((width, members, _runs([offsets[i] + 1 for i in members])))
                self.object_plans.append(_ObjectPlan(columns, members, self.targets))
        # Every variable column up to ``known`` matters: each one shifts the next.
        self.var_all = [i for i in range(known) if columns[i].kind != "fixed"]
        self.var_wanted = [i for i in self.present if columns[i].kind != "fixed"]
        self.var_index = (
            np.concatenate([np.arange(offsets[i] + 1, offsets[i] + 5) for i in self.var_all])
            if self.var_wanted
            else None
        )
        # When every wanted variable column is a string, ``objects`` cuts them all at once.
        unique = [i for i in self.var_all if i in self.var_wanted]
        plain = unique and all(columns[i].type == pa.string() for i in unique)
        self.strings = unique if plain else []
        self.string_slots = [self.var_all.index(i) for i in self.strings]

    def run(self, n: int, data: bytes, lengths: np.ndarray | None, fixed: Any, stride: int) -> list[pa.Array]:
        """Decode ``n`` rows: ``data`` all values joined, ``lengths`` their sizes (None:
        all equal), ``fixed`` (a buffer) the rows' fixed parts, every ``stride`` bytes."""
        raw = np.ndarray((n, stride), np.uint8, fixed)
        nulls = self._nulls(raw)
        out: dict[int, pa.Array] = {}
        for (_, members, _), block in zip(self.groups, self._blocks(n, fixed, stride), strict=True):
            # The columns are slices of the block's one buffer, so readers can see they follow each other.
            buffer = pa.py_buffer(block)
            for j, i in enumerate(members):
                out[i] = self._fixed_array(i, block, j, buffer, nulls[i])
        if self.var_wanted:
            out.update(self._variable(data, lengths, raw, nulls))
        return [out[i] if i in out else pa.nulls(n, self.columns[i].type) for i in self.wanted]

    def objects(
        self,
        n: int,
        data: bytes,
        lengths: np.ndarray | None,
        fixed: Any,
        stride: int,
        out: np.ndarray,
        place: np.ndarray,
    ) -> None:
        """The same rows as :meth:`run`, as the Python values Arrow's ``to_pylist`` gives,
        put in ``out`` at columns ``place[k]`` for wanted column ``k``. Columns the rows
        were written without are left as they are (None)."""
        raw = np.ndarray((n, stride), np.uint8, fixed)
        nulls = self._nulls(raw)
        for plan, block in zip(self.object_plans, self._blocks(n, fixed, stride), strict=True):
            for dtype, rows, targets in plan.numeric:
                out[:, place[targets]] = block[rows].view(dtype).T
            for j, fmt, convert, targets in plan.other:
                values = map(convert, block[j].view(fmt).tolist())
                out[:, place[targets]] = np.fromiter(values, object, count=n)[:, None]
        if self.strings:  # every wanted variable column is a string: one take for all
            for values, i in zip(self._strings(data, lengths, raw), self.strings, strict=True):
                out[:, place[self.targets[i]]] = values[:, None]
        elif self.var_wanted:
            for i, array in self._variable(data, lengths, raw, nulls).items():
                if self.columns[i].kind == "bytes":
                    values = array.to_numpy(zero_copy_only=False)
                else:
                    values = np.fromiter(array.to_pylist(), object, count=n)
                out[:, place[self.targets[i]]] = values[:, None]
        for i, mask in nulls.items():
            if mask is not None:
                for at in place[self.targets[i]]:
                    out[mask, at] = None

    def _nulls(self, raw: np.ndarray) -> dict[int, np.ndarray | None]:
        """Per present column, its null mask, or None when no row is null."""
        flags = raw[:, self.flag_index] if len(self.present) else raw[:, :0]
        has_nulls = flags.any(axis=0).tolist()
        return {i: (flags[:, j] == 1 if has_nulls[j] else None) for j, i in enumerate(self.present)}

    def _blocks(self, n: int, fixed: Any, stride: int) -> Iterator[np.ndarray]:
        """Per width group, its values as one (columns x rows) array, a strided copy per run."""
        for width, members, runs in self.groups:
            block = np.empty((len(members), n), f"<u{width}")
            j = 0
            for first, step, count in runs:
                block[j : j + count] = np.ndarray((count, n), block.dtype, fixed, first, (step, stride))
                j += count
            yield block

    def _fixed_array(
        self, i: int, block: np.ndarray, j: int, buffer: pa.Buffer, nulls: np.ndarray | None
    ) -> pa.Array:
        """Column ``i``, row ``j`` of ``block`` (whose buffer is ``buffer``), as Arrow."""
        n, width = block.shape[1], block.itemsize
        if width == 1:
            values = pa.py_buffer(np.packbits(block[j].astype(bool), bitorder="little"))
        else:
            values = buffer.slice(j * n * width, n * width)
        return pa.Array.from_buffers(self.columns[i].type, n, [_validity(nulls), values])

    def _variable(
        self, data: bytes, lengths: np.ndarray | None, raw: np.ndarray, nulls: dict[int, np.ndarray | None]
    ) -> dict[int, pa.Array]:
        """Variable columns, each one ``take`` of the rows' segments (see :meth:`_segments`)."""
        flat, wide = self._segments(data, lengths, raw)
        n, step = raw.shape[0], len(self.var_all) + 2
        out = {}
        for j, i in enumerate(self.var_all):
            if i in self.var_wanted:
                cut = flat.take(np.arange(j + 1, n * step, step))
                out[i] = _var_array(cut, nulls[i], self.columns[i], wide)
        return out

    def _strings(self, data: bytes, lengths: np.ndarray | None, raw: np.ndarray) -> np.ndarray:
        """The Python values of every wanted string column (``self.strings``), as one
        (columns x rows) object array made by one ``take`` (nulls not applied yet)."""
        flat, wide = self._segments(data, lengths, raw)
        n, step = raw.shape[0], len(self.var_all) + 2
        index = np.concatenate([np.arange(j + 1, n * step, step) for j in self.string_slots])
        cut = flat.take(index)
        strings = pa.Array.from_buffers(pa.large_string() if wide else pa.string(), len(cut), cut.buffers())
        return strings.to_numpy(zero_copy_only=False).reshape(len(self.strings), n)

    def _segments(self, data: bytes, lengths: np.ndarray | None, raw: np.ndarray) -> tuple[pa.Array, bool]:
        """Every row cut into segments (fixed part, one per variable column, then whatever
        a newer writer appended), all rows' segments as one Arrow binary array over
        ``data`` without copying; and whether it needed 64-bit offsets."""
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
        return flat, wide


class _ObjectPlan:
    """How one width group's block becomes Python values: columns whose stored value is
    already their Python value (integers, floats; bools as numpy's) go by numpy dtype,
    one fancy-indexed assignment per dtype; the others (timestamps, dates) value by value,
    with the converters of the per-row decoder, so both give the same values."""

    def __init__(self, columns: list[_Column], members: list[int], targets: dict[int, list[int]]) -> None:
        by_dtype: dict[str, tuple[list[int], list[int]]] = {}
        self.other: list[tuple[int, str, Callable[[Any], Any], list[int]]] = []
        for j, i in enumerate(members):
            column = columns[i]
            convert = _python_converter(column)
            if convert is not None and convert is not bool:
                self.other.append((j, column.format, convert, targets[i]))
                continue
            rows, cols = by_dtype.setdefault("?" if convert is bool else column.format, ([], []))
            rows += [j] * len(targets[i])
            cols += targets[i]
        self.numeric = [(dtype, np.array(rows), np.array(cols)) for dtype, (rows, cols) in by_dtype.items()]


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
    """Decode one row of one layout with a single ``struct.unpack_from``.

    The wanted values are picked out of the unpacked fields by one ``itemgetter``; only
    strings, converted types (timestamps, dates, bools, nested) and nulls need a step of
    their own, so a row of plain numbers costs a few C calls whatever its width.
    """

    def __init__(self, columns: list[_Column], known: int, fixed_size: int, wanted: list[int]) -> None:
        codes = "".join("B" + _STRUCT_CODES[c.format] for c in columns[:known])
        self.struct = struct.Struct("<qHI" + codes)
        self.fixed_size = fixed_size
        var = [i for i in range(known) if columns[i].kind != "fixed"]
        self.var_fields = [4 + 2 * i for i in var]
        # A column the row was written without is picked from a None appended to the fields.
        self.pad = any(i >= known for i in wanted)
        missing = 3 + 2 * known
        picks = [4 + 2 * i if i < known else missing for i in wanted]
        self.pick = _picker(picks)
        self.flags = _picker([3 + 2 * i for i in wanted if i < known])
        self.nulls = {k: 3 + 2 * i for k, i in enumerate(wanted) if i < known}
        self.strings: list[tuple[int, int, Callable[[Any], Any]]] = []  # (k, var position, convert)
        self.converts: list[tuple[int, Callable[[Any], Any]]] = []
        for k, i in enumerate(wanted):
            if i >= known:
                continue
            convert = _python_converter(columns[i])
            if i in var:
                self.strings.append((k, var.index(i), convert))  # type: ignore[arg-type]
            elif convert is not None:
                self.converts.append((k, convert))

    def row(self, value: bytes) -> list[Any]:
        fields = self.struct.unpack_from(value)
        if self.pad:
            fields += (None,)
        out = list(self.pick(fields))
        null = {k for k, flag in self.nulls.items() if fields[flag]} if any(self.flags(fields)) else ()
        if self.strings:
            starts, at = [], self.fixed_size
            for field in self.var_fields:
                starts.append(at)
                at += fields[field]
            for k, position, convert in self.strings:
                start = starts[position]
                out[k] = None if k in null else convert(value[start : start + out[k]])
        for k, convert in self.converts:
            out[k] = None if k in null else convert(out[k])
        for k in null:
            out[k] = None
        return out


def _picker(indices: list[int]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """``itemgetter(*indices)``, always giving a tuple (also for one index, or none)."""
    if len(indices) > 1:
        return itemgetter(*indices)
    if indices:
        only = indices[0]
        return lambda fields: (fields[only],)
    return lambda fields: ()


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

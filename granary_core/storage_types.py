"""Which Arrow types a feature group can store, and the one form each is stored in.

Every insert passes through :func:`conform` before anything is stored, on the embedded
path and the remote one alike (``FeatureStoreEngine.prepare_insert``), so a column the
offline store (Delta), DuckDB or the online store could not hold is refused with its
name, and the group's schema and rows stay as they were.

Stored types, and what is normalized into them:

- ``bool``; ``int64`` from every integer type (uint64 values above 2**63 - 1 are
  refused: Delta Lake has no unsigned types); ``double`` from half, single and double
  floats; ``decimal128(p, s)`` from decimal32/64/128, and decimal256 up to 38 digits
- ``string`` (large and view strings); ``binary`` (large, view and fixed-size binary)
- ``date32[day]`` (from date64) and ``timestamp[us, tz=UTC]`` from every unit and time
  zone; naive times are UTC. Nanoseconds (pandas' default unit) are floored to the
  microsecond, as Spark stores them. Dates and times must lie in years 1 to 9999, the
  range Python, ISO-8601 text and Spark share.
- ``list<...>`` (large and fixed-size lists) of bool, integers, floats, strings,
  or lists of these: the online store keeps nested values as JSON, which cannot tell a
  time, date, decimal or byte string from text.

Everything else (time of day, durations, intervals, structs, maps, unions, list views,
extension types, decimal256 over 38 digits) is refused with a hint of how to store it.
``type_from_string`` reads the stored names back; a test checks it inverts every
stored type.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from granary_core.errors import InvalidInput, SchemaMismatch

EVENT_TIME_TYPE = pa.timestamp("us", tz="UTC")
MAX_DECIMAL128_PRECISION = 38
FIRST_DAY = dt.date(1, 1, 1)
LAST_DAY = dt.date(9999, 12, 31)
_EPOCH = dt.date(1970, 1, 1)
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_DAY_SECONDS = 86_400
_LIST_ITEMS = "bool, integers, floats, strings or lists of these"


def _hint(typ: pa.DataType) -> str:
    if pa.types.is_time(typ):
        return "a time of day; store it as int64 microseconds since midnight, or as a string"
    if pa.types.is_duration(typ) or pa.types.is_interval(typ):
        return "a duration; store it as int64 (e.g. microseconds) or double seconds"
    if pa.types.is_struct(typ):
        return "a struct; store its fields as columns of their own"
    if pa.types.is_map(typ):
        return "a map; store its keys and values as columns, or the map as a JSON string"
    if pa.types.is_decimal(typ):
        return f"more than {MAX_DECIMAL128_PRECISION} digits; use decimal128 or double"
    if pa.types.is_list_view(typ) or pa.types.is_large_list_view(typ):
        return "a list view; send it as a list (Arrow cannot cast list views to lists yet)"
    return "store it as one of bool, int64, double, decimal128, string, binary, date, timestamp"


def storage_type(typ: pa.DataType, where: str = "a column") -> pa.DataType:
    """The type a column of ``typ`` is stored as; ``SchemaMismatch`` naming ``where`` if none.

    ``null`` (an all-null column) stays ``null``: it takes the stored type of its column,
    or is refused on a group's first insert (see :func:`granary_core.schema.reconcile`).
    """
    if pa.types.is_dictionary(typ):
        return storage_type(typ.value_type, where)
    if pa.types.is_null(typ) or pa.types.is_boolean(typ):
        return typ
    if pa.types.is_integer(typ):
        return pa.int64()
    if pa.types.is_floating(typ):
        return pa.float64()
    if pa.types.is_decimal(typ) and typ.precision <= MAX_DECIMAL128_PRECISION:
        return pa.decimal128(typ.precision, typ.scale)
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_string_view(typ):
        return pa.string()
    if (
        pa.types.is_binary(typ)
        or pa.types.is_large_binary(typ)
        or pa.types.is_binary_view(typ)
        or pa.types.is_fixed_size_binary(typ)
    ):
        return pa.binary()
    if pa.types.is_date(typ):
        return pa.date32()
    if pa.types.is_timestamp(typ):
        return EVENT_TIME_TYPE
    if _is_list(typ):
        item = storage_type(typ.value_type, where)
        if not (_is_list(item) or item in (pa.bool_(), pa.int64(), pa.float64(), pa.string())):
            raise SchemaMismatch(
                f"{where} is {typ}: a list of {typ.value_type}; lists may hold {_LIST_ITEMS}"
            )
        return pa.list_(item)
    raise SchemaMismatch(f"{where} is {typ}, which Granary cannot store: {_hint(typ)}")


def _is_list(typ: pa.DataType) -> bool:
    return pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_fixed_size_list(typ)


def conform(column: pa.ChunkedArray, where: str) -> pa.ChunkedArray:
    """``column`` in its stored type; ``where`` names the column in every refusal.

    Values are checked before the cast, so a time no store could hold is refused by
    name rather than overflowing or failing deep in a writer.
    """
    target = storage_type(column.type, where)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_timestamp(column.type):
        unit = column.type.unit
        _check_range(column.cast(pa.int64()), unit, _PER_SECOND[unit] * _DAY_SECONDS, where)
        if unit == "ns":
            column = pc.floor_temporal(column, unit="microsecond")
    elif pa.types.is_date32(column.type):
        _check_range(column.cast(pa.int32()), "days", 1, where)
    elif pa.types.is_date64(column.type):
        _check_range(column.cast(pa.int64()), "ms", 1_000 * _DAY_SECONDS, where)
    elif column.type == pa.uint64():
        largest = pc.max(column).as_py()
        if largest is not None and largest >= 2**63:
            raise InvalidInput(
                f"{where} holds {largest}, above 2**63 - 1, the largest integer Granary stores; "
                "store it as decimal128(20, 0) or as a string"
            )
    if column.type == target:
        return column
    try:
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInput(f"{where}: cannot store {column.type} as {target}: {exc}") from None


def _check_range(ticks: pa.ChunkedArray, unit: str, per_day: int, where: str) -> None:
    """Refuse values before year 1 or after 9999 (``ticks`` of ``unit`` since the epoch)."""
    lowest = (FIRST_DAY - _EPOCH).days * per_day
    highest = ((LAST_DAY - _EPOCH).days + 1) * per_day - 1
    bounds = pc.min_max(ticks)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low is None:
        return
    if low < lowest or high > highest:
        bad = low if low < lowest else high
        raise InvalidInput(f"{where} has a value outside years 1 to 9999: {bad} {unit} since 1970-01-01")


#: A ttl beyond the span of storable times (years 1 to 9999) would mean "never expires".
MAX_TTL_SECONDS = 10_000 * 366 * _DAY_SECONDS


def check_ttl(where: str, ttl_seconds: float | None) -> None:
    """A group's ttl is joined as microseconds and expires online keys in milliseconds:
    it must be a finite, positive number of seconds no larger than ``MAX_TTL_SECONDS``."""
    if ttl_seconds is None:
        return
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int | float):
        raise InvalidInput(f"{where}: ttl_seconds must be a number of seconds, got {ttl_seconds!r}")
    if not 0 < ttl_seconds <= MAX_TTL_SECONDS:  # also refuses NaN, which compares false
        raise InvalidInput(
            f"{where}: ttl_seconds must be positive and at most {MAX_TTL_SECONDS} (10,000 years), "
            f"got {ttl_seconds!r}"
        )


_SIMPLE_TYPES = {
    str(t): t for t in (pa.int64(), pa.float64(), pa.string(), pa.bool_(), pa.binary(), pa.date32())
}
_SIMPLE_TYPES["float64"] = pa.float64()
_SIMPLE_TYPES["uint64"] = pa.int64()  # recorded by earlier versions; Delta held int64 all along


def type_from_string(name: str) -> pa.DataType:
    """Parse the type names a feature group's schema records (``str`` of a stored type)."""
    if name in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[name]
    if name.startswith("timestamp["):
        return EVENT_TIME_TYPE
    if name.startswith("list<item: ") and name.endswith(">"):
        return pa.list_(type_from_string(name[len("list<item: ") : -1]))
    if name.startswith("decimal128(") and name.endswith(")"):
        precision, scale = name[len("decimal128(") : -1].split(",")
        return pa.decimal128(int(precision), int(scale))
    raise InvalidInput(f"unsupported stored column type {name!r}")

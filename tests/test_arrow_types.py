"""Every Arrow type family, inserted through the SDK on both backends.

A type the stores hold is stored in the one form ``granary_core.storage_types`` names and
reads back with the same values; any other is refused with the column named, and the
group keeps its schema and rows, so the next good insert still works. Both happen for a
group's first insert (which fixes the schema) and for a column added later.
"""

from __future__ import annotations

import collections
import datetime as dt
import decimal

import numpy as np
import pyarrow as pa
import pyarrow.tests.strategies as pst
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from granary_core import errors
from granary_core.schema import normalize
from granary_core.storage_types import storage_type, type_from_string

UTC = dt.UTC
TIMES = [dt.datetime(2024, 1, 1, 12, 30, tzinfo=UTC), None, dt.datetime(1, 1, 1, tzinfo=UTC)]


def _families() -> dict[str, pa.Array]:
    """One column per type family (three rows, with a null where the type allows one)."""
    dec = [decimal.Decimal("1.25"), None, decimal.Decimal("-3.50")]
    naive = [t.replace(tzinfo=None) if t else None for t in TIMES]
    return {
        "int8": pa.array([1, None, -3], pa.int8()),
        "int16": pa.array([1, None, -3], pa.int16()),
        "int32": pa.array([1, None, -3], pa.int32()),
        "int64": pa.array([1, None, -3], pa.int64()),
        "uint8": pa.array([1, None, 255], pa.uint8()),
        "uint32": pa.array([1, None, 2**32 - 1], pa.uint32()),
        "uint64": pa.array([1, None, 2**63 - 1], pa.uint64()),
        "float16": pa.array(np.array([1.5, 0, -2.0], np.float16), mask=np.array([False, True, False])),
        "float32": pa.array([1.5, None, -2.0], pa.float32()),
        "float64": pa.array([1.5, None, -2.0], pa.float64()),
        "bool": pa.array([True, None, False]),
        "decimal32": pa.array(dec, pa.decimal32(9, 2)),
        "decimal128": pa.array(dec, pa.decimal128(20, 2)),
        "decimal256_38": pa.array(dec, pa.decimal256(38, 2)),
        "decimal256_40": pa.array(dec, pa.decimal256(40, 2)),
        "string": pa.array(["a", None, "ü"]),
        "large_string": pa.array(["a", None, "ü"], pa.large_string()),
        "string_view": pa.array(["a", None, "ü"], pa.string_view()),
        "dictionary": pa.array(["a", None, "a"]).dictionary_encode(),
        "binary": pa.array([b"\x00\xff", None, b""]),
        "large_binary": pa.array([b"\x00\xff", None, b""], pa.large_binary()),
        "binary_view": pa.array([b"\x00\xff", None, b""], pa.binary_view()),
        "fixed_size_binary": pa.array([b"ab", None, b"cd"], pa.binary(2)),
        "date32": pa.array([dt.date(2024, 1, 1), None, dt.date(9999, 12, 31)], pa.date32()),
        "date64": pa.array([dt.date(2024, 1, 1), None, dt.date(1, 1, 1)], pa.date64()),
        "timestamp_s": pa.array(naive, pa.timestamp("s")),
        "timestamp_ms_tz": pa.array(TIMES, pa.timestamp("ms", tz="Europe/Berlin")),
        "timestamp_us_utc": pa.array(TIMES, pa.timestamp("us", tz="UTC")),
        "timestamp_ns": pa.array([1_704_112_200_123_456_789, None, 0], pa.timestamp("ns")),
        "time32": pa.array([1, None, 3], pa.time32("s")),
        "time64": pa.array([1, None, 3], pa.time64("us")),
        "duration": pa.array([1, None, 3], pa.duration("s")),
        "interval": pa.array([pa.MonthDayNano([1, 2, 3]), None, pa.MonthDayNano([0, 0, 1])]),
        "struct": pa.array([{"a": 1}, None, {"a": 3}]),
        "map": pa.array([[("a", 1)], None, []], pa.map_(pa.string(), pa.int64())),
        "dense_union": pa.UnionArray.from_dense(
            pa.array([0, 1, 0], pa.int8()),
            pa.array([0, 0, 1], pa.int32()),
            [pa.array([1, 2]), pa.array(["x"])],
        ),
        "list_int": pa.array([[1, None], None, []], pa.list_(pa.int32())),
        "large_list_float": pa.array([[1.5], None, []], pa.large_list(pa.float64())),
        "fixed_size_list": pa.array([[1, 2], None, [3, 4]], pa.list_(pa.int64(), 2)),
        "list_view_string": pa.array([["a"], None, []], pa.list_view(pa.string())),
        "list_of_lists": pa.array([[[1], []], None, []], pa.list_(pa.list_(pa.int64()))),
        "list_timestamp": pa.array([[TIMES[0]], None, []], pa.list_(pa.timestamp("us", tz="UTC"))),
        "list_struct": pa.array([[{"a": 1}], None, []], pa.list_(pa.struct([("a", pa.int64())]))),
        "run_end_encoded": pa.RunEndEncodedArray.from_arrays([2, 3], pa.array([1, 2])),
        "uuid_extension": pa.array([b"0" * 16, None, b"1" * 16], pa.uuid()),
    }


FAMILIES = _families()


def _stored_as(typ: pa.DataType) -> pa.DataType | None:
    try:
        return storage_type(typ)
    except errors.SchemaMismatch:
        return None


def _keys(start: int) -> dict[str, pa.Array]:
    return {
        "k": pa.array(range(start, start + 3), pa.int64()),
        "ts": pa.array([dt.datetime(2025, 1, 1, tzinfo=UTC)] * 3, pa.timestamp("us", tz="UTC")),
    }


def _state(fg) -> tuple[list[tuple[str, str]], list[int], int]:
    """The group's schema, its keys offline and online, and its number of commits."""
    fg._refresh()
    schema = [(f.name, f.type) for f in fg.features]
    if not schema:
        return schema, [], [], len(fg.commit_details())
    offline = sorted(fg.read(dataframe_type="pyarrow")["k"].to_pylist())
    online = sorted(fg.read(online=True, dataframe_type="pyarrow")["k"].to_pylist())
    return schema, offline, online, len(fg.commit_details())


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_type_family_is_stored_or_refused_leaving_the_group_unchanged(fs, family):
    column = FAMILIES[family]
    stored = _stored_as(column.type)
    fg = fs.create_feature_group(
        f"types_{family}", version=1, primary_key=["k"], event_time="ts", online_enabled=True
    )

    # 1. the first insert, which fixes the schema
    first = pa.table({**_keys(0), "x": column})
    if stored is None:
        with pytest.raises(errors.SchemaMismatch, match="column 'x' is "):
            fg.insert(first)
        assert _state(fg) == ([], [], [], 0), "a refused first insert stored something"
        fg.insert(pa.table(_keys(0)))
        before = _state(fg)
        # 2. the same column added to a group that has data
        with pytest.raises(errors.SchemaMismatch, match="column 'x' is "):
            fg.insert(pa.table({**_keys(10), "x": column}))
        assert _state(fg) == before, "a refused insert changed the group"
        fg.insert(pa.table(_keys(20)))
        assert _state(fg)[1:3] == ([0, 1, 2, 20, 21, 22],) * 2
        return

    fg.insert(first)
    assert [(f.name, f.type) for f in fg.features][-1] == ("x", str(stored))
    got = fg.read(dataframe_type="pyarrow").sort_by("k")["x"]
    expected = column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column
    if pa.types.is_timestamp(column.type) and column.type.unit == "ns":
        expected = pa.array([1_704_112_200_123_456, None, 0], pa.timestamp("us"))
    assert got.to_pylist() == expected.cast(stored).to_pylist()
    online = fg.read(online=True, dataframe_type="pyarrow").sort_by("k")["x"]
    assert online.to_pylist() == got.to_pylist()
    fg.insert(pa.table({**_keys(3), "x": column}))  # the stored type accepts it again
    assert len(fg.read()) == 6


@pytest.mark.parametrize("family", [f for f, c in FAMILIES.items() if _stored_as(c.type) is not None])
def test_stored_type_names_read_back_as_the_same_type(family):
    stored = storage_type(FAMILIES[family].type)
    assert type_from_string(str(stored)) == stored


# Generated types and values (pyarrow's own hypothesis strategies) -------------------------
# pyarrow's strategy skips naive timestamps (it needs a zone to draw values), so zones are given.
_ZONED_TIMESTAMPS = st.builds(
    pa.timestamp,
    unit=st.sampled_from(["s", "ms", "us", "ns"]),
    tz=st.sampled_from(["UTC", "+05:30", "Asia/Tokyo"]),
)
_PRIMITIVES = st.one_of(
    pst.null_type,
    pst.bool_type,
    pst.numeric_types,
    pst.date_types,
    pst.time_types,
    _ZONED_TIMESTAMPS,
    pst.duration_types,
    pst.binary_like_types,
)
GENERATED_TYPES = st.deferred(
    lambda: (
        _PRIMITIVES
        | pst.list_types(_PRIMITIVES)
        | pst.list_types(pst.list_types(_PRIMITIVES))
        | pst.struct_types(_PRIMITIVES)
        | pst.dictionary_types()
        | pst.map_types()
    )
)


def test_generated_tables_are_stored_in_the_policy_types_or_refused_by_name():
    """Whatever Arrow hands us: a ``GranaryError`` naming a column, or a valid table whose
    every type is a stored type that reads back from its recorded name."""
    outcomes: collections.Counter[str] = collections.Counter()

    @given(table=pst.tables(GENERATED_TYPES, max_fields=4))
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def check(table: pa.Table) -> None:
        try:
            stored = normalize(table, "insert")
        except errors.GranaryError as exc:
            assert isinstance(exc, errors.InvalidInput)
            assert "column" in exc.message
            outcomes["refused"] += 1
            return
        stored.validate(full=True)
        for field in stored.schema:
            if not pa.types.is_null(field.type):
                assert storage_type(field.type) == field.type
                assert type_from_string(str(field.type)) == field.type
        outcomes["stored"] += 1

    check()
    print(f"attempts={sum(outcomes.values())} refused={outcomes['refused']} stored={outcomes['stored']}")
    assert outcomes["refused"] and outcomes["stored"]

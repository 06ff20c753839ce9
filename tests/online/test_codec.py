"""The row codec: columnar and per-row decoding agree, whatever the layout of the rows.

``decode_arrays`` (numpy and Arrow over whole batches), ``decode_objects`` (the same
copies, as one matrix of Python values) and ``decode_rows`` (one ``struct.unpack`` per
row) are three implementations of one format; serving uses the first for Arrow results,
the second for Python rows of batches and the third for a few entries, so they must
give equal values,
equal to what was encoded, including nulls, strings, nested values, missing rows, rows
of an older schema (fewer columns) and of a newer one (more columns).
"""

from __future__ import annotations

import datetime as dt
import decimal

import numpy as np
import pyarrow as pa
import pytest

from data_plane.online.codec import RowCodec

UTC = dt.UTC


def _table(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)

    def maybe(values: list) -> list:
        return [None if rng.random() < 0.2 else v for v in values]

    start = dt.datetime(2025, 1, 1, tzinfo=UTC)
    return pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "f": pa.array(maybe(rng.random(n).tolist()), pa.float64()),
            "s": pa.array(maybe([f"v{'x' * int(i)}" for i in rng.integers(0, 9, n)]), pa.string()),
            "i": pa.array(maybe(rng.integers(-5, 5, n).tolist()), pa.int64()),
            "b": pa.array(maybe((rng.random(n) < 0.5).tolist()), pa.bool_()),
            "d": pa.array(maybe([dt.date(2025, 1, 1 + int(i)) for i in rng.integers(0, 27, n)]), pa.date32()),
            "t": pa.array(
                maybe([start + dt.timedelta(seconds=int(i)) for i in rng.integers(0, 10**6, n)]),
                pa.timestamp("us", tz="UTC"),
            ),
            "u": pa.array(maybe(rng.integers(0, 9, n).tolist()), pa.uint64()),
            "bin": pa.array(maybe([bytes([int(i)]) * int(i) for i in rng.integers(0, 5, n)]), pa.binary()),
            "g": pa.array(maybe(rng.random(n).tolist()), pa.float64()),
            "l": pa.array(
                maybe([[int(i)] * int(i % 3) for i in rng.integers(0, 9, n)]), pa.list_(pa.int64())
            ),
            "dec": pa.array(
                maybe([decimal.Decimal(f"{i}.25") for i in rng.integers(0, 9, n)]), pa.decimal128(10, 2)
            ),
        }
    )


def _check(codec: RowCodec, values: list, expected: list, columns: list[str]) -> None:
    wanted = codec.positions(columns)
    arrays, found = codec.decode_arrays(values, wanted)
    rows = codec.decode_rows(values, wanted)
    matrix = codec.decode_objects(values, wanted)
    assert matrix.shape == (len(values), len(wanted))
    want_rows = [want or [None] * len(wanted) for want in expected]
    assert matrix.tolist() == want_rows
    assert [list(map(type, r)) for r in matrix.tolist()] == [list(map(type, r)) for r in want_rows]
    assert found.tolist() == [v is not None for v in values]
    by_column = [a.to_pylist() for a in arrays]
    for r, (row, want) in enumerate(zip(rows, expected, strict=True)):
        assert [c[r] for c in by_column] == (want or [None] * len(wanted))
        assert row == want


@pytest.mark.parametrize(
    "columns", [None, ["g", "s", "f"], ["l", "dec", "bin", "t", "b"], ["s"], ["f", "i", "f", "u", "d"]]
)
@pytest.mark.parametrize("n", [1, 7, 300])
def test_batch_and_row_decoding_agree(n, columns):
    table = _table(n, seed=n)
    codec = RowCodec(table.schema)
    names = columns or table.column_names
    values = codec.encode(table, None)
    values = [None if i % 5 == 3 else v for i, v in enumerate(values)]
    expected = [
        None if v is None else [table.column(c)[i].as_py() for c in names] for i, v in enumerate(values)
    ]
    _check(codec, values, expected, names)


def test_rows_of_older_and_newer_schemas():
    table = _table(60, seed=3)
    old, new = table.select(table.column_names[:5]), table.append_column("extra", pa.array(["zz"] * 60))
    reader = RowCodec(table.schema)
    values = RowCodec(old.schema).encode(old, None)[:20]
    values += RowCodec(table.schema).encode(table, None)[20:40]
    values += RowCodec(new.schema).encode(new, None)[40:]
    names = ["s", "g", "id", "l", "bin"]
    expected = [
        [table.column(c)[i].as_py() if (i >= 20 or c in old.column_names) else None for c in names]
        for i in range(60)
    ]
    _check(reader, values, expected, names)


def test_rows_of_equal_length():
    table = pa.table({"k": pa.array(["ab", "cd", None]), "x": pa.array([1.5, None, 3.0])})
    codec = RowCodec(table.schema)
    values = codec.encode(table, None)
    assert len({len(v) for v in values[:2]}) == 1
    _check(codec, values[:2], [["ab", 1.5], ["cd", None]], ["k", "x"])


def test_rows_all_of_a_newer_schema():
    table = _table(40, seed=4)
    new = table.append_column("extra", pa.array([f"e{i}" for i in range(40)]))
    values = RowCodec(new.schema).encode(new, None)
    names = ["bin", "s", "f", "dec"]
    expected = [[table.column(c)[i].as_py() for c in names] for i in range(40)]
    _check(RowCodec(table.schema), values, expected, names)

"""TFRecord training data files: every Arrow type a feature can have maps onto a TFRecord
value kind and back, and the files read with the ``tfrecord`` package's own loader, as a
TensorFlow input pipeline would read them."""

from __future__ import annotations

import datetime as dt
import io

import pyarrow as pa
import pytest
from tfrecord.reader import tfrecord_loader

from data_plane import tfrecords
from granary_core import errors

UTC = dt.UTC


def _table() -> pa.Table:
    return pa.table(
        {
            "user": pa.array([1, 2, None], pa.int64()),
            "amount": pa.array([1.5, None, -2.25], pa.float64()),
            "city": pa.array(["Oslo", None, "Zürich"]),
            "fraud": pa.array([True, False, None]),
            "ts": pa.array(
                [dt.datetime(2025, 1, 1, tzinfo=UTC), None, dt.datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC)],
                pa.timestamp("us", tz="UTC"),
            ),
            "day": pa.array([dt.date(2025, 1, 1), dt.date(1969, 12, 31), None]),
            "tags": pa.array([[1, 2, 3], [], [4]], pa.list_(pa.int32())),
        }
    )


def _written(table: pa.Table) -> io.BytesIO:
    sink = io.BytesIO()
    assert tfrecords.write(table.to_batches(max_chunksize=2), table.schema, sink, "here") == table.num_rows
    sink.seek(0)
    return sink


def test_every_feature_type_reads_back_as_it_was_written():
    table = _table()
    assert tfrecords.read(_written(table), table.schema, "here").equals(table)


def test_the_files_read_as_tensorflow_examples(tmp_path):
    path = tmp_path / "train.tfrecord"
    path.write_bytes(_written(_table()).getvalue())
    description = {"user": "int", "amount": "float", "city": "byte", "ts": "int", "day": "int", "tags": "int"}
    records = list(tfrecord_loader(str(path), None, description))
    assert len(records) == 3
    first, second = records[0], records[1]
    assert first["user"].tolist() == [1] and first["amount"].tolist() == [1.5]
    assert first["city"] == b"Oslo" and first["tags"].tolist() == [1, 2, 3]
    assert first["ts"].tolist() == [1_735_689_600_000_000]  # epoch microseconds, UTC
    assert second["day"].tolist() == [-1]  # days since the epoch
    assert second["amount"].tolist() == [] and second["city"].tolist() == []  # a null has no values


def test_floats_are_float32_as_tfrecord_has_no_other():
    table = pa.table({"x": pa.array([0.1], pa.float64())})
    back = tfrecords.read(_written(table), table.schema, "here")
    assert back["x"][0].as_py() == pytest.approx(0.1, rel=1e-7)
    assert back["x"][0].as_py() != 0.1


def test_a_column_without_a_tfrecord_form_is_refused_by_name():
    table = pa.table({"point": pa.array([{"x": 1}])})
    with pytest.raises(errors.InvalidInput, match="here: column 'point' is struct"):
        tfrecords.write(table.to_batches(), table.schema, io.BytesIO(), "here")

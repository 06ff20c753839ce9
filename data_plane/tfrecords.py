"""Training data as TFRecord files of ``tf.train.Example`` records, without TensorFlow.

Hopsworks writes training datasets as ``tfrecord`` for TensorFlow input pipelines
(``tf.data.TFRecordDataset``); teams porting from it keep that format. The record
framing and the ``Example`` message come from the ``tfrecord`` package (its writer's
serializer and checksum); this module only maps Arrow columns onto its three value
kinds, the way TensorFlow's own converters do:

- integers and booleans -> ``int64_list``; timestamps -> ``int64_list`` of epoch
  microseconds (UTC); dates -> days since the epoch;
- floating point and decimals -> ``float_list`` (float32: the only float TFRecord has);
- strings and binary -> ``bytes_list`` (strings UTF-8 encoded);
- a list column -> the list's values in one feature; a null -> a feature with no values
  (how ``tf.io.parse_example`` sees a missing value, filled by its ``default_value``).

Struct and map columns have no TFRecord form and are refused, naming the column.
"""

from __future__ import annotations

import datetime as dt
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

import pyarrow as pa
from tfrecord import example_pb2
from tfrecord.reader import tfrecord_iterator
from tfrecord.writer import TFRecordWriter

from granary_core.errors import InvalidInput

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_DAY = dt.date(1970, 1, 1)


def _epoch_microseconds(t: dt.datetime) -> int:
    """A timestamp as microseconds since the epoch; one without a zone is taken as UTC."""
    return ((t if t.tzinfo else t.replace(tzinfo=dt.UTC)) - _EPOCH) // dt.timedelta(microseconds=1)


def _kind(field: pa.Field, where: str) -> tuple[str, Callable[[Any], Any]]:
    """The TFRecord value kind of a column and how one of its Python values converts."""
    kind = field.type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        inner, convert = _kind(pa.field(field.name, kind.value_type), where)
        return inner, lambda values: [convert(v) for v in values if v is not None]
    if pa.types.is_boolean(kind) or pa.types.is_integer(kind):
        return "int", int
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "float", float
    if pa.types.is_timestamp(kind):
        return "int", _epoch_microseconds
    if pa.types.is_date(kind):
        return "int", lambda d: (d - _EPOCH_DAY).days
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "byte", lambda s: s.encode()
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return "byte", bytes
    raise InvalidInput(f"{where}: column '{field.name}' is {kind}, which has no TFRecord form")


def write(batches: Iterable[pa.RecordBatch], schema: pa.Schema, sink: BinaryIO, where: str) -> int:
    """Write every row of ``batches`` to ``sink`` as one framed ``Example``; the rows written."""
    kinds = [_kind(field, where) for field in schema]
    names = schema.names
    rows = 0
    for batch in batches:
        columns = [column.to_pylist() for column in batch.columns]
        for i in range(batch.num_rows):
            datum = {}
            for name, (kind, convert), column in zip(names, kinds, columns, strict=True):
                value = column[i]
                datum[name] = ([] if value is None else convert(value), kind)
            record = TFRecordWriter.serialize_tf_example(datum)
            length = struct.pack("<Q", len(record))
            checksum = TFRecordWriter.masked_crc
            sink.write(length + checksum(length) + record + checksum(record))
        rows += batch.num_rows
    return rows


#: The Arrow type a TFRecord value kind reads as, before it is cast to the column's type.
_WIRE = {"int": pa.int64(), "float": pa.float32(), "byte": pa.binary()}


def _as_written(kind: pa.DataType, wire: pa.DataType) -> pa.DataType:
    """The type the wire values of a column mean (epoch microseconds are a UTC
    timestamp, days a date, bytes of a string UTF-8), from which a cast reaches ``kind``."""
    if pa.types.is_timestamp(kind):
        return pa.timestamp("us", tz="UTC")
    if pa.types.is_date(kind):
        return pa.int32()
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return pa.string()
    return wire


def _column(values: list, field: pa.Field, kind: str) -> pa.Array:
    listed = pa.types.is_list(field.type) or pa.types.is_large_list(field.type)
    listed = listed or pa.types.is_fixed_size_list(field.type)
    inner = field.type.value_type if listed else field.type
    wire, meant = _WIRE[kind], _as_written(inner, _WIRE[kind])
    if listed:
        wire, meant = pa.list_(wire), pa.list_(meant)
    array = pa.array(values, wire)
    if pa.types.is_timestamp(inner):  # int64 -> timestamp reinterprets; go through int64 -> us
        array = array.view(pa.list_(pa.timestamp("us", tz="UTC")) if listed else pa.timestamp("us", tz="UTC"))
    return array.cast(meant).cast(field.type)


def read(source: BinaryIO, schema: pa.Schema, where: str) -> pa.Table:
    """A file :func:`write` made, as a table of ``schema`` (TFRecord keeps no types: the
    schema recorded beside the file gives them back; floats come back from float32)."""
    kinds = {field.name: _kind(field, where)[0] for field in schema}
    columns: dict[str, list] = {name: [] for name in schema.names}
    listed = {f.name for f in schema if pa.types.is_list(f.type) or pa.types.is_large_list(f.type)}
    with tempfile.NamedTemporaryFile(suffix=".tfrecord") as local:  # the reader takes a path
        shutil.copyfileobj(source, local)
        local.flush()
        for record in tfrecord_iterator(local.name):
            features = example_pb2.Example.FromString(record).features.feature
            for name, values in columns.items():
                feature = features[name]
                which = feature.WhichOneof("kind")
                got = list(getattr(feature, which).value) if which else []
                values.append(got if name in listed else (got[0] if got else None))
    return pa.table({f.name: _column(columns[f.name], f, kinds[f.name]) for f in schema}, schema=schema)

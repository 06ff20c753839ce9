"""Schema rules for feature group inserts.

A group's schema is fixed by its first insert. Later inserts may add nullable
columns; anything else that differs is refused with the column and both types named,
before a byte is written. Representation details that do not change meaning
(large vs. small strings, dictionary encoding, timestamp units and naive time zones,
narrower integers and floats) are normalized first so that pandas, polars and pyarrow
inputs of the same data agree.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from granary.errors import InvalidInput, SchemaMismatch

EVENT_TIME_TYPE = pa.timestamp("us", tz="UTC")


def _normalize_type(typ: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(typ):
        return _normalize_type(typ.value_type)
    if pa.types.is_large_string(typ) or pa.types.is_string_view(typ):
        return pa.string()
    if pa.types.is_large_binary(typ) or pa.types.is_binary_view(typ):
        return pa.binary()
    if pa.types.is_timestamp(typ):
        return pa.timestamp("us", tz="UTC")
    if pa.types.is_date(typ):
        return pa.date32()
    if pa.types.is_signed_integer(typ):
        return pa.int64()
    if pa.types.is_unsigned_integer(typ):
        return pa.int64() if typ.bit_width < 64 else typ
    if pa.types.is_floating(typ):
        return pa.float64()
    if pa.types.is_null(typ):
        return typ
    if pa.types.is_large_list(typ) or pa.types.is_list(typ) or pa.types.is_list_view(typ):
        return pa.list_(_normalize_type(typ.value_type))
    return typ


def normalize(table: pa.Table) -> pa.Table:
    """Cast to Granary's canonical representation; naive timestamps are taken as UTC."""
    target = pa.schema([pa.field(f.name, _normalize_type(f.type), nullable=True) for f in table.schema])
    if target.equals(table.schema, check_metadata=False):
        return table.replace_schema_metadata(None)
    columns = []
    for field, column in zip(target, table.columns, strict=True):
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_timestamp(column.type) and column.type.tz is None:
            column = pc.assume_timezone(column, "UTC")
        columns.append(column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=target)


def check_keys(table: pa.Table, where: str, primary_key: list[str], event_time: str | None) -> None:
    """Keys must be present and non-null: a null key row could never be looked up."""
    for column in [*primary_key, *([event_time] if event_time else [])]:
        if column not in table.column_names:
            raise InvalidInput(f"{where}: column '{column}' is missing (a primary key or event time)")
        nulls = table[column].null_count
        if nulls:
            raise InvalidInput(f"{where}: column '{column}' has {nulls} null value(s); keys may not be null")
    if event_time:
        typ = table.schema.field(event_time).type
        if not (pa.types.is_timestamp(typ) or pa.types.is_date(typ)):
            raise SchemaMismatch(
                f"{where}: event time column '{event_time}' is {typ}, expected a timestamp or date"
            )


def reconcile(table: pa.Table, stored: pa.Schema | None, where: str) -> tuple[pa.Table, pa.Schema]:
    """Fit an insert to the stored schema; return the table and the (maybe grown) schema.

    Columns that are all null arrive typed ``null``; they take the stored type.
    """
    if stored is None:
        untyped = [f.name for f in table.schema if pa.types.is_null(f.type)]
        if untyped:
            raise SchemaMismatch(
                f"{where}: column '{untyped[0]}' is all null, so its type cannot be inferred; "
                "cast it to a concrete type for the first insert"
            )
        return table, table.schema
    missing = [f for f in stored if f.name not in table.column_names]
    if missing:
        f = missing[0]
        raise SchemaMismatch(f"{where}: column '{f.name}' ({f.type}) is missing from the insert")
    columns: dict[str, pa.ChunkedArray] = {}
    for field in stored:
        column = table[field.name]
        if column.type != field.type:
            if not pa.types.is_null(column.type):
                raise SchemaMismatch(
                    f"{where}: column '{field.name}' is {column.type}, expected {field.type}"
                )
            column = column.cast(field.type)
        columns[field.name] = column
    added = [f for f in table.schema if f.name not in stored.names]
    for field in added:
        if pa.types.is_null(field.type):
            raise SchemaMismatch(f"{where}: new column '{field.name}' is all null; give it a type")
        columns[field.name] = table[field.name]
    schema = pa.schema([*stored, *added])
    return pa.table(columns, schema=schema), schema


def schema_to_json(schema: pa.Schema) -> list[dict[str, str]]:
    return [{"name": f.name, "type": str(f.type)} for f in schema]


def schema_from_json(fields: list[dict[str, str]] | None) -> pa.Schema | None:
    if not fields:
        return None
    return pa.schema([pa.field(f["name"], type_from_string(f["type"])) for f in fields])


_SIMPLE_TYPES = {
    "int64": pa.int64(),
    "uint64": pa.uint64(),
    "double": pa.float64(),
    "float64": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "binary": pa.binary(),
    "date32[day]": pa.date32(),
    "timestamp[us, tz=UTC]": EVENT_TIME_TYPE,
}


def type_from_string(name: str) -> pa.DataType:
    """Parse the type names :func:`schema_to_json` writes (the normalized set)."""
    if name in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[name]
    if name.startswith("timestamp["):
        return EVENT_TIME_TYPE
    if name.startswith("list<item: ") and name.endswith(">"):
        return pa.list_(type_from_string(name[len("list<item: ") : -1]))
    if name.startswith("decimal128("):
        precision, scale = name[len("decimal128(") : -1].split(",")
        return pa.decimal128(int(precision), int(scale))
    raise InvalidInput(f"unsupported stored column type {name!r}")

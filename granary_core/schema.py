"""Schema rules for feature group inserts.

A group's schema is fixed by its first insert. Later inserts may add nullable
columns; anything else that differs is refused with the column and both types named,
before a byte is written. Every column is first brought to its stored type
(:mod:`granary_core.storage_types`: large vs. small strings, dictionary encoding,
timestamp units and naive time zones, narrower integers and floats), so that pandas,
polars and pyarrow inputs of the same data agree, and a type no store holds is refused.
"""

from __future__ import annotations

import pyarrow as pa

from granary_core.errors import InvalidInput, SchemaMismatch
from granary_core.storage_types import conform, storage_type, type_from_string


def check_names(names: list[str], where: str) -> None:
    """Column names must be non-empty and unique: every store and SQL names columns."""
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name:
            raise InvalidInput(
                f"{where}: column {position} of {len(names)} has an empty name; name every column"
            )
        if name in seen:
            raise InvalidInput(f"{where}: column '{name}' appears more than once")
        seen.add(name)


def normalize(table: pa.Table, where: str = "insert") -> pa.Table:
    """Cast to the stored types (:mod:`granary_core.storage_types`), or refuse by column name."""
    check_names(table.column_names, where)
    columns = [
        conform(c, f"{where}: column '{n}'") for n, c in zip(table.column_names, table.columns, strict=True)
    ]
    schema = pa.schema([pa.field(n, c.type) for n, c in zip(table.column_names, columns, strict=True)])
    return pa.Table.from_arrays(columns, schema=schema)


def lower_names(table: pa.Table, where: str) -> pa.Table:
    """Feature names are lower case, as in Hopsworks: ``Amount`` inserts into ``amount``.

    Two columns that differ only by case would become one, so they are refused.
    """
    lowered = [name.lower() for name in table.column_names]
    if lowered == table.column_names:
        return table
    check_names(lowered, f"{where} (feature names are lower case)")
    return table.rename_columns(lowered)


def event_time_from_epoch_ms(table: pa.Table, event_time: str | None) -> pa.Table:
    """An integer event time is milliseconds since the Unix epoch, as Hopsworks reads
    one; it is stored as a UTC timestamp, so point-in-time joins compare like with like."""
    if not event_time or event_time not in table.column_names:
        return table
    column = table[event_time]
    if not pa.types.is_integer(column.type):
        return table
    moments = column.cast(pa.int64()).cast(pa.timestamp("ms", tz="UTC")).cast(pa.timestamp("us", tz="UTC"))
    return table.set_column(table.column_names.index(event_time), event_time, moments)


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


def declared_features(
    features: list[dict[str, str]], primary_key: list[str], event_time: str | None, where: str
) -> list[dict[str, str]]:
    """A schema given at creation (Terraform declares one) instead of fixed by the first
    insert: ``[{"name", "type"}]`` in stored type names (``str`` of a stored type, e.g.
    ``int64``, ``timestamp[us, tz=UTC]``), lower-case names, the keys among them. Returned
    as the catalog records it; later inserts are checked against it as against any
    stored schema."""
    names = [f["name"] for f in features]
    check_names(names, where)
    upper = [n for n in names if n != n.lower()]
    if upper:
        raise InvalidInput(f"{where}: feature '{upper[0]}' is not lower case, as feature names are")
    for feature in features:
        what = f"{where}: feature '{feature['name']}'"
        try:
            typ = type_from_string(feature["type"])
        except InvalidInput:
            raise InvalidInput(f"{what}: unknown type {feature['type']!r}") from None
        stored = storage_type(typ, what)
        if str(typ) != feature["type"] or stored != typ:
            raise InvalidInput(f"{what}: type {feature['type']!r} is stored as {str(stored)!r}; declare that")
    missing = [k for k in [*primary_key, *([event_time] if event_time else [])] if k not in names]
    if missing:
        raise InvalidInput(f"{where}: key column '{missing[0]}' is not among the declared features {names}")
    if event_time:
        typ = type_from_string(features[names.index(event_time)]["type"])
        if not (pa.types.is_timestamp(typ) or pa.types.is_date(typ)):
            raise SchemaMismatch(
                f"{where}: event time column '{event_time}' is {typ}, expected a timestamp or date"
            )
    return [{"name": f["name"], "type": f["type"]} for f in features]

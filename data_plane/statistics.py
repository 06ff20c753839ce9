"""Descriptive statistics of Arrow tables, computed in DuckDB.

Training dataset versions keep them per split (model-dependent transformations are
parameterized by the train split's), and a group whose ``statistics_config`` is
enabled keeps them per commit (the rows that commit wrote), for ``fg.get_statistics()``
and the feature monitoring that compares them over time.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from data_plane.query.plan import quote

HISTOGRAM_BINS = 10
# Columns per SUMMARIZE: its sketches (distinct counts, quantiles) are held per column
# and thread outside what DuckDB can spill, so a wide table under a small memory limit
# (53 columns, 48 MB) is described a slice of columns at a time.
SUMMARIZE_COLUMNS = 8
TOP_VALUES = 10


def statistics(
    table: pa.Table | ds.Dataset, con: duckdb.DuckDBPyConnection | None = None
) -> dict[str, dict[str, Any]]:
    """Per-column statistics from DuckDB's SUMMARIZE (min, max, mean, std, quartiles).

    ``table`` may be a ``pyarrow.dataset`` (a written file), which DuckDB scans without
    loading it; ``con`` (closed here) runs the scan, e.g. an engine's cursor so its memory
    limit holds (default: a connection of its own).
    """
    con = con or duckdb.connect()
    con.register("t", table)
    names = [quote(name) for name in table.schema.names]
    summary = []
    for first in range(0, len(names), SUMMARIZE_COLUMNS):
        columns = ", ".join(names[first : first + SUMMARIZE_COLUMNS])
        summary += con.sql(f"SUMMARIZE SELECT {columns} FROM t").to_arrow_table().to_pylist()
    stats: dict[str, dict[str, Any]] = {}
    numeric_prefixes = ("BIGINT", "DOUBLE", "INTEGER", "FLOAT", "DECIMAL", "UBIGINT", "SMALLINT")
    for row in summary:
        entry: dict[str, Any] = {
            "type": row["column_type"],
            "count": int(row["count"]),
            "null_fraction": float(row["null_percentage"] or 0) / 100.0,
            "approx_distinct": int(row["approx_unique"] or 0),
        }
        if row["column_type"].startswith(numeric_prefixes):
            for key, source in [
                ("min", "min"),
                ("max", "max"),
                ("mean", "avg"),
                ("std", "std"),
                ("p25", "q25"),
                ("p50", "q50"),
                ("p75", "q75"),
            ]:
                value = row[source]
                entry[key] = None if value is None else float(value)
        stats[row["column_name"]] = entry
    _add_unique_values(con, stats)
    con.close()
    return stats


MAX_UNIQUE_VALUES = 1000
_CATEGORICAL_PREFIXES = ("VARCHAR", "BOOLEAN", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UBIGINT")


def _add_unique_values(con: duckdb.DuckDBPyConnection, stats: dict[str, dict[str, Any]]) -> None:
    """Record the sorted distinct values of few-valued string, integer and boolean
    columns: label and one-hot encoders are parameterized by them."""
    names = [
        name
        for name, entry in stats.items()
        if entry["type"].startswith(_CATEGORICAL_PREFIXES)
        and entry["approx_distinct"] <= MAX_UNIQUE_VALUES * 1.1
    ]
    if not names:
        return
    quoted = ['"' + n.replace('"', '""') + '"' for n in names]
    sql = ", ".join(f"list(DISTINCT {q} ORDER BY {q}) FILTER (WHERE {q} IS NOT NULL)" for q in quoted)
    row = con.sql(f"SELECT {sql} FROM t").fetchall()[0]
    for name, values in zip(names, row, strict=True):
        if values is not None and len(values) <= MAX_UNIQUE_VALUES:
            stats[name]["unique_values"] = list(values)


def describe(table: pa.Table) -> dict[str, dict[str, Any]]:
    """:func:`statistics`, plus a histogram (``HISTOGRAM_BINS`` equal-width bins between
    min and max) per numeric column and the ``TOP_VALUES`` most frequent values with
    their counts per string or boolean column."""
    stats = statistics(table)
    with duckdb.connect() as con:
        con.register("t", table)
        for name, entry in stats.items():
            column = quote(name)
            if entry.get("min") is not None and entry.get("max") is not None:
                low, high = entry["min"], entry["max"]
                width = (high - low) / HISTOGRAM_BINS or 1.0
                rows = con.execute(
                    f"SELECT least(floor(({column} - ?) / ?), ?)::INTEGER AS bin, count(*) FROM t "
                    f"WHERE {column} IS NOT NULL GROUP BY bin ORDER BY bin",
                    [low, width, HISTOGRAM_BINS - 1],
                ).fetchall()
                counts = dict(rows)
                entry["histogram"] = [
                    {"lower": low + i * width, "upper": low + (i + 1) * width, "count": int(counts.get(i, 0))}
                    for i in range(HISTOGRAM_BINS)
                ]
            elif entry["type"].startswith(("VARCHAR", "BOOLEAN")):
                rows = con.execute(
                    f"SELECT CAST({column} AS VARCHAR), count(*) AS n FROM t WHERE {column} IS NOT NULL "
                    f"GROUP BY 1 ORDER BY n DESC, 1 LIMIT {TOP_VALUES}"
                ).fetchall()
                entry["top_values"] = [{"value": value, "count": int(n)} for value, n in rows]
    return stats

"""Expectation suites: rows checked against a group's expectations before they are stored.

A suite is Great Expectations' JSON form (``{"expectation_suite_name", "expectations":
[{"expectation_type", "kwargs"}]}``) plus Hopsworks' ``validation_ingestion_policy``:
``ALWAYS`` stores the rows and the report whatever it says, ``STRICT`` refuses rows
that fail any expectation (:class:`ValidationFailed` names them) and stores only the
report. Each expectation is one aggregate over the insert in DuckDB, on the Arrow
table as it is, so validation costs a scan, not a Python loop per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import duckdb
import pyarrow as pa

from data_plane.query.plan import literal, quote
from granary_core.errors import InvalidInput

Check = Callable[[dict[str, Any]], tuple[str, str]]  # kwargs -> (SQL of unexpected rows, observed)


def _column(kwargs: dict[str, Any]) -> str:
    column = kwargs.get("column")
    if not isinstance(column, str):
        raise InvalidInput("expectation kwargs need 'column', a feature name")
    return quote(column.lower())


def _between(value: str, kwargs: dict[str, Any]) -> str:
    """SQL true when ``value`` is outside [min_value, max_value] (strict_* excludes ends)."""
    parts = []
    if kwargs.get("min_value") is not None:
        parts.append(f"{value} {'<=' if kwargs.get('strict_min') else '<'} {literal(kwargs['min_value'])}")
    if kwargs.get("max_value") is not None:
        parts.append(f"{value} {'>=' if kwargs.get('strict_max') else '>'} {literal(kwargs['max_value'])}")
    return " OR ".join(parts) or "FALSE"


def _row_check(condition: Callable[[str, dict[str, Any]], str]) -> Check:
    """A per-row expectation: unexpected rows are the non-null ones meeting ``condition``."""

    def check(kwargs: dict[str, Any]) -> tuple[str, str]:
        column = _column(kwargs)
        return f"count(*) FILTER (WHERE {column} IS NOT NULL AND ({condition(column, kwargs)}))", "NULL"

    return check


def _aggregate_check(function: str) -> Check:
    def check(kwargs: dict[str, Any]) -> tuple[str, str]:
        value = f"{function}({_column(kwargs)})"
        return f"CASE WHEN {_between(value, kwargs)} THEN 1 ELSE 0 END", value

    return check


def _not_null(kwargs: dict[str, Any]) -> tuple[str, str]:
    return f"count(*) FILTER (WHERE {_column(kwargs)} IS NULL)", "NULL"


def _unique(kwargs: dict[str, Any]) -> tuple[str, str]:
    column = _column(kwargs)
    return f"count({column}) - count(DISTINCT {column})", "NULL"


def _distinct_in_set(kwargs: dict[str, Any]) -> tuple[str, str]:
    """Fails when any distinct non-null value is outside ``value_set``; observes the distinct values."""
    column = _column(kwargs)
    outside = f"{column} NOT IN {literal(list(kwargs['value_set']))}"
    return f"count(DISTINCT {column}) FILTER (WHERE {outside})", f"list_sort(list(DISTINCT {column}))"


def _row_count(kwargs: dict[str, Any]) -> tuple[str, str]:
    return f"CASE WHEN {_between('count(*)', kwargs)} THEN 1 ELSE 0 END", "count(*)"


CHECKS: dict[str, Check] = {
    "expect_column_values_to_not_be_null": _not_null,
    "expect_column_values_to_be_between": _row_check(lambda c, k: _between(c, k)),
    "expect_column_values_to_be_in_set": _row_check(
        lambda c, k: f"{c} NOT IN {literal(list(k['value_set']))}"
    ),
    "expect_column_values_to_not_be_in_set": _row_check(
        lambda c, k: f"{c} IN {literal(list(k['value_set']))}"
    ),
    "expect_column_values_to_match_regex": _row_check(
        lambda c, k: f"NOT regexp_matches(CAST({c} AS VARCHAR), {literal(k['regex'])})"
    ),
    "expect_column_values_to_be_unique": _unique,
    "expect_column_values_to_be_null": _row_check(lambda c, k: "TRUE"),
    "expect_column_distinct_values_to_be_in_set": _distinct_in_set,
    "expect_table_row_count_to_be_between": _row_count,
    "expect_column_mean_to_be_between": _aggregate_check("avg"),
    "expect_column_min_to_be_between": _aggregate_check("min"),
    "expect_column_max_to_be_between": _aggregate_check("max"),
    "expect_column_stdev_to_be_between": _aggregate_check("stddev_samp"),
}


def check_suite(suite: dict[str, Any], where: str) -> None:
    """Refuse a suite naming an expectation type that is not evaluated here."""
    for i, expectation in enumerate(suite.get("expectations", [])):
        kind = (
            expectation.get("expectation_type") or expectation.get("type")
            if isinstance(expectation, dict)
            else None
        )
        if kind not in CHECKS:
            raise InvalidInput(
                f"{where}: expectation {i} has type {kind!r}; supported: {', '.join(sorted(CHECKS))}"
            )
        if not isinstance(expectation.get("kwargs", {}), dict):
            raise InvalidInput(f"{where}: expectation {i} ({kind}): kwargs must be an object")


def validate(suite: dict[str, Any], table: pa.Table, now: dt.datetime | None = None) -> dict[str, Any]:
    """A Great Expectations-shaped report of ``table`` against ``suite``."""
    rows = table.num_rows
    results = []
    with duckdb.connect() as con:
        con.register("batch", table)
        for expectation in suite.get("expectations", []):
            kind = expectation.get("expectation_type") or expectation.get("type")
            kwargs = expectation.get("kwargs", {})
            unexpected_sql, observed_sql = CHECKS[kind](kwargs)
            try:
                unexpected, observed = con.execute(
                    f"SELECT {unexpected_sql}, {observed_sql} FROM batch"
                ).fetchone()
            except duckdb.Error as exc:
                raise InvalidInput(f"expectation {kind} on {kwargs}: {exc}") from None
            mostly = float(kwargs.get("mostly", 1.0))
            per_row = kind.startswith("expect_column_values")
            success = unexpected <= (1.0 - mostly) * rows if per_row else unexpected == 0
            result: dict[str, Any] = {"element_count": rows}
            if per_row:
                result.update(
                    unexpected_count=int(unexpected), unexpected_percent=100.0 * unexpected / (rows or 1)
                )
            else:
                result["observed_value"] = (
                    observed if not isinstance(observed, dt.datetime) else observed.isoformat()
                )
            results.append(
                {
                    "expectation_config": {"expectation_type": kind, "kwargs": kwargs},
                    "success": bool(success),
                    "result": result,
                }
            )
    failed = sum(not r["success"] for r in results)
    return {
        "success": failed == 0,
        "evaluation_time": (now or dt.datetime.now(dt.UTC)).isoformat(),
        "expectation_suite_name": suite.get("expectation_suite_name") or suite.get("name") or "",
        "statistics": {
            "evaluated_expectations": len(results),
            "successful_expectations": len(results) - failed,
            "unsuccessful_expectations": failed,
        },
        "results": results,
    }


def failed_expectations(report: dict[str, Any]) -> list[str]:
    """``type(column)`` of each failed expectation, for messages."""
    configs = [r["expectation_config"] for r in report["results"] if not r["success"]]
    return [f"{c['expectation_type']}({c['kwargs'].get('column', '')})" for c in configs]

"""Spark SQL for a resolved plan (``to_sql(plan, SPARK)``), with the same answer as
DuckDB's.

Spark SQL has no ASOF join. Each joined group's rows are given the interval of base
times they answer for: a row with event time ``t`` answers from ``t`` until the next
row of the same join keys (``lead``), so the point-in-time join becomes an equi-join on
the keys plus a range condition. That needs no row ids, works for joins chained off a
joined group, and lets Spark shuffle by key like any other join. Of two rows with the
same keys and event time, one gets an empty interval: one row answers, as in an ASOF join.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from data_plane.query.plan import Dialect, Node, newest
from granary_core.errors import InvalidInput


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def literal(value: Any) -> str:
    """A filter value as a Spark SQL literal; what it cannot say exactly is refused."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise InvalidInput(f"filter value {value} is outside the 64-bit integers features hold")
    if isinstance(value, int):
        return f"{value}L" if not -(2**31) <= value < 2**31 else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"filter value {value} is not a finite number")
        return f"CAST('{value!r}' AS DOUBLE)"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, dt.datetime):
        try:
            utc = value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
        except OverflowError:
            raise InvalidInput(f"time {value.isoformat()} is outside years 1 to 9999 in UTC") from None
        return f"TIMESTAMP '{utc.strftime('%Y-%m-%d %H:%M:%S.%f')}+00:00'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, list | tuple):
        return "(" + ", ".join(literal(v) for v in value) + ")"
    raise InvalidInput(f"filter value {value!r} of type {type(value).__name__} is not supported")


class SparkDialect(Dialect):
    def quote(self, name: str) -> str:
        return quote(name)

    def literal(self, value: Any) -> str:
        return literal(value)

    def relation(self, node: Node) -> str:
        if node.relation is None:
            raise InvalidInput(f"feature group {node.label} has no data yet; insert before querying")
        return node.relation

    def join(self, node: Node, alias: str, keys: list[str], at: str | None) -> str:
        kind = "LEFT JOIN" if node.join_type == "left" else "JOIN"
        relation = self.relation(node)
        if node.event_time is not None:
            by = ", ".join(quote(k) for k in node.right_on)
            time = quote(node.event_time)
            if at is not None:
                relation = (
                    f"(SELECT *, lead({time}) OVER (PARTITION BY {by} ORDER BY {time}) AS __until "
                    f"FROM {relation})"
                )
                keys = [
                    *keys,
                    f"{alias}.{time} <= {at}",
                    f"({alias}.__until IS NULL OR {at} < {alias}.__until)",
                ]
            else:
                relation = newest(relation, node, quote)
        return f"{kind} {relation} AS {alias} ON " + " AND ".join(keys)

    def not_older(self, time: str, at: str, micros: int) -> str:
        return f"{time} >= timestamp_micros(unix_micros({at}) - {micros}L)"


SPARK = SparkDialect()

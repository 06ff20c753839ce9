"""Turn a feature view query into one DuckDB statement of ASOF joins.

Point-in-time correctness lives here. For each row of the base (the spine, or the
query's first feature group), each joined group contributes the row with the same key
and the greatest event time <= the base row's event time; with none, nulls. A group's
``ttl`` turns rows older than (base event time - ttl) into nulls. The planner is pure:
it takes resolved groups and relation SQL and returns SQL, so it is tested without I/O.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from granary_core.errors import FeatureNameClash, InvalidInput

SPINE = "__spine"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: Any) -> str:
    """Render a filter value as a SQL literal; anything else is refused, not guessed."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        raise InvalidInput(f"filter value {value} is outside the 64-bit integers features hold")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"filter value {value} is not a finite number")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, dt.datetime):
        try:
            return f"TIMESTAMPTZ '{value.astimezone(dt.UTC).isoformat()}'"
        except OverflowError:
            raise InvalidInput(f"time {value.isoformat()} is outside years 1 to 9999 in UTC") from None
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, list | tuple):
        return "(" + ", ".join(literal(v) for v in value) + ")"
    raise InvalidInput(f"filter value {value!r} of type {type(value).__name__} is not supported")


def _named_literal(render: Callable[[Any], str], value: Any, what: str) -> str:
    try:
        return render(value)
    except InvalidInput as exc:
        raise InvalidInput(f"{what}: {exc}") from None


@dataclass
class Node:
    """One feature group in the query, resolved against metadata."""

    label: str  # "name vN", for messages
    relation: str | None  # SQL for its rows, None when the group has no data
    columns: dict[str, str]  # column name -> DuckDB type, in schema order
    primary_key: list[str]
    event_time: str | None
    ttl_seconds: float | None = None
    features: list[str] | None = None  # selected; None = all, keys and event time too
    prefix: str = ""
    parent: int | None = None
    left_on: list[str] = field(default_factory=list)
    right_on: list[str] = field(default_factory=list)
    join_type: str = "left"
    name: str = ""  # the group's name: the prefix of a joined event time that clashes


@dataclass
class Plan:
    nodes: list[Node]
    filter_sql: str | None = None
    spine_columns: list[str] | None = None  # set when a spine is the base
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    include_keys: bool = False  # feature views always return the root's keys and time


def _alias(i: int) -> str:
    return f"fg{i}"


def newest(relation: str, node: Node, quote: Callable[[str], str]) -> str:
    """The newest row of each key: what a join with no time on the base side reads, as
    the online store serves. (Written so both dialects take it.)"""
    assert node.event_time is not None
    by = ", ".join(quote(k) for k in node.right_on)
    return (
        f"(SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY {by} ORDER BY "
        f"{quote(node.event_time)} DESC) AS __newest FROM {relation}) WHERE __newest = 1)"
    )


class Dialect:
    """What SQL engines say differently about a plan: quoting, literals, and the
    point-in-time join itself. DuckDB's is the default; Spark's is in
    :mod:`data_plane.query.spark_sql`."""

    def quote(self, name: str) -> str:
        return quote(name)

    def literal(self, value: Any) -> str:
        return literal(value)

    def relation(self, node: Node) -> str:
        if node.relation is not None:
            return node.relation
        if not node.columns:
            raise InvalidInput(f"feature group {node.label} has no data yet; insert before querying")
        cols = ", ".join(f"CAST(NULL AS {typ}) AS {quote(c)}" for c, typ in node.columns.items())
        return f"(SELECT {cols} WHERE FALSE)"

    def join(self, node: Node, alias: str, keys: list[str], at: str | None) -> str:
        """``node`` joined as ``alias`` on the ``keys`` conditions; with ``at`` (the
        base row's time), its newest row at or before that time."""
        kind = "LEFT JOIN" if node.join_type == "left" else "JOIN"
        relation = self.relation(node)
        if at is not None and node.event_time is not None:
            keys = [*keys, f"{at} >= {alias}.{quote(node.event_time)}"]
            kind = "ASOF " + kind
        elif node.event_time is not None:
            relation = newest(relation, node, quote)
        return f"{kind} {relation} AS {alias} ON " + " AND ".join(keys)

    def not_older(self, time: str, at: str, micros: int) -> str:
        """``time`` is at most ``micros`` before ``at``."""
        return f"{time} >= {at} - to_microseconds({micros})"


DUCKDB = Dialect()


def output_columns(plan: Plan) -> list[tuple[int | None, str, str]]:
    """The result's columns as (node index or None for the spine, source, output name).

    A joined group's join keys are not repeated (the parent's column holds the same
    values); a name that two groups would both produce is an error unless a prefix
    tells them apart. ``features`` None (``select_all()``) selects every column, the
    primary key and event time too, as hsfs' ``select_all()`` does. A joined group's
    event time that the query selects is kept, named ``{group}_{column}`` when
    its name is the root's primary key or event time (which every read may return, so
    the name is taken whether or not this read returns it), as Hopsworks does.
    """
    out: list[tuple[int | None, str, str]] = []
    owner: dict[str, str] = {}
    root = plan.nodes[0]
    root_keys = {*root.primary_key, *([root.event_time] if root.event_time else [])}

    def add(index: int | None, column: str, name: str, label: str) -> None:
        if name in owner:
            raise FeatureNameClash(
                f"feature '{name}' is produced by both {owner[name]} and {label}; "
                "pass prefix= to the join to tell them apart"
            )
        owner[name] = label
        out.append((index, column, name))

    if plan.spine_columns is not None:
        for column in plan.spine_columns:
            add(None, column, column, "the spine")
    for i, node in enumerate(plan.nodes):
        wanted = list(node.columns) if node.features is None else node.features
        if i == 0 and plan.include_keys:
            keys = [*node.primary_key, *([node.event_time] if node.event_time else [])]
            wanted = [*(k for k in keys if k not in wanted), *wanted]
        for column in wanted:
            if column not in node.columns:
                raise InvalidInput(f"feature group {node.label} has no feature '{column}'")
        if i == 0:
            for column in wanted:
                if plan.spine_columns is not None and column in plan.spine_columns:
                    continue
                add(0, column, column, node.label)
            continue
        hidden = set(node.right_on)
        for column in wanted:
            if column in hidden:
                continue
            name = node.prefix + column
            if column == node.event_time and (name in owner or name in root_keys):
                name = f"{node.name}_{name}"
            add(i, column, name, node.label)
    return out


def _join_clause(plan: Plan, i: int, base: str, base_time: str | None, dialect: Dialect) -> str:
    node = plan.nodes[i]
    alias = _alias(i)
    parent = node.parent if node.parent is not None else 0
    q = dialect.quote
    conditions = []
    for left, right in zip(node.left_on, node.right_on, strict=True):
        if plan.spine_columns is not None and (parent == 0 or i == 0) and left in plan.spine_columns:
            source = base
        elif i == 0:
            raise InvalidInput(f"the spine has no column '{left}' (a primary key of {node.label})")
        else:
            source = _alias(parent)
        conditions.append(f"{source}.{q(left)} = {alias}.{q(right)}")
    at = f"{base}.{q(base_time)}" if base_time is not None else None
    return dialect.join(node, alias, conditions, at)


def _ttl_fresh(plan: Plan, i: int, base: str, base_time: str | None, dialect: Dialect) -> str | None:
    node = plan.nodes[i]
    if node.ttl_seconds is None or base_time is None or node.event_time is None:
        return None
    q = dialect.quote
    return dialect.not_older(
        f"{_alias(i)}.{q(node.event_time)}", f"{base}.{q(base_time)}", int(node.ttl_seconds * 1_000_000)
    )


def to_sql(plan: Plan, dialect: Dialect = DUCKDB) -> str:
    """The plan as one statement in ``dialect``; ``plan.filter_sql`` must be written in
    it too (a :class:`~data_plane.query.resolve.Resolver` given the same dialect)."""
    q, lit = dialect.quote, dialect.literal
    root = plan.nodes[0]
    if plan.spine_columns is not None:
        if root.event_time and root.event_time not in plan.spine_columns:
            raise InvalidInput(f"the spine has no event time column '{root.event_time}'")
        base, first_join = SPINE, 0
        from_sql = f"{SPINE}"
        root.left_on = root.right_on = list(root.primary_key)
    else:
        base, first_join = _alias(0), 1
        from_sql = f"{dialect.relation(root)} AS {base}"
    base_time = root.event_time

    select = []
    for index, column, name in output_columns(plan):
        source = base if index is None else _alias(index)
        expr = f"{source}.{q(column)}"
        fresh = (
            None
            if index is None or (index == 0 and first_join == 1)
            else _ttl_fresh(plan, index, base, base_time, dialect)
        )
        if fresh:
            expr = f"CASE WHEN {fresh} THEN {expr} END"
        select.append(f"{expr} AS {q(name)}")

    joins = [_join_clause(plan, i, base, base_time, dialect) for i in range(first_join, len(plan.nodes))]
    where = []
    if base_time is not None and plan.start_time is not None:
        where.append(f"{base}.{q(base_time)} >= {_named_literal(lit, plan.start_time, 'start_time')}")
    if base_time is not None and plan.end_time is not None:
        where.append(f"{base}.{q(base_time)} < {_named_literal(lit, plan.end_time, 'end_time')}")
    if (plan.start_time or plan.end_time) and base_time is None:
        raise InvalidInput(f"feature group {root.label} has no event time; a time range needs one")
    for i in range(first_join, len(plan.nodes)):
        if plan.nodes[i].join_type != "left":
            fresh = _ttl_fresh(plan, i, base, base_time, dialect)
            if fresh:
                where.append(fresh)
    if plan.filter_sql:
        where.append(f"({plan.filter_sql})")

    sql = "SELECT " + ",\n       ".join(select) + f"\nFROM {from_sql}"
    for join in joins:
        sql += "\n" + join
    if where:
        sql += "\nWHERE " + "\n  AND ".join(where)
    return sql

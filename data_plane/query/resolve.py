"""Resolve a query description against metadata into a :class:`Plan`.

A query description is the JSON the SDK's ``Query.to_dict()`` writes (and a feature
view stores), so embedded and remote callers plan identically::

    {"fg": {"name": "tx", "version": 1}, "features": null | [...], "as_of": null | iso,
     "joins": [{"query": {...}, "on": [...], "left_on": [...], "right_on": [...],
                "join_type": "left" | "inner", "prefix": ""}],
     "filter": null | {"and": [f, f]} | {"or": [f, f]} |
               {"fg": {...}, "feature": "amount", "op": "gt", "value": 10}}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from data_plane.query.plan import DUCKDB, Dialect, Node, Plan
from granary_core.errors import InvalidInput
from granary_core.specs import FeatureGroupInfo

GroupLookup = Callable[[str, int], FeatureGroupInfo]
RelationFor = Callable[[FeatureGroupInfo, dt.datetime | None], str | None]

_OPERATORS = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_DUCKDB_TYPES = {
    "int64": "BIGINT",
    "uint64": "UBIGINT",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "bool": "BOOLEAN",
    "binary": "BLOB",
    "date32[day]": "DATE",
    "timestamp[us, tz=UTC]": "TIMESTAMPTZ",
}


def decode_value(value: Any) -> Any:
    """Filter values travel as JSON; times are tagged so they come back as times."""
    if isinstance(value, dict) and "$datetime" in value:
        return dt.datetime.fromisoformat(value["$datetime"])
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def duckdb_type(arrow_type: str) -> str:
    return _DUCKDB_TYPES.get(arrow_type, "VARCHAR")


class Resolver:
    def __init__(self, lookup: GroupLookup, relation_for: RelationFor, dialect: Dialect = DUCKDB) -> None:
        """``dialect``: the SQL engine the plan's filters are written for."""
        self._lookup = lookup
        self._relation_for = relation_for
        self._dialect = dialect

    def plan(
        self,
        spec: dict[str, Any],
        spine_columns: list[str] | None = None,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
        include_keys: bool = False,
    ) -> Plan:
        nodes: list[Node] = []
        filters: list[tuple[dict[str, Any], list[Node]]] = []
        self._add(spec, nodes, parent=None, join=None, filters=filters)
        plan = Plan(nodes, None, spine_columns, start_time, end_time, include_keys)
        parts = [self._filter_sql(f, nodes) for f, _ in filters]
        plan.filter_sql = " AND ".join(f"({p})" for p in parts) if parts else None
        return plan

    def _add(
        self,
        spec: dict[str, Any],
        nodes: list[Node],
        parent: int | None,
        join: dict[str, Any] | None,
        filters: list[tuple[dict[str, Any], list[Node]]],
    ) -> None:
        ref = spec["fg"]
        info = self._lookup(ref["name"], int(ref["version"]))
        as_of = dt.datetime.fromisoformat(spec["as_of"]) if spec.get("as_of") else None
        node = Node(
            label=f"'{info.name}' v{info.version}",
            relation=self._relation_for(info, as_of),
            columns={f.name: duckdb_type(f.type) for f in info.features},
            primary_key=info.primary_key,
            event_time=info.event_time,
            ttl_seconds=info.ttl_seconds,
            features=spec.get("features"),
            parent=parent,
            name=info.name,
        )
        if not node.columns:
            raise InvalidInput(f"feature group {node.label} has no data yet; insert before querying")
        if join is not None:
            self._join_keys(node, nodes[parent if parent is not None else 0], join)
        index = len(nodes)
        nodes.append(node)
        if spec.get("filter"):
            filters.append((spec["filter"], nodes))
        for child in spec.get("joins", []):
            self._add(child["query"], nodes, parent=index, join=child, filters=filters)

    def _join_keys(self, node: Node, parent: Node, join: dict[str, Any]) -> None:
        on = join.get("on") or []
        left_on = join.get("left_on") or on
        right_on = join.get("right_on") or on
        if not left_on and not right_on:
            left_on = right_on = list(node.primary_key)
        if len(left_on) != len(right_on):
            raise InvalidInput(
                f"join with {node.label}: left_on has {len(left_on)} column(s), right_on {len(right_on)}"
            )
        for column in left_on:
            if column not in parent.columns:
                raise InvalidInput(f"join with {node.label}: {parent.label} has no column '{column}'")
        for column in right_on:
            if column not in node.columns:
                raise InvalidInput(f"join with {node.label}: it has no column '{column}'")
        join_type = join.get("join_type", "left")
        if join_type not in ("left", "inner"):
            raise InvalidInput(f"join_type {join_type!r} is not 'left' or 'inner'")
        node.left_on, node.right_on = list(left_on), list(right_on)
        node.join_type = join_type
        node.prefix = join.get("prefix") or ""

    def _filter_sql(self, spec: dict[str, Any], nodes: list[Node]) -> str:
        for logic in ("and", "or"):
            if logic in spec:
                parts = [self._filter_sql(part, nodes) for part in spec[logic]]
                return f" {logic.upper()} ".join(f"({p})" for p in parts)
        ref = spec["fg"]
        label = f"'{ref['name']}' v{ref['version']}"
        index = next((i for i, n in enumerate(nodes) if n.label == label), None)
        if index is None:
            raise InvalidInput(f"filter on feature group {label}, which is not part of the query")
        feature = spec["feature"]
        if feature not in nodes[index].columns:
            raise InvalidInput(f"filter: feature group {label} has no feature '{feature}'")
        column = f"fg{index}.{self._dialect.quote(feature)}"
        try:
            return self._condition(column, spec["op"], decode_value(spec.get("value")))
        except InvalidInput as exc:
            raise InvalidInput(f"filter on feature '{feature}' of {label}: {exc}") from None

    def _condition(self, column: str, op: str, value: Any) -> str:
        literal = self._dialect.literal
        if op in _OPERATORS:
            return f"{column} {_OPERATORS[op]} {literal(value)}"
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                raise InvalidInput("isin needs a non-empty list")
            return f"{column} {'IN' if op == 'in' else 'NOT IN'} {literal(value)}"
        if op == "is_null":
            return f"{column} IS NULL"
        if op == "not_null":
            return f"{column} IS NOT NULL"
        if op == "like":
            return f"{column} LIKE {literal(value)}"
        raise InvalidInput(f"unknown operator {op!r}")

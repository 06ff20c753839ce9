"""Check the shape of a query description that arrived over the wire.

The resolver trusts its input (the SDK builds it); a service must not, so a malformed
description becomes ``InvalidInput`` naming the bad part instead of a KeyError deep in
planning.
"""

from __future__ import annotations

from typing import Any

from granary_core.errors import InvalidInput
from granary_core.wire import parse_time

_OPS = {"eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "is_null", "not_null", "like"}
MAX_DEPTH = 32


def _names(value: Any, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{where}: expected a list of column names")


def _group_ref(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}.fg: expected {{'name': ..., 'version': ...}}")
    if not isinstance(value.get("name"), str) or not value["name"]:
        raise InvalidInput(f"{where}.fg.name: expected a feature group name")
    version = value.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= 2**31 - 1:
        raise InvalidInput(f"{where}.fg.version: expected a positive integer")


def check_filter(spec: Any, where: str = "filter", depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise InvalidInput(f"{where}: nested too deeply")
    if not isinstance(spec, dict):
        raise InvalidInput(f"{where}: expected an object")
    for logic in ("and", "or"):
        if logic in spec:
            parts = spec[logic]
            if not isinstance(parts, list) or not parts:
                raise InvalidInput(f"{where}.{logic}: expected a non-empty list of filters")
            for i, part in enumerate(parts):
                check_filter(part, f"{where}.{logic}[{i}]", depth + 1)
            return
    _group_ref(spec.get("fg"), where)
    if not isinstance(spec.get("feature"), str):
        raise InvalidInput(f"{where}.feature: expected a feature name")
    if spec.get("op") not in _OPS:
        raise InvalidInput(f"{where}.op: expected one of {sorted(_OPS)}")
    _check_value(spec.get("value"), f"{where}.value")


def _check_value(value: Any, where: str) -> None:
    if isinstance(value, dict):
        if set(value) != {"$datetime"}:
            raise InvalidInput(f"{where}: an object value must be {{'$datetime': iso}}")
        parse_time(value["$datetime"], where)
    elif isinstance(value, list):
        for item in value:
            _check_value(item, where)


def check_query_spec(spec: Any, where: str = "query", depth: int = 0) -> None:
    """Raise ``InvalidInput`` unless ``spec`` has the shape ``Query.to_dict()`` writes."""
    if depth > MAX_DEPTH:
        raise InvalidInput(f"{where}: joins nested too deeply")
    if not isinstance(spec, dict):
        raise InvalidInput(f"{where}: expected an object")
    _group_ref(spec.get("fg"), where)
    _names(spec.get("features"), f"{where}.features")
    as_of = spec.get("as_of")
    if as_of is not None:
        parse_time(as_of, f"{where}.as_of")
    if spec.get("filter") is not None:
        check_filter(spec["filter"], f"{where}.filter")
    joins = spec.get("joins", [])
    if not isinstance(joins, list):
        raise InvalidInput(f"{where}.joins: expected a list")
    for i, join in enumerate(joins):
        at = f"{where}.joins[{i}]"
        if not isinstance(join, dict):
            raise InvalidInput(f"{at}: expected an object")
        check_query_spec(join.get("query"), f"{at}.query", depth + 1)
        for key in ("on", "left_on", "right_on"):
            _names(join.get(key), f"{at}.{key}")
        if not isinstance(join.get("join_type", "left"), str):
            raise InvalidInput(f"{at}.join_type: expected 'left' or 'inner'")
        if join.get("prefix") is not None and not isinstance(join["prefix"], str):
            raise InvalidInput(f"{at}.prefix: expected a string")

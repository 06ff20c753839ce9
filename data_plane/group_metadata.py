"""Descriptive metadata of a feature group that may change after creation.

Hopsworks notebooks set a group's description, its features' descriptions, tags, a
statistics config and an expectation suite, at creation or later. Each is checked
here, once, for the embedded engine and the REST API alike, so a malformed value is
refused naming the field before anything is stored.
"""

from __future__ import annotations

from typing import Any

from data_plane.validation import check_suite
from granary_core.errors import InvalidInput
from granary_core.specs import GROUP_UPDATES

STATISTICS_KEYS = {"enabled", "histograms", "correlations", "exact_uniqueness", "columns"}
INGESTION_POLICIES = ("ALWAYS", "STRICT")


def _text_map(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidInput(f"{what}: expected an object of names to text, got {value!r}")
    return {k.lower(): v for k, v in value.items()}


def _statistics_config(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{what}: expected an object such as {{'enabled': True, 'histograms': True}}")
    unknown = sorted(set(value) - STATISTICS_KEYS)
    if unknown:
        raise InvalidInput(f"{what}: unknown key(s) {unknown}; known: {sorted(STATISTICS_KEYS)}")
    columns = value.get("columns")
    if columns is None:
        return dict(value)
    if not (isinstance(columns, list) and all(isinstance(c, str) for c in columns)):
        raise InvalidInput(f"{what}.columns: expected a list of feature names")
    return {**value, "columns": [c.lower() for c in columns]}  # feature names are lower case


def _expectation_suite(value: Any, what: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("expectations", []), list):
        raise InvalidInput(f"{what}: expected Great Expectations' JSON form with a list of 'expectations'")
    policy = str(value.get("validation_ingestion_policy", "ALWAYS")).upper()
    if policy not in INGESTION_POLICIES:
        raise InvalidInput(
            f"{what}.validation_ingestion_policy: {policy!r} is not one of {INGESTION_POLICIES}"
        )
    check_suite(value, what)
    return {**value, "validation_ingestion_policy": policy}


def check_updates(where: str, changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` normalized (feature names lower case, policy upper case), or InvalidInput."""
    unknown = sorted(set(changes) - set(GROUP_UPDATES))
    if unknown:
        raise InvalidInput(f"{where}: cannot change {unknown}; changeable: {list(GROUP_UPDATES)}")
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        what = f"{where}: {name}"
        if name == "description":
            if not isinstance(value, str):
                raise InvalidInput(f"{what}: expected text")
            checked[name] = value
        elif name == "feature_descriptions":
            checked[name] = _text_map(value, what)
        elif name == "tags":
            if not isinstance(value, dict) or not all(isinstance(k, str) and k for k in value):
                raise InvalidInput(f"{what}: expected an object of tag names to JSON values")
            checked[name] = dict(value)
        elif name == "statistics_config":
            checked[name] = _statistics_config(value, what)
        else:
            checked[name] = _expectation_suite(value, what)
    return checked

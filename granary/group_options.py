"""The forms Hopsworks notebooks pass feature group options in, made plain JSON.

``statistics_config=True``, a dict, or an object with Hopsworks' attribute names;
``features=[Feature("amount", description="...")]``; an expectation suite as Great
Expectations' JSON or as a ``great_expectations`` suite object (that package is not
a dependency: the object is asked for its JSON form).
"""

from __future__ import annotations

from typing import Any

from granary_core.errors import InvalidInput

_STATISTICS_ATTRIBUTES = ("enabled", "histograms", "correlations", "exact_uniqueness", "columns")


def statistics_config_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"enabled": value}
    if isinstance(value, dict):
        return dict(value)
    found = {a: getattr(value, a) for a in _STATISTICS_ATTRIBUTES if hasattr(value, a)}
    if not found:
        raise InvalidInput(
            f"statistics_config: expected True/False, a dict or a StatisticsConfig, got {value!r}"
        )
    return found


def feature_descriptions(features: Any) -> dict[str, str]:
    """``{name: description}`` of declared features that carry a description."""
    described: dict[str, str] = {}
    for feature in features or []:
        name = getattr(feature, "name", None)
        if not isinstance(name, str):
            raise InvalidInput(f"features: expected Feature objects, got {feature!r}")
        if getattr(feature, "description", None):
            described[name] = feature.description
    return described


def expectation_suite_dict(suite: Any, policy: str | None = None) -> dict[str, Any] | None:
    """Great Expectations' JSON form of ``suite``, with ``validation_ingestion_policy``."""
    if suite is None:
        return None
    if hasattr(suite, "to_json_dict"):
        suite = suite.to_json_dict()
    if not isinstance(suite, dict):
        raise InvalidInput(
            f"expectation_suite: expected Great Expectations' JSON form, got {type(suite).__name__}"
        )
    policy = policy or suite.get("validation_ingestion_policy") or "ALWAYS"
    return {**suite, "validation_ingestion_policy": str(policy).upper()}

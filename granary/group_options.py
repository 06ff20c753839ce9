"""The forms Hopsworks notebooks pass feature group options in, made plain JSON.

``statistics_config=True``, a dict, or an object with Hopsworks' attribute names;
``features=[Feature("amount", description="...")]``; an expectation suite as Great
Expectations' JSON or as a ``great_expectations`` suite object (that package is not
a dependency: the object is asked for its JSON form).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from granary_core.errors import InvalidInput

_STATISTICS_ATTRIBUTES = ("enabled", "histograms", "correlations", "exact_uniqueness", "columns")


@dataclass
class StatisticsConfig:
    """hsfs' ``StatisticsConfig``, with its fields in its order, so notebooks that build
    one pass it unchanged. It is stored as its plain dict (:meth:`to_dict`). Granary's
    statistics always have histograms, never correlations, and count distinct values
    approximately, so those three flags are stored for round trips and change nothing
    computed.

    Attributes:
        enabled: describe the rows of every commit (``fg.get_statistics()``).
        correlations: hsfs adds feature correlations; Granary computes none.
        histograms: hsfs adds histograms; Granary's statistics always have them.
        exact_uniqueness: hsfs counts distinct values exactly; Granary's count is approximate.
        columns: the features to describe; empty means all.
    """

    enabled: bool = True
    correlations: bool = False
    histograms: bool = False
    exact_uniqueness: bool = False
    columns: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def statistics_config_dict(value: Any, where: str = "statistics_config") -> dict[str, Any]:
    """The stored form of a config given as a bool, a dict, a :class:`StatisticsConfig`
    or any object with hsfs' attribute names (a real ``hsfs`` one). A dict with other
    keys is refused here, naming them, before anything is created."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"enabled": value}
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(_STATISTICS_ATTRIBUTES))
        if unknown:
            raise InvalidInput(f"{where}: unknown key(s) {unknown}; known: {sorted(_STATISTICS_ATTRIBUTES)}")
        return dict(value)
    if isinstance(value, StatisticsConfig):
        return value.to_dict()
    found = {a: getattr(value, a) for a in _STATISTICS_ATTRIBUTES if hasattr(value, a)}
    if not found:
        raise InvalidInput(f"{where}: expected True/False, a dict or a StatisticsConfig, got {value!r}")
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

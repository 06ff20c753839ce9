"""Plain descriptions of stored objects, as the engine returns them.

They are JSON-able dataclasses so the same shapes travel over the REST API and back
into the SDK's user objects unchanged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from granary_core.errors import InvalidInput


@dataclass(frozen=True)
class FeatureInfo:
    name: str
    type: str
    primary: bool = False
    event_time: bool = False
    description: str = ""


@dataclass(frozen=True)
class FeatureGroupInfo:
    id: str
    name: str
    version: int
    description: str
    primary_key: list[str]
    event_time: str | None
    partition_key: list[str]
    online_enabled: bool
    ttl_seconds: float | None
    features: list[FeatureInfo]
    transformations: list[dict[str, Any]]
    location: str
    created_at: dt.datetime
    feature_descriptions: dict[str, str] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)
    statistics_config: dict[str, Any] = field(default_factory=dict)
    expectation_suite: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: What ``update_feature_group`` may change after creation; the rest is fixed.
GROUP_UPDATES = ("description", "feature_descriptions", "tags", "statistics_config", "expectation_suite")


@dataclass(frozen=True)
class CommitInfo:
    commit_id: str
    table_version: int
    committed_at: dt.datetime
    operation: str
    rows_inserted: int
    rows_updated: int
    rows_deleted: int
    #: The routing epoch of the region that wrote it (0 embedded).
    epoch: int = 0


@dataclass(frozen=True)
class FeatureViewInfo:
    """A stored feature view.

    ``inference_helper_columns`` and ``training_helper_columns`` are features of the
    query that are not model inputs (Hopsworks' helper columns): reads leave them out
    unless asked, and feature vectors never have them.
    """

    id: str
    name: str
    version: int
    description: str
    query: dict[str, Any]
    labels: list[str]
    transformations: list[dict[str, Any]]
    created_at: dt.datetime
    features: list[FeatureInfo] = field(default_factory=list)
    inference_helper_columns: list[str] = field(default_factory=list)
    training_helper_columns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TrainingDatasetInfo:
    feature_view: str
    feature_view_version: int
    version: int
    description: str
    data_format: str
    location: str
    query_sql: str
    options: dict[str, Any]
    statistics: dict[str, Any]
    created_at: dt.datetime


def helper_columns(query: dict[str, Any], primary_key: list[str], event_time: str | None) -> list[str]:
    """The root group's primary key and event time columns that ``query`` does not select.

    As in hsfs, a selected key or event time is a feature of the view: training data,
    batch data and feature vectors return it. ``select_all()`` (``"features": null``)
    selects every column, so it has no helpers; ``select(["amount"])`` or
    ``select_all(include_primary_key=False)`` leaves keys out, and those are the helpers
    that reads add only when asked (``primary_key=True``, ``event_time=True``).
    """
    selected = query.get("features")
    if selected is None:
        return []
    return [c for c in [*primary_key, *([event_time] if event_time else [])] if c not in selected]


def check_helper_columns(
    where: str, columns: list[str], labels: list[str], helpers: dict[str, list[str]]
) -> None:
    """Helper columns (``{"inference_helper_columns": [...], ...}``) must be features the
    view's query selects (``columns``), and not labels: a read leaves a helper out
    unless asked, which a name the query does not return or a target cannot honour."""
    for kind, names in helpers.items():
        unknown = [n for n in names if n not in columns]
        if unknown:
            raise InvalidInput(
                f"{where}: {kind} {unknown} are not features the query selects (features: {columns})"
            )
        targets = [n for n in names if n in labels]
        if targets:
            raise InvalidInput(f"{where}: {kind} {targets} are labels; a label cannot be a helper column")


@dataclass(frozen=True)
class ModelInfo:
    """A registered model version: its lineage, metrics and artifact manifest.

    ``artifacts`` lists ``{"path", "size", "sha256"}`` of every file ``model.save``
    uploaded (``path`` relative, POSIX); ``state`` is ``"uploading"`` until each of
    them is stored, then ``"ready"``.
    """

    id: str
    name: str
    version: int
    framework: str
    description: str
    metrics: dict[str, float]
    input_example: Any
    model_schema: dict[str, Any] | None
    feature_view: str | None
    feature_view_version: int | None
    training_dataset_version: int | None
    artifacts: list[dict[str, Any]]
    state: str
    created_at: dt.datetime


@dataclass(frozen=True)
class DeploymentInfo:
    """A model deployment. ``state`` is the live one: ``STOPPED``, ``STARTING``,
    ``RUNNING`` or ``FAILED`` (crashed, restarting after a backoff); ``restarts``
    counts restarts after crashes since it was started."""

    name: str
    model_name: str
    model_version: int
    resources: dict[str, Any]
    desired_state: str
    state: str
    restarts: int
    created_at: dt.datetime


@dataclass(frozen=True)
class ServingKey:
    """A name a feature-vector entry gives, and which group's key column it fills.

    ``join_index`` is the group's position in the view's query (0 = the root group).
    """

    feature_name: str
    feature_group: str
    feature_group_version: int
    column: str
    join_index: int
    type: str
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

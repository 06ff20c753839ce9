"""Request and response bodies of the REST API (pydantic), mirroring ``granary_core.specs``.

Requests forbid unknown fields, so a misspelt option is a 4xx naming it rather than a
silent default.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[A-Za-z0-9_]{1,256}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    code: str = Field(description="stable error code; the SDK re-raises the matching class")
    message: str


class FeatureInfoPublic(BaseModel):
    name: str
    type: str
    primary: bool = False
    event_time: bool = False
    description: str = ""


class FeatureDeclared(Strict):
    name: str = Field(min_length=1, max_length=256)
    type: str = Field(
        max_length=256, description="a stored type name, e.g. int64, double, timestamp[us, tz=UTC]"
    )


class FeatureGroupCreate(Strict):
    name: str = Field(max_length=256)
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    primary_key: list[str] = Field(max_length=64)
    event_time: str | None = Field(default=None, max_length=256)
    online_enabled: bool = False
    description: str = Field(default="", max_length=10_000)
    partition_key: list[str] = Field(default_factory=list, max_length=64)
    ttl_seconds: float | None = None
    transformations: list[dict[str, Any]] = Field(default_factory=list, max_length=256)
    feature_descriptions: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, Any] = Field(default_factory=dict)
    statistics_config: dict[str, Any] = Field(default_factory=dict)
    expectation_suite: dict[str, Any] | None = None
    features: list[FeatureDeclared] | None = Field(
        default=None,
        max_length=4096,
        description="the schema, declared now; without it the first insert fixes it",
    )


class FeatureGroupUpdate(Strict):
    """The fields to change; the ones left out keep their values."""

    description: str | None = Field(default=None, max_length=10_000)
    feature_descriptions: dict[str, str] | None = None
    tags: dict[str, Any] | None = None
    statistics_config: dict[str, Any] | None = None
    expectation_suite: dict[str, Any] | None = None


class FeatureGroupPublic(BaseModel):
    id: str = Field(description="UUIDv7, the same in every region")
    name: str
    version: int
    description: str
    primary_key: list[str]
    event_time: str | None
    partition_key: list[str]
    online_enabled: bool
    ttl_seconds: float | None
    features: list[FeatureInfoPublic]
    transformations: list[dict[str, Any]]
    location: str
    created_at: dt.datetime
    feature_descriptions: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, Any] = Field(default_factory=dict)
    statistics_config: dict[str, Any] = Field(default_factory=dict)
    expectation_suite: dict[str, Any] | None = None


class StatisticsCompute(Strict):
    """Which rows ``compute_statistics`` describes and stores on their commit."""

    wallclock_time: dt.datetime | None = Field(
        default=None, description="the commit visible at this time (default: the latest); naive is UTC"
    )
    columns: list[str] | None = Field(
        default=None,
        max_length=4096,
        description="features to describe (default: the statistics_config's columns, else all)",
    )


class CommitPublic(BaseModel):
    commit_id: str = Field(description="UUIDv7 of this region's commit")
    table_version: int
    committed_at: dt.datetime
    operation: str
    rows_inserted: int
    rows_updated: int
    rows_deleted: int
    epoch: int = Field(description="the routing epoch of the region that made the commit")


class WriteAccepted(BaseModel):
    """An acknowledged write that is not visible yet (``wait=false``)."""

    topic: str
    partition: int
    offset: int
    batch_id: str


class QuerySql(Strict):
    query: dict[str, Any]
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None


class SqlPublic(BaseModel):
    sql: str


class FeatureViewCreate(Strict):
    name: str = Field(max_length=256)
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    query: dict[str, Any]
    labels: list[str] = Field(default_factory=list, max_length=256)
    description: str = Field(default="", max_length=10_000)
    transformations: list[dict[str, Any]] = Field(default_factory=list, max_length=256)
    inference_helper_columns: list[str] = Field(
        default_factory=list,
        max_length=256,
        description="features of the query read for inference only when asked, never in vectors",
    )
    training_helper_columns: list[str] = Field(
        default_factory=list,
        max_length=256,
        description="features of the query read with training data only when asked",
    )


class FeatureViewPublic(BaseModel):
    id: str = Field(description="UUIDv7, the same in every region")
    name: str
    version: int
    description: str
    query: dict[str, Any]
    labels: list[str]
    transformations: list[dict[str, Any]]
    created_at: dt.datetime
    features: list[FeatureInfoPublic] = Field(default_factory=list)
    inference_helper_columns: list[str] = Field(default_factory=list)
    training_helper_columns: list[str] = Field(default_factory=list)


class ColumnPublic(BaseModel):
    name: str
    type: str


class TrainingDatasetCreate(Strict):
    data_format: str = "parquet"
    options: dict[str, Any] = Field(default_factory=dict)
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    description: str = Field(default="", max_length=10_000)


class TrainingDatasetPublic(BaseModel):
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


class WhoAmI(BaseModel):
    project: str
    key_id: str
    flight_uri: str = Field(description="where this region's Arrow Flight server listens")


class ArtifactPublic(Strict):
    path: str = Field(max_length=1024, description="relative POSIX path inside the model's folder")
    size: int = Field(ge=0, description="bytes")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ModelCreate(Strict):
    name: str = Field(max_length=256)
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    framework: str = Field(max_length=32)
    artifacts: list[ArtifactPublic] = Field(min_length=1, max_length=10_000)
    description: str = Field(default="", max_length=10_000)
    metrics: dict[str, float] = Field(default_factory=dict, max_length=1_000)
    input_example: Any = None
    model_schema: dict[str, Any] | None = None
    feature_view: str | None = Field(default=None, max_length=256)
    feature_view_version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    training_dataset_version: int | None = Field(default=None, ge=1, le=2**31 - 1)


class ModelPublic(BaseModel):
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
    artifacts: list[ArtifactPublic]
    state: str = Field(description="'uploading' until every artifact is stored, then 'ready'")
    created_at: dt.datetime


class DeploymentCreate(Strict):
    name: str = Field(max_length=256)
    model_name: str = Field(max_length=256)
    model_version: int = Field(ge=1, le=2**31 - 1)
    script: str = Field(description="the predictor script's Python source (a class Predict)")
    resources: dict[str, Any] = Field(default_factory=dict, max_length=64)


class DeploymentPublic(BaseModel):
    name: str
    model_name: str
    model_version: int
    resources: dict[str, Any]
    desired_state: str = Field(description="RUNNING or STOPPED: what was asked")
    state: str = Field(description="STOPPED, STARTING, RUNNING or FAILED (restarting after a backoff)")
    restarts: int = Field(description="restarts after crashes since the deployment was started")
    created_at: dt.datetime


class PredictRequest(BaseModel):
    instances: Any = None
    inputs: Any = None


class PredictionsPublic(BaseModel):
    predictions: Any

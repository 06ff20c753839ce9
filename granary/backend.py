"""The seam between the SDK's user objects and a feature store.

``EmbeddedBackend`` runs the engine in-process; a remote backend speaks REST and
Arrow Flight. User objects only ever call the methods below, with Arrow tables and
the plain descriptions of :mod:`granary_core.specs`, so both behave the same.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

import pyarrow as pa

from granary_core.specs import (
    CommitInfo,
    DeploymentInfo,
    FeatureGroupInfo,
    FeatureViewInfo,
    ModelInfo,
    TrainingDatasetInfo,
)


class SupportsVectorRows:
    """A backend that can return feature vectors as Python rows, not Arrow.

    Building Arrow arrays costs microseconds per column, more than a single-entity
    lookup itself, and turning them back into Python rows costs more than decoding into
    Python values directly; the SDK checks ``isinstance(backend, SupportsVectorRows)``
    and uses this for ``list`` and ``dict`` results that need no transformation. Rows
    hold the columns of ``init_serving()["columns"]`` at positions ``columns`` (default
    all), in that order.
    """

    def get_feature_vector_rows(
        self,
        name: str,
        version: int,
        entries: list[dict[str, Any]],
        allow_missing: bool = False,
        columns: list[int] | None = None,
    ) -> list[list[Any]]:
        raise NotImplementedError


class Backend(Protocol):
    project_name: str

    def create_feature_group(self, **fields: Any) -> FeatureGroupInfo: ...
    def get_feature_group(self, name: str, version: int | None = None) -> FeatureGroupInfo: ...
    def list_feature_groups(self, name: str | None = None) -> list[FeatureGroupInfo]: ...
    def update_feature_group(self, name: str, version: int, changes: dict[str, Any]) -> FeatureGroupInfo: ...
    def validation_reports(
        self, name: str, version: int, limit: int | None = None
    ) -> list[dict[str, Any]]: ...
    def commit_statistics(
        self, name: str, version: int, commit_time: dt.datetime | None = None
    ) -> dict[str, Any] | None: ...
    def compute_statistics(
        self,
        name: str,
        version: int,
        wallclock_time: dt.datetime | None = None,
        columns: list[str] | None = None,
    ) -> dict[str, Any] | None: ...
    def delete_feature_group(self, name: str, version: int) -> None: ...
    def insert(
        self, name: str, version: int, table: pa.Table, overwrite: bool = False, wait: bool = True
    ) -> CommitInfo | None: ...
    def remove_rows(self, name: str, version: int, table: pa.Table) -> CommitInfo: ...
    def compact(self, name: str, version: int, wait: bool = True) -> CommitInfo | None: ...
    def commit_details(self, name: str, version: int, limit: int | None = None) -> list[CommitInfo]: ...
    def read(
        self,
        name: str,
        version: int,
        wallclock_time: dt.datetime | None = None,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
    ) -> pa.Table: ...
    def read_online(self, name: str, version: int) -> pa.Table: ...

    def run_query(
        self,
        spec: dict[str, Any],
        spine: pa.Table | None = None,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
        include_keys: bool = False,
    ) -> pa.Table: ...
    def query_sql(self, spec: dict[str, Any]) -> str: ...

    def create_feature_view(self, **fields: Any) -> FeatureViewInfo: ...
    def get_feature_view(self, name: str, version: int | None = None) -> FeatureViewInfo: ...
    def list_feature_views(self, name: str | None = None) -> list[FeatureViewInfo]: ...
    def delete_feature_view(self, name: str, version: int) -> None: ...
    def feature_view_schema(self, name: str, version: int) -> list[tuple[str, str]]: ...

    # feature vectors (data_plane.serving): entries and the plan description are JSON-able
    def init_serving(self, name: str, version: int) -> dict[str, Any]: ...
    def get_feature_vectors(
        self, name: str, version: int, entries: list[dict[str, Any]], allow_missing: bool = False
    ) -> pa.Table: ...

    def training_splits(
        self,
        name: str,
        version: int,
        options: dict[str, Any],
        start_time: dt.datetime | None,
        end_time: dt.datetime | None,
        spine: pa.Table | None,
    ) -> dict[str, pa.Table]: ...
    def training_batches(
        self,
        name: str,
        version: int,
        start_time: dt.datetime | None,
        end_time: dt.datetime | None,
        spine: pa.Table | None,
    ) -> pa.RecordBatchReader:
        """Training data of the view (every column, keys and labels too, no split) as
        record batches produced while the query runs."""
        ...

    def read_training_splits(
        self,
        name: str,
        version: int,
        options: dict[str, Any],
        start_time: dt.datetime | None,
        end_time: dt.datetime | None,
        spine: pa.Table | None,
    ) -> tuple[TrainingDatasetInfo, dict[str, pa.Table]]: ...
    def create_training_dataset(
        self,
        name: str,
        version: int,
        data_format: str,
        options: dict[str, Any],
        start_time: dt.datetime | None,
        end_time: dt.datetime | None,
        spine: pa.Table | None,
        description: str,
    ) -> TrainingDatasetInfo: ...
    def get_training_dataset(
        self, name: str, version: int, td_version: int
    ) -> tuple[TrainingDatasetInfo, dict[str, pa.Table]]: ...
    def list_training_datasets(self, name: str, version: int) -> list[TrainingDatasetInfo]: ...
    def delete_training_dataset(self, name: str, version: int, td_version: int) -> None: ...

    # model registry (data_plane.model_registry): a version is created with its manifest,
    # then each artifact file is put, checked against it
    def create_model(self, **fields: Any) -> ModelInfo: ...
    def put_model_file(self, name: str, version: int, path: str, data: bytes) -> ModelInfo: ...
    def read_model_file(self, name: str, version: int, path: str) -> bytes: ...
    def get_model(self, name: str, version: int | None = None) -> ModelInfo: ...
    def list_models(
        self,
        name: str | None = None,
        feature_view: str | None = None,
        feature_view_version: int | None = None,
    ) -> list[ModelInfo]: ...
    def delete_model(self, name: str, version: int) -> None: ...

    # model deployments: remote, processes of the region; embedded, in this process
    def create_deployment(self, **fields: Any) -> DeploymentInfo: ...
    def get_deployment(self, name: str) -> DeploymentInfo: ...
    def list_deployments(self) -> list[DeploymentInfo]: ...
    def start_deployment(self, name: str) -> DeploymentInfo: ...
    def stop_deployment(self, name: str) -> DeploymentInfo: ...
    def delete_deployment(self, name: str) -> None: ...
    def deployment_logs(self, name: str, tail: int) -> str: ...
    def predict(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...

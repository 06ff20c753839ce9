"""The embedded backend: the whole feature store in this process, no servers.

Metadata lives in SQLite, offline data in Delta/Parquet files, both under one home
folder, so a project is a directory you can copy or delete. The online store is the
SQLite file ``online.db`` there too, unless ``online`` names a Redis
(``redis://host:port/db``) or is a ready :class:`data_plane.online.OnlineStore`.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from data_plane import training
from data_plane.catalog import Catalog
from data_plane.deployments import (
    RUNNING,
    STOPPED,
    DeploymentCatalog,
    deployment_info,
    fetch_model_files,
    jsonable,
    load_predictor,
    request_inputs,
)
from data_plane.engine import FeatureStoreEngine
from data_plane.metadata.db import open_metadata
from data_plane.model_registry import ModelRegistry
from data_plane.offline.delta import DeltaOfflineStore
from data_plane.offline.s3 import S3Config, S3DeltaOfflineStore, ensure_bucket
from data_plane.online import OnlineStore
from data_plane.online import connect as connect_online
from data_plane.query.memory import QueryMemory
from data_plane.serving import FeatureServer
from data_plane.spark_engine import SparkEngine
from granary.backend import SupportsVectorRows
from granary_core.errors import BackendUnavailable, InvalidInput, NotSupported
from granary_core.specs import (
    CommitInfo,
    DeploymentInfo,
    FeatureGroupInfo,
    FeatureViewInfo,
    ModelInfo,
    TrainingDatasetInfo,
)


class EmbeddedBackend(SupportsVectorRows):
    def __init__(
        self,
        home: str | Path,
        project: str = "default",
        online: OnlineStore | str | None = None,
        memory_limit: str | None = None,
        offline_store: str | None = None,
    ) -> None:
        """``memory_limit``: what DuckDB may hold for queries (``"2GB"``; default 80% of the
        machine's memory); beyond it, it spills under ``home/tmp``.

        ``offline_store``: an ``s3://bucket/prefix`` for the offline tables instead of
        ``home/offline``, signed with the standard ``AWS_*`` variables
        (:func:`s3_from_environment`), so a Spark cluster can read and write the same
        tables while metadata stays in ``home``."""
        self.home = Path(home).resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        self.project_name = project
        metadata = open_metadata(f"sqlite:///{self.home / 'metadata.db'}")
        if online is None or isinstance(online, str):
            online = connect_online(online, self.home, project)
        self.s3: S3Config | None = None
        offline: DeltaOfflineStore = DeltaOfflineStore()
        offline_root = str(self.home / "offline")
        self.offline_filesystem: pafs.FileSystem = pafs.LocalFileSystem()
        if offline_store:
            self.s3 = s3_from_environment(offline_store)
            ensure_bucket(self.s3)
            offline, offline_root = S3DeltaOfflineStore(self.s3), offline_store.rstrip("/")
            self.offline_filesystem = self.s3.filesystem()
        self.engine = FeatureStoreEngine(
            Catalog(metadata, project),
            offline,
            offline_root=offline_root,
            online=online,
            memory=QueryMemory(memory_limit, str(self.home / "tmp")),
        )
        self.serving = FeatureServer(self.engine.catalog, online)
        self.models = ModelRegistry(
            self.engine.catalog, pafs.LocalFileSystem(), str(self.home / "models" / project)
        )

        self.deployments = DeploymentCatalog(self.engine.catalog)
        self._predictors: dict[str, Any] = {}  # running deployments: name -> Predict()

    def spark_engine(self) -> SparkEngine:
        """The Spark engine over this store's tables, on the running Spark session or a
        local one (:func:`granary.spark.session`) that can reach them."""
        from granary.spark import session

        return SparkEngine(self.engine, session(s3=self.s3), self.offline_filesystem)

    @property
    def spark_training_root(self) -> str:
        """Where Spark writes training datasets: beside the offline tables when they
        are in an object store (where a cluster writes), else in ``home``."""
        return (
            f"{self.engine.offline_root}/_training_datasets"
            if self.s3
            else str(self.home / "training_datasets")
        )

    def _training_filesystem(self, location: str) -> pafs.FileSystem | None:
        return self.offline_filesystem if "://" in location else None

    @property
    def spark_staging(self) -> str:
        """Where Spark stages a DataFrame it inserts: beside the offline tables, so a
        cluster's executors can write there."""
        return f"{self.engine.offline_root}/_staging" if self.s3 else str(self.home / "tmp")

    def __repr__(self) -> str:
        return f"EmbeddedBackend(home={str(self.home)!r}, project={self.project_name!r})"

    # feature groups -----------------------------------------------------------------
    def create_feature_group(self, **fields: Any) -> FeatureGroupInfo:
        return self.engine.create_feature_group(**fields)

    def get_feature_group(self, name: str, version: int | None = None) -> FeatureGroupInfo:
        return self.engine.catalog.get_group(name, version)

    def list_feature_groups(self, name: str | None = None) -> list[FeatureGroupInfo]:
        return self.engine.catalog.list_groups(name)

    def update_feature_group(self, name: str, version: int, changes: dict[str, Any]) -> FeatureGroupInfo:
        return self.engine.update_feature_group(name, version, changes)

    def validation_reports(self, name: str, version: int, limit: int | None = None) -> list[dict[str, Any]]:
        info = self.engine.catalog.get_group(name, version)
        return self.engine.catalog.validation_reports(info.id, limit)

    def commit_statistics(
        self, name: str, version: int, commit_time: dt.datetime | None = None
    ) -> dict[str, Any] | None:
        info = self.engine.catalog.get_group(name, version)
        return self.engine.catalog.commit_statistics(info.id, commit_time)

    def compute_statistics(
        self,
        name: str,
        version: int,
        wallclock_time: dt.datetime | None = None,
        columns: list[str] | None = None,
    ) -> dict[str, Any] | None:
        return self.engine.compute_statistics(name, version, wallclock_time, columns)

    def delete_feature_group(self, name: str, version: int) -> None:
        self.engine.delete_feature_group(name, version)

    def insert(
        self, name: str, version: int, table: pa.Table, overwrite: bool = False, wait: bool = True
    ) -> CommitInfo:
        """``wait`` is ignored: an embedded insert is visible when it returns."""
        return self.engine.insert(name, version, table, overwrite=overwrite)

    def remove_rows(self, name: str, version: int, table: pa.Table) -> CommitInfo:
        return self.engine.remove_rows(name, version, table)

    def compact(self, name: str, version: int, wait: bool = True) -> CommitInfo:
        """``wait`` is ignored: an embedded compaction is done when it returns."""
        return self.engine.compact(name, version)

    def commit_details(self, name: str, version: int, limit: int | None = None) -> list[CommitInfo]:
        return self.engine.commit_details(name, version, limit)

    def read(
        self,
        name: str,
        version: int,
        wallclock_time: dt.datetime | None = None,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
    ) -> pa.Table:
        return self.engine.read(name, version, wallclock_time, start_time, end_time)

    def read_online(self, name: str, version: int) -> pa.Table:
        if self.engine.online is None:
            raise NotSupported("this project has no online store configured")
        return self.engine.online.read_all(self.engine.catalog.get_group(name, version))

    # queries ------------------------------------------------------------------------
    def run_query(
        self,
        spec: dict[str, Any],
        spine: pa.Table | None = None,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
        include_keys: bool = False,
    ) -> pa.Table:
        return self.engine.run_query(spec, spine, start_time, end_time, include_keys)

    def query_sql(self, spec: dict[str, Any]) -> str:
        return self.engine.query_sql(spec)

    # feature views ------------------------------------------------------------------
    def create_feature_view(self, **fields: Any) -> FeatureViewInfo:
        return self.engine.create_feature_view(**fields)

    def get_feature_view(self, name: str, version: int | None = None) -> FeatureViewInfo:
        return self.engine.catalog.get_view(name, version)

    def list_feature_views(self, name: str | None = None) -> list[FeatureViewInfo]:
        return self.engine.catalog.list_views(name)

    def delete_feature_view(self, name: str, version: int) -> None:
        self.engine.catalog.delete_view(name, version)
        self.serving.forget(name, version)

    def feature_view_schema(self, name: str, version: int) -> list[tuple[str, str]]:
        return self.engine.feature_view_schema(self.get_feature_view(name, version))

    # feature vectors ----------------------------------------------------------------
    def init_serving(self, name: str, version: int) -> dict[str, Any]:
        return self.serving.init_serving(name, version)

    def get_feature_vectors(
        self, name: str, version: int, entries: list[dict[str, Any]], allow_missing: bool = False
    ) -> pa.Table:
        return self.serving.get_feature_vectors(name, version, entries, allow_missing)

    def get_feature_vector_rows(
        self,
        name: str,
        version: int,
        entries: list[dict[str, Any]],
        allow_missing: bool = False,
        columns: list[int] | None = None,
    ) -> list[list[Any]]:
        return self.serving.get_feature_vector_rows(name, version, entries, allow_missing, columns)

    # training data ------------------------------------------------------------------
    def training_splits(
        self,
        name: str,
        version: int,
        options: dict[str, Any],
        start_time: dt.datetime | None,
        end_time: dt.datetime | None,
        spine: pa.Table | None,
    ) -> dict[str, pa.Table]:
        view = self.get_feature_view(name, version)
        split = training.SplitOptions.from_dict(options)
        return training.split_tables(self.engine, view, split, start_time, end_time, spine)

    def training_batches(
        self,
        name: str,
        version: int,
        start_time: dt.datetime | None,
        end_time: dt.datetime | None,
        spine: pa.Table | None,
    ) -> pa.RecordBatchReader:
        view = self.engine.catalog.get_view(name, version)
        return training.training_stream(self.engine, view, start_time, end_time, spine)

    def read_training_splits(
        self,
        name: str,
        version: int,
        options: dict[str, Any],
        start_time: dt.datetime | None,
        end_time: dt.datetime | None,
        spine: pa.Table | None,
    ) -> tuple[TrainingDatasetInfo, dict[str, pa.Table]]:
        view = self.get_feature_view(name, version)
        split = training.SplitOptions.from_dict(options)
        splits = training.split_tables(self.engine, view, split, start_time, end_time, spine)
        info = training.record_memory_read(self.engine, view, split, start_time, end_time, spine, splits)
        return info, splits

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
    ) -> TrainingDatasetInfo:
        return training.create_training_dataset(
            self.engine,
            self.get_feature_view(name, version),
            str(self.home / "training_datasets"),
            data_format,
            training.SplitOptions.from_dict(options),
            start_time,
            end_time,
            spine,
            description,
        )

    def get_training_dataset(
        self, name: str, version: int, td_version: int
    ) -> tuple[TrainingDatasetInfo, dict[str, pa.Table]]:
        info = self.engine.catalog.get_training_dataset(name, version, td_version)
        filesystem = self._training_filesystem(info.location)
        return info, training.read_training_dataset(self.engine, info, filesystem)

    def list_training_datasets(self, name: str, version: int) -> list[TrainingDatasetInfo]:
        return self.engine.catalog.list_training_datasets(name, version)

    def delete_training_dataset(self, name: str, version: int, td_version: int) -> None:
        info = self.engine.catalog.get_training_dataset(name, version, td_version)
        filesystem = self._training_filesystem(info.location)
        training.delete_training_dataset(self.engine.catalog, name, version, td_version, filesystem)

    # model registry -------------------------------------------------------------------
    def create_model(self, **fields: Any) -> ModelInfo:
        return self.models.create(**fields)

    def put_model_file(self, name: str, version: int, path: str, data: bytes) -> ModelInfo:
        return self.models.put_file(name, version, path, data)

    def read_model_file(self, name: str, version: int, path: str) -> bytes:
        return self.models.read_file(name, version, path)

    def get_model(self, name: str, version: int | None = None) -> ModelInfo:
        return self.models.get(name, version)

    def list_models(
        self,
        name: str | None = None,
        feature_view: str | None = None,
        feature_view_version: int | None = None,
    ) -> list[ModelInfo]:
        return self.models.list(name, feature_view, feature_view_version)

    def delete_model(self, name: str, version: int) -> None:
        self.models.delete(name, version)

    # model deployments: the predictor runs in this process ----------------------------------
    def _deployment(self, record: Any) -> DeploymentInfo:
        return deployment_info(record, RUNNING if record.name in self._predictors else STOPPED, 0)

    def create_deployment(self, **fields: Any) -> DeploymentInfo:
        self.models.get(fields["model_name"], fields["model_version"])
        return self._deployment(self.deployments.create(**fields))

    def get_deployment(self, name: str) -> DeploymentInfo:
        return self._deployment(self.deployments.get(name))

    def list_deployments(self) -> list[DeploymentInfo]:
        return [self._deployment(r) for r in self.deployments.list()]

    def start_deployment(self, name: str) -> DeploymentInfo:
        """Build the script's ``Predict`` here, with the model's files in a folder of the
        project's home and ``granary.login()`` opening this same home and project."""
        record = self.deployments.set_running(name)
        if name not in self._predictors:
            folder = self.home / "deployments" / self.project_name / name
            model_dir = fetch_model_files(
                self.models, record.model_name, record.model_version, folder / "model"
            )
            script = folder / "predictor.py"
            script.write_text(record.script)
            environment = {
                "MODEL_FILES_PATH": str(model_dir),
                "GRANARY_MODEL": f"{record.model_name}:{record.model_version}",
                "GRANARY_HOME": str(self.home),
                "GRANARY_PROJECT": self.project_name,
            }
            self._predictors[name] = load_predictor(script, environment)
        return self._deployment(record)

    def stop_deployment(self, name: str) -> DeploymentInfo:
        record = self.deployments.set_stopped(name)
        self._predictors.pop(name, None)
        return self._deployment(record)

    def delete_deployment(self, name: str) -> None:
        self.stop_deployment(name)
        self.deployments.delete(name)

    def deployment_logs(self, name: str, tail: int) -> str:
        """Empty: an embedded predictor writes to this process's own output."""
        self.deployments.get(name)
        return ""

    def predict(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        predictor = self._predictors.get(name)
        if predictor is None:
            self.deployments.get(name)
            raise BackendUnavailable(f"deployment '{name}' of project '{self.project_name}' is not running")
        inputs = request_inputs(body, f"deployment '{name}'")
        return {"predictions": jsonable(predictor.predict(inputs))}


def s3_from_environment(uri: str) -> S3Config:
    """The object store of an ``s3://bucket/...`` URI, from the variables AWS tools
    read: ``AWS_ENDPOINT_URL`` (default AWS itself), ``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY`` and ``AWS_REGION``."""
    if not uri.startswith("s3://") or len(uri) <= len("s3://"):
        raise InvalidInput(f"offline_store {uri!r} is not an s3://bucket/prefix URI")
    missing = [v for v in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not os.environ.get(v)]
    if missing:
        raise InvalidInput(f"offline_store {uri!r} needs {' and '.join(missing)} in the environment")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return S3Config(
        endpoint=os.environ.get("AWS_ENDPOINT_URL") or f"https://s3.{region}.amazonaws.com",
        access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        bucket=uri.removeprefix("s3://").split("/", 1)[0],
        region=region,
    )

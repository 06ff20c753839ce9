"""The model registry of one project: model versions in the catalog, artifacts as files.

Saving a model is two steps, so the same code serves the embedded store and the REST
API: :meth:`ModelRegistry.create` records the version with the manifest of its files
(relative path, size, SHA-256), then :meth:`ModelRegistry.put_file` stores each file,
refusing bytes whose size or checksum differ from the manifest. The version is
``"ready"`` once every file of the manifest is stored. Files live under
``{root}/{model}/{version}/`` of a pyarrow filesystem: the project folder embedded, the
region's S3 bucket remote.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import PurePosixPath
from typing import Any

import pyarrow.fs as pafs
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data_plane.catalog import Catalog
from data_plane.metadata.models import ModelRecord
from data_plane.offline.s3 import delete_tree
from granary_core.errors import AlreadyExists, ChecksumMismatch, InvalidInput, ModelNotFound
from granary_core.specs import ModelInfo

FRAMEWORKS = ("python", "sklearn", "tensorflow", "torch")


def model_info(record: ModelRecord) -> ModelInfo:
    return ModelInfo(
        id=record.id,
        name=record.name,
        version=record.version,
        framework=record.framework,
        description=record.description,
        metrics=dict(record.metrics or {}),
        input_example=record.input_example,
        model_schema=record.model_schema,
        feature_view=record.feature_view,
        feature_view_version=record.feature_view_version,
        training_dataset_version=record.training_dataset_version,
        artifacts=list(record.artifacts or []),
        state=record.state,
        created_at=record.created_at,
    )


def artifact_path(path: str, where: str) -> str:
    """``path`` as a clean relative POSIX path inside the model's folder, or refused."""
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or any(part in ("", ".", "..") for part in path.split("/")):
        raise InvalidInput(f"{where}: artifact path {path!r} must be relative, without '.' or '..' parts")
    return str(pure)


def _check_manifest(artifacts: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    if not artifacts:
        raise InvalidInput(f"{where}: save needs at least one artifact file")
    manifest, seen = [], set()
    for item in artifacts:
        path = artifact_path(str(item.get("path", "")), where)
        sha256, size = str(item.get("sha256", "")), item.get("size")
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise InvalidInput(f"{where}: artifact '{path}': sha256 must be 64 lowercase hex digits")
        if not isinstance(size, int) or size < 0:
            raise InvalidInput(f"{where}: artifact '{path}': size must be a non-negative integer")
        if path in seen:
            raise InvalidInput(f"{where}: artifact '{path}' is listed twice")
        seen.add(path)
        manifest.append({"path": path, "size": size, "sha256": sha256})
    return manifest


def _check_metrics(metrics: dict[str, Any], where: str) -> dict[str, float]:
    checked = {}
    for name, value in (metrics or {}).items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidInput(f"{where}: metric '{name}' must be a finite number, got {value!r}")
        checked[str(name)] = float(value)
    return checked


class ModelRegistry:
    def __init__(self, catalog: Catalog, filesystem: pafs.FileSystem, root: str) -> None:
        """``root``: the project's model folder in ``filesystem`` (a local path, or
        ``bucket/prefix`` of an S3 filesystem), without a trailing slash."""
        self.catalog = catalog
        self.filesystem = filesystem
        self.root = root.rstrip("/")

    def _where(self, name: str, version: int | None = None) -> str:
        at = "" if version is None else f" v{version}"
        return f"model '{name}'{at} of project '{self.catalog.project}'"

    def _folder(self, name: str, version: int) -> str:
        return f"{self.root}/{name}/{version}"

    def _record(self, session: Session, name: str, version: int | None) -> ModelRecord:
        query = select(ModelRecord).where(
            ModelRecord.project_id == self.catalog.project_id, ModelRecord.name == name
        )
        if version is None:
            query = query.order_by(ModelRecord.version.desc()).limit(1)
        else:
            query = query.where(ModelRecord.version == version)
        record = session.scalar(query)
        if record is None:
            at = "any version" if version is None else f"version {version}"
            raise ModelNotFound(f"model '{name}' {at} does not exist in project '{self.catalog.project}'")
        return record

    # versions -------------------------------------------------------------------------
    def create(
        self,
        name: str,
        version: int | None,
        framework: str,
        artifacts: list[dict[str, Any]],
        description: str = "",
        metrics: dict[str, Any] | None = None,
        input_example: Any = None,
        model_schema: dict[str, Any] | None = None,
        feature_view: str | None = None,
        feature_view_version: int | None = None,
        training_dataset_version: int | None = None,
    ) -> ModelInfo:
        """Record a model version (next free one when ``version`` is None) and its manifest.

        The lineage must exist: the feature view version and, if given, its training
        dataset version, so a model never names something that is not there.
        """
        where = self._where(name, version)
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise InvalidInput(f"model name {name!r}: use letters, digits, '-' and '_'")
        if framework not in FRAMEWORKS:
            raise InvalidInput(f"{where}: framework {framework!r} is not one of {', '.join(FRAMEWORKS)}")
        manifest = _check_manifest(artifacts, where)
        checked_metrics = _check_metrics(metrics or {}, where)
        if feature_view is None and (feature_view_version or training_dataset_version):
            raise InvalidInput(f"{where}: a training dataset version needs its feature_view")
        if feature_view is not None:
            if feature_view_version is None:
                raise InvalidInput(f"{where}: feature_view needs feature_view_version")
            if training_dataset_version is None:
                self.catalog.get_view(feature_view, feature_view_version)
            else:
                self.catalog.get_training_dataset(
                    feature_view, feature_view_version, training_dataset_version
                )
        try:
            with self.catalog.session() as session:
                if version is None:
                    latest = session.scalar(
                        select(func.max(ModelRecord.version)).where(
                            ModelRecord.project_id == self.catalog.project_id, ModelRecord.name == name
                        )
                    )
                    version = (latest or 0) + 1
                record = ModelRecord(
                    project_id=self.catalog.project_id,
                    name=name,
                    version=version,
                    framework=framework,
                    description=description,
                    metrics=checked_metrics,
                    input_example=input_example,
                    model_schema=model_schema,
                    feature_view=feature_view,
                    feature_view_version=feature_view_version,
                    training_dataset_version=training_dataset_version,
                    artifacts=manifest,
                    state="uploading",
                )
                session.add(record)
                session.flush()
                return model_info(record)
        except IntegrityError as exc:
            raise AlreadyExists(f"{self._where(name, version)} already exists") from exc

    def get(self, name: str, version: int | None = None) -> ModelInfo:
        with self.catalog.session() as session:
            return model_info(self._record(session, name, version))

    def list(
        self,
        name: str | None = None,
        feature_view: str | None = None,
        feature_view_version: int | None = None,
    ) -> list[ModelInfo]:
        """Model versions, optionally by name or by the feature view they were trained on."""
        query = select(ModelRecord).where(ModelRecord.project_id == self.catalog.project_id)
        if name is not None:
            query = query.where(ModelRecord.name == name)
        if feature_view is not None:
            query = query.where(ModelRecord.feature_view == feature_view)
        if feature_view_version is not None:
            query = query.where(ModelRecord.feature_view_version == feature_view_version)
        with self.catalog.session() as session:
            records = session.scalars(query.order_by(ModelRecord.name, ModelRecord.version))
            return [model_info(r) for r in records]

    def delete(self, name: str, version: int) -> None:
        """Forget the version, then remove its files (a crash between leaves only files)."""
        with self.catalog.session() as session:
            session.delete(self._record(session, name, version))
        delete_tree(self.filesystem, self._folder(name, version))

    # artifacts ------------------------------------------------------------------------
    def put_file(self, name: str, version: int, path: str, data: bytes) -> ModelInfo:
        """Store one artifact of the manifest; refused unless its size and SHA-256 match."""
        where = self._where(name, version)
        path = artifact_path(path, where)
        info = self.get(name, version)
        expected = next((a for a in info.artifacts if a["path"] == path), None)
        if expected is None:
            listed = ", ".join(a["path"] for a in info.artifacts)
            raise InvalidInput(f"{where}: '{path}' is not in the manifest ({listed})")
        digest = hashlib.sha256(data).hexdigest()
        if len(data) != expected["size"] or digest != expected["sha256"]:
            raise ChecksumMismatch(
                f"{where}: artifact '{path}' has {len(data)} bytes with SHA-256 {digest}, "
                f"the manifest says {expected['size']} bytes with {expected['sha256']}"
            )
        target = f"{self._folder(name, version)}/{path}"
        self.filesystem.create_dir(target.rsplit("/", 1)[0], recursive=True)
        with self.filesystem.open_output_stream(target) as out:
            out.write(data)
        stored = self.filesystem.get_file_info(
            [f"{self._folder(name, version)}/{a['path']}" for a in info.artifacts]
        )
        if all(s.type == pafs.FileType.File for s in stored):
            with self.catalog.session() as session:
                record = self._record(session, name, version)
                record.state = "ready"
                session.flush()
                return model_info(record)
        return info

    def read_file(self, name: str, version: int, path: str) -> bytes:
        where = self._where(name, version)
        path = artifact_path(path, where)
        info = self.get(name, version)
        if not any(a["path"] == path for a in info.artifacts):
            raise ModelNotFound(f"{where} has no artifact '{path}'")
        try:
            with self.filesystem.open_input_stream(f"{self._folder(name, version)}/{path}") as source:
                return source.read()
        except FileNotFoundError as exc:
            raise ModelNotFound(
                f"{where}: artifact '{path}' was never uploaded (state {info.state})"
            ) from exc

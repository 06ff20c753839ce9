"""A model version of the registry, with Hopsworks' names.

``mr.sklearn.create_model(...)`` makes an unsaved :class:`Model`; ``model.save(path)``
registers it: the files under ``path`` are hashed (SHA-256), the version is recorded
with that manifest and its lineage (feature view, training dataset version), then each
file is uploaded and checked against the manifest where it is stored. ``download``
checks every byte again on the way back.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from granary_core.errors import ChecksumMismatch, InvalidInput
from granary_core.frames import to_arrow
from granary_core.specs import ModelInfo
from granary_core.wire import to_jsonable

if TYPE_CHECKING:
    from granary.backend import Backend
    from granary.deployment import Deployment
    from granary.feature_view import FeatureView
    from granary.model_schema import ModelSchema


def _example(value: Any) -> Any:
    """An input example as JSON: a dataframe's first row as a dict, an array as lists."""
    if value is None:
        return None
    if hasattr(value, "columns") or hasattr(value, "schema"):
        rows = to_arrow(value, "input_example").slice(0, 1).to_pylist()
        return to_jsonable(rows[0]) if rows else None
    if hasattr(value, "tolist"):
        return value.tolist()
    return to_jsonable(value)


def _files(path: Path) -> list[tuple[str, Path]]:
    """(relative POSIX path, file) of a file or of every file under a folder."""
    if path.is_file():
        return [(path.name, path)]
    if path.is_dir():
        return sorted((p.relative_to(path).as_posix(), p) for p in path.rglob("*") if p.is_file())
    raise InvalidInput(f"model path '{path}' is neither a file nor a folder")


class Model:
    def __init__(
        self,
        backend: Backend,
        framework: str,
        name: str,
        version: int | None = None,
        metrics: dict[str, float] | None = None,
        description: str = "",
        input_example: Any = None,
        model_schema: ModelSchema | dict[str, Any] | None = None,
        feature_view: FeatureView | None = None,
        training_dataset_version: int | None = None,
        info: ModelInfo | None = None,
    ) -> None:
        self._backend = backend
        self._info = info
        self._fields: dict[str, Any] = {
            "name": name,
            "version": version,
            "framework": framework,
            "metrics": dict(metrics or {}),
            "description": description,
            "input_example": _example(input_example),
            "model_schema": model_schema.to_dict() if hasattr(model_schema, "to_dict") else model_schema,
            "feature_view": None if feature_view is None else feature_view.name,
            "feature_view_version": None if feature_view is None else feature_view.version,
            "training_dataset_version": training_dataset_version,
        }

    @classmethod
    def _from_info(cls, backend: Backend, info: ModelInfo) -> Model:
        return cls(backend, info.framework, info.name, info=info)

    def _get(self, field: str) -> Any:
        return getattr(self._info, field) if self._info is not None else self._fields.get(field)

    name = property(lambda self: self._get("name"))
    version = property(lambda self: self._get("version"))
    framework = property(lambda self: self._get("framework"))
    description = property(lambda self: self._get("description"))
    input_example = property(lambda self: self._get("input_example"))
    model_schema = property(lambda self: self._get("model_schema"))
    training_dataset_version = property(lambda self: self._get("training_dataset_version"))
    feature_view_name = property(lambda self: self._get("feature_view"))
    feature_view_version = property(lambda self: self._get("feature_view_version"))

    @property
    def training_metrics(self) -> dict[str, float]:
        return dict(self._get("metrics") or {})

    metrics = training_metrics

    @property
    def state(self) -> str:
        """``"unsaved"``, ``"uploading"`` (not every file stored yet) or ``"ready"``."""
        return "unsaved" if self._info is None else self._info.state

    @property
    def artifacts(self) -> list[dict[str, Any]]:
        """``{"path", "size", "sha256"}`` of every saved file."""
        return [] if self._info is None else list(self._info.artifacts)

    def __repr__(self) -> str:
        where = f"version={self.version}, framework={self.framework!r}"
        return f"Model({self.name!r}, {where}, state={self.state!r})"

    def _saved(self) -> ModelInfo:
        if self._info is None:
            raise InvalidInput(f"model '{self.name}' is not saved yet: call model.save(path) first")
        return self._info

    # saving and reading back -------------------------------------------------------------
    def save(self, model_path: str | Path) -> Model:
        """Register this version with the file or folder ``model_path`` as its artifacts."""
        if self._info is not None:
            raise InvalidInput(f"model '{self.name}' v{self.version} is saved already; create a new version")
        files = _files(Path(model_path))
        contents = {relative: file.read_bytes() for relative, file in files}
        artifacts = [
            {"path": relative, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for relative, data in contents.items()
        ]
        info = self._backend.create_model(**self._fields, artifacts=artifacts)
        for relative, data in contents.items():
            info = self._backend.put_model_file(info.name, info.version, relative, data)
        self._info = info
        return self

    def download(self, local_path: str | Path | None = None) -> str:
        """Fetch every artifact into ``local_path`` (a new temporary folder by default),
        checking each against its recorded SHA-256; returns the folder."""
        info = self._saved()
        folder = (
            Path(local_path) if local_path is not None else Path(tempfile.mkdtemp(prefix=f"{info.name}_"))
        )
        for artifact in info.artifacts:
            data = self._backend.read_model_file(info.name, info.version, artifact["path"])
            digest = hashlib.sha256(data).hexdigest()
            if digest != artifact["sha256"]:
                raise ChecksumMismatch(
                    f"model '{info.name}' v{info.version}: downloaded '{artifact['path']}' has SHA-256 "
                    f"{digest}, the registry recorded {artifact['sha256']}"
                )
            target = folder / artifact["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return str(folder)

    def get_feature_view(self, init: bool = True, online: bool | None = None) -> FeatureView:
        """The feature view the model was trained on, ready for batch scoring and serving
        with the statistics of its training dataset version (so model-dependent
        transformations match training).

        ``online`` (as in Hopsworks): initialise serving too; by default only when every
        group of the view is online-enabled, so a batch model's offline view opens."""
        from granary.feature_view import FeatureView, view_groups

        info = self._saved()
        if info.feature_view is None:
            raise InvalidInput(f"model '{info.name}' v{info.version} was saved without a feature_view")
        assert info.feature_view_version is not None
        view = FeatureView(
            self._backend, self._backend.get_feature_view(info.feature_view, info.feature_view_version)
        )
        if init:
            if online is None:
                online = all(g.online_enabled for g in view_groups(self._backend, view._info.query))
            if online:
                view.init_serving(training_dataset_version=info.training_dataset_version)
            view.init_batch_scoring(training_dataset_version=info.training_dataset_version)
        return view

    def deploy(
        self, name: str | None = None, script_file: str | Path | None = None, resources: dict | None = None
    ) -> Deployment:
        """A deployment of this version (stopped; ``deployment.start()`` runs it).

        ``resources`` (``{"cpu": cores, "memory": MiB}``) are the predictor's limits where a
        region runs deployments on Kubernetes; where it runs them as processes (and
        embedded) they cannot be held to, and giving any is refused (``NotSupported``).
        """
        from granary.deployment import ModelServing

        self._saved()
        return ModelServing(self._backend).create_deployment(self, name, script_file, resources)

    def delete(self) -> None:
        info = self._saved()
        self._backend.delete_model(info.name, info.version)

"""Model deployments of one project: their records, and how a predictor script is run.

A deployment names a model version and a predictor script: Python source defining a
class ``Predict`` whose ``__init__`` loads the model (its files are in the folder
``$MODEL_FILES_PATH``) and may open the feature store with ``granary.login()`` (the
environment says where), and whose ``predict(self, inputs)`` answers one request.
The embedded store runs it in the calling process; a region runs each started
deployment as a process of its own (:mod:`data_plane.supervisor`), every one in the
data plane's own Python environment: a script imports only what that has installed.

``resources`` are ``{"cpu": cores, "memory": MiB}``, the pod's limits on a region whose
deployments run on Kubernetes. Processes of one machine (a region without Kubernetes,
the embedded store) cannot be held to them, so there a deployment giving any is
refused rather than run without them.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data_plane.catalog import Catalog
from data_plane.metadata.models import DeploymentRecord
from data_plane.model_registry import ModelRegistry
from granary_core.errors import (
    AlreadyExists,
    ChecksumMismatch,
    DeploymentNotFound,
    InvalidInput,
    NotSupported,
)
from granary_core.specs import DeploymentInfo
from granary_core.wire import to_jsonable

RUNNING, STOPPED, STARTING, FAILED = "RUNNING", "STOPPED", "STARTING", "FAILED"
MAX_SCRIPT_BYTES = 1024 * 1024
#: What ``resources`` may name, with what each means.
RESOURCES = {"cpu": "cores, e.g. 0.5", "memory": "MiB, e.g. 512"}


def check_resources(resources: dict[str, Any], where: str, limited: bool) -> dict[str, float]:
    """The deployment's ``resources``, checked: known names, positive numbers, and a
    backend that holds its processes to them (``limited``)."""
    unknown = sorted(set(resources) - set(RESOURCES))
    if unknown:
        known = ", ".join(f"'{k}' ({meaning})" for k, meaning in RESOURCES.items())
        raise InvalidInput(f"{where}: resources {unknown} are not known; give {known}")
    for key, value in resources.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise InvalidInput(
                f"{where}: resources '{key}' is {value!r}; give a positive number of {RESOURCES[key]}"
            )
    if resources and not limited:
        raise NotSupported(
            f"{where}: resources {sorted(resources)} cannot be held to here: its predictor runs as a "
            "process of this machine, which takes no cpu or memory limit (a region running "
            "deployments on Kubernetes does); leave resources out"
        )
    return dict(resources)


class DeploymentCatalog:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def where(self, name: str) -> str:
        return f"deployment '{name}' of project '{self.catalog.project}'"

    def _record(self, session: Session, name: str) -> DeploymentRecord:
        record = session.scalar(
            select(DeploymentRecord).where(
                DeploymentRecord.project_id == self.catalog.project_id, DeploymentRecord.name == name
            )
        )
        if record is None:
            raise DeploymentNotFound(f"{self.where(name)} does not exist")
        return record

    def create(
        self,
        name: str,
        model_name: str,
        model_version: int,
        script: str,
        resources: dict[str, Any],
        limited: bool = False,
    ) -> DeploymentRecord:
        """Record a deployment (stopped) of a model version that exists; ``limited``: its
        processes will be held to ``resources`` (see :func:`check_resources`)."""
        if not name or not name.replace("_", "").isalnum() or not name.isascii():
            raise InvalidInput(f"deployment name {name!r}: use ASCII letters, digits and underscores")
        if len(script.encode()) > MAX_SCRIPT_BYTES:
            raise InvalidInput(f"{self.where(name)}: the predictor script is over {MAX_SCRIPT_BYTES} bytes")
        if "class Predict" not in script:
            raise InvalidInput(f"{self.where(name)}: the predictor script defines no class Predict")
        resources = check_resources(resources, self.where(name), limited)
        try:
            with self.catalog.session() as session:
                record = DeploymentRecord(
                    project_id=self.catalog.project_id,
                    name=name,
                    model_name=model_name,
                    model_version=model_version,
                    script=script,
                    resources=resources,
                    desired_state=STOPPED,
                )
                session.add(record)
                session.flush()
                return record
        except IntegrityError as exc:
            raise AlreadyExists(f"{self.where(name)} already exists") from exc

    def get(self, name: str) -> DeploymentRecord:
        with self.catalog.session() as session:
            return self._record(session, name)

    def list(self) -> list[DeploymentRecord]:
        with self.catalog.session() as session:
            query = select(DeploymentRecord).where(DeploymentRecord.project_id == self.catalog.project_id)
            return list(session.scalars(query.order_by(DeploymentRecord.name)))

    def set_running(
        self, name: str, tenant_id: str | None = None, admit: Callable[[int], None] | None = None
    ) -> DeploymentRecord:
        """Mark the deployment to run. ``admit`` (the ``model_deployments`` quota) is called
        with the tenant's other running deployments, counted under a lock of the tenant
        that the transaction holds until it commits, so concurrent starts never pass it."""
        with self.catalog.session() as session:
            record = self._record(session, name)
            if admit is not None and tenant_id is not None:
                if session.get_bind().dialect.name == "postgresql":
                    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": tenant_id})
                running = session.scalar(
                    select(func.count())
                    .select_from(DeploymentRecord)
                    .where(
                        DeploymentRecord.tenant_id == tenant_id,
                        DeploymentRecord.desired_state == RUNNING,
                        DeploymentRecord.id != record.id,
                    )
                )
                admit(running or 0)
            record.desired_state = RUNNING
            record.tenant_id = tenant_id
            session.flush()
            return record

    def set_stopped(self, name: str) -> DeploymentRecord:
        with self.catalog.session() as session:
            record = self._record(session, name)
            record.desired_state = STOPPED
            session.flush()
            return record

    def delete(self, name: str) -> None:
        with self.catalog.session() as session:
            session.delete(self._record(session, name))


def deployment_info(record: DeploymentRecord, state: str, restarts: int) -> DeploymentInfo:
    """The record with its live ``state`` and ``restarts`` (from whatever runs it)."""
    return DeploymentInfo(
        name=record.name,
        model_name=record.model_name,
        model_version=record.model_version,
        resources=dict(record.resources or {}),
        desired_state=record.desired_state,
        state=state,
        restarts=restarts,
        created_at=record.created_at,
    )


def fetch_model_files(registry: ModelRegistry, name: str, version: int, folder: Path) -> Path:
    """Write a model version's artifacts into ``folder``, each checked against its SHA-256."""
    info = registry.get(name, version)
    for artifact in info.artifacts:
        data = registry.read_file(name, version, artifact["path"])
        if hashlib.sha256(data).hexdigest() != artifact["sha256"]:
            raise ChecksumMismatch(
                f"model '{name}' v{version}: stored '{artifact['path']}' fails its SHA-256"
            )
        target = folder / artifact["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder


_ENVIRONMENT_LOCK = threading.Lock()


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set variables for the predictor's ``__init__`` and put the old ones back after."""
    with _ENVIRONMENT_LOCK:
        old = {k: os.environ.get(k) for k in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for key, value in old.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def load_predictor(script: Path, environment: dict[str, str]) -> Any:
    """Import the script as a module of its own and return ``Predict()``, built with
    ``environment`` set (``MODEL_FILES_PATH``, and where ``granary.login()`` goes)."""
    module_name = f"granary_predictor_{hashlib.sha256(str(script).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(module_name, script)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"predictor script {script} cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    with _environment(environment):
        spec.loader.exec_module(module)
        predict_class = getattr(module, "Predict", None)
        if predict_class is None:
            raise InvalidInput(f"predictor script {script.name} defines no class Predict")
        return predict_class()


def request_inputs(body: dict[str, Any], where: str) -> Any:
    """The ``inputs`` of a predict request: ``{"instances": ...}`` (KServe, Hopsworks'
    ``predict(data=...)``) or ``{"inputs": ...}``."""
    if not isinstance(body, dict) or len(set(body) & {"instances", "inputs"}) != 1:
        raise InvalidInput(f"{where}: send a JSON object with 'instances' or 'inputs'")
    return body["instances"] if "instances" in body else body["inputs"]


def jsonable(value: Any) -> Any:
    """Predictions as JSON: numpy arrays and scalars become lists and numbers."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return to_jsonable(value)

"""Model deployments with Hopsworks' names: ``project.get_model_serving()``,
``model.deploy(...)``, ``deployment.start()``, ``predict(...)``, ``stop()``.

A deployment runs a predictor script: Python source with a class ``Predict`` whose
``__init__`` loads the model from the folder ``os.environ["MODEL_FILES_PATH"]`` (and
may call ``granary.login()``, then find its model by ``os.environ["GRANARY_MODEL"]``,
``"name:version"``, and its feature view), and whose
``predict(self, inputs)`` answers a request. Remote, each started deployment is a
process the region supervises, called through the REST API with your key (it needs
``deployment:predict``); embedded, the predictor runs in this process.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from granary_core.errors import InvalidInput, Timeout
from granary_core.specs import DeploymentInfo

if TYPE_CHECKING:
    from granary.backend import Backend
    from granary.model import Model


class Deployment:
    def __init__(self, backend: Backend, info: DeploymentInfo) -> None:
        self._backend = backend
        self._info = info

    name = property(lambda self: self._info.name)
    model_name = property(lambda self: self._info.model_name)
    model_version = property(lambda self: self._info.model_version)
    resources = property(lambda self: dict(self._info.resources))

    def __repr__(self) -> str:
        return f"Deployment({self.name!r}, model={self.model_name!r} v{self.model_version})"

    def get_state(self) -> DeploymentInfo:
        """The live state (``STOPPED``, ``STARTING``, ``RUNNING``, ``FAILED``) and restarts."""
        self._info = self._backend.get_deployment(self.name)
        return self._info

    def is_running(self) -> bool:
        return self.get_state().state == "RUNNING"

    def start(self, await_running: float = 120.0) -> Deployment:
        """Start it and wait up to ``await_running`` seconds until it answers."""
        self._info = self._backend.start_deployment(self.name)
        deadline = time.monotonic() + await_running
        while self._info.state != "RUNNING":
            if time.monotonic() > deadline:
                raise Timeout(
                    f"deployment '{self.name}' is {self._info.state} after {await_running:.0f} s; "
                    f"its logs:\n{self.get_logs(50)}"
                )
            time.sleep(0.1)
            self.get_state()
        return self

    def stop(self) -> Deployment:
        self._info = self._backend.stop_deployment(self.name)
        return self

    def predict(self, data: dict[str, Any] | None = None, inputs: Any = None) -> dict[str, Any]:
        """``predict(inputs=[...])`` or ``predict(data={"instances": [...]})``; returns
        ``{"predictions": ...}``."""
        if (data is None) == (inputs is None):
            raise InvalidInput("give either inputs= or data={'instances': ...}")
        body = data if data is not None else {"inputs": inputs}
        return self._backend.predict(self.name, body)

    def get_logs(self, tail: int = 200) -> str:
        return self._backend.deployment_logs(self.name, tail)

    def delete(self) -> None:
        self._backend.delete_deployment(self.name)


def _script_text(script_file: str | Path) -> str:
    path = Path(script_file)
    if not path.is_file():
        raise InvalidInput(f"predictor script '{script_file}' is not a file")
    return path.read_text()


class ModelServing:
    """``project.get_model_serving()``: the project's deployments."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def create_deployment(
        self,
        model: Model,
        name: str | None = None,
        script_file: str | Path | None = None,
        resources: dict[str, Any] | None = None,
    ) -> Deployment:
        if script_file is None:
            raise InvalidInput("a deployment needs script_file=, a predictor script with a class Predict")
        info = self._backend.create_deployment(
            name=name or model.name,
            model_name=model.name,
            model_version=model.version,
            script=_script_text(script_file),
            resources=dict(resources or {}),
        )
        return Deployment(self._backend, info)

    def get_deployment(self, name: str) -> Deployment:
        return Deployment(self._backend, self._backend.get_deployment(name))

    def get_deployments(self) -> list[Deployment]:
        return [Deployment(self._backend, info) for info in self._backend.list_deployments()]

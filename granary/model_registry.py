"""``project.get_model_registry()``: model versions by name, Hopsworks-style.

``mr.python``, ``mr.sklearn``, ``mr.tensorflow`` and ``mr.torch`` each make models of
their framework (``mr.sklearn.create_model(name, metrics=..., feature_view=...)``); the
framework is a label for serving and for people, the artifacts are whatever files the
training pipeline wrote.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from granary.model import Model
from granary_core.errors import InvalidInput

if TYPE_CHECKING:
    from granary.backend import Backend
    from granary.feature_view import FeatureView
    from granary.model_schema import ModelSchema


class FrameworkModels:
    """``mr.<framework>``: creates unsaved models of one framework."""

    def __init__(self, backend: Backend, framework: str) -> None:
        self._backend = backend
        self.framework = framework

    def create_model(
        self,
        name: str,
        version: int | None = None,
        metrics: dict[str, float] | None = None,
        description: str = "",
        input_example: Any = None,
        model_schema: ModelSchema | dict[str, Any] | None = None,
        feature_view: FeatureView | None = None,
        training_dataset_version: int | None = None,
    ) -> Model:
        """An unsaved model version; ``model.save(path)`` registers it and its files."""
        return Model(
            self._backend,
            self.framework,
            name,
            version=version,
            metrics=metrics,
            description=description,
            input_example=input_example,
            model_schema=model_schema,
            feature_view=feature_view,
            training_dataset_version=training_dataset_version,
        )


class ModelRegistry:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self.python = FrameworkModels(backend, "python")
        self.sklearn = FrameworkModels(backend, "sklearn")
        self.tensorflow = FrameworkModels(backend, "tensorflow")
        self.torch = FrameworkModels(backend, "torch")

    def __repr__(self) -> str:
        return f"ModelRegistry({self._backend.project_name!r})"

    def get_model(self, name: str, version: int | None = None) -> Model:
        """The given version, or the latest one when ``version`` is None."""
        return Model._from_info(self._backend, self._backend.get_model(name, version))

    def get_models(self, name: str) -> list[Model]:
        return [Model._from_info(self._backend, info) for info in self._backend.list_models(name)]

    def get_best_model(self, name: str, metric: str, direction: str) -> Model | None:
        """The ready version of ``name`` with the highest (``direction="max"``) or lowest
        (``"min"``) value of ``metric``; None when no version recorded it."""
        if direction not in ("max", "min"):
            raise InvalidInput(f"direction must be 'max' or 'min', got {direction!r}")
        scored = [m for m in self.get_models(name) if m.state == "ready" and metric in m.training_metrics]
        if not scored:
            return None
        pick = max if direction == "max" else min
        return pick(scored, key=lambda m: m.training_metrics[metric])

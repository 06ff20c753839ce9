"""A project: the scope that owns one feature store and one model registry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from granary.deployment import ModelServing
from granary.feature_store import FeatureStore
from granary.model_registry import ModelRegistry
from granary_core.errors import NotSupported

if TYPE_CHECKING:
    from granary.backend import Backend


class Project:
    """Everything a user reaches goes through the backend given here, explicitly."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @property
    def name(self) -> str:
        return self.backend.project_name

    def get_feature_store(self, name: str | None = None) -> FeatureStore:
        return FeatureStore(self.backend)

    def get_model_registry(self) -> ModelRegistry:
        return ModelRegistry(self.backend)

    def get_model_serving(self) -> ModelServing:
        return ModelServing(self.backend)

    def __repr__(self) -> str:
        return f"Project({self.name!r}, backend={self.backend!r})"

    # Hopsworks platform parts Granary does not have: each says what to use instead.
    def get_jobs_api(self) -> None:
        raise NotSupported(
            "Granary has no jobs service: run feature and training pipelines with your own "
            "scheduler (cron, Airflow, GitHub Actions) calling the same Python code"
        )

    def get_dataset_api(self) -> None:
        raise NotSupported(
            "Granary has no dataset browser: keep files in your own storage (local disk, S3) and "
            "read training data with fv.get_training_data(version) or fv.get_train_test_split(version)"
        )

    def get_opensearch_api(self) -> None:
        raise NotSupported(
            "Granary has no OpenSearch: use a vector database of your own next to it, and keep "
            "its keys in a feature group"
        )

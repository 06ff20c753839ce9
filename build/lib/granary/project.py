"""A project: the scope that owns one feature store (and, later, a model registry)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from granary.feature_store import FeatureStore

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

    def __repr__(self) -> str:
        return f"Project({self.name!r}, backend={self.backend!r})"

"""Granary: a feature store for feature / training / inference pipelines.

``granary.login()`` opens an embedded project (no servers) in ``$GRANARY_HOME``
(default ``./granary-data``).
"""

from __future__ import annotations

import os
from pathlib import Path

from typing import Any

from granary import errors
from granary.feature_group import FeatureGroup
from granary.feature_store import FeatureStore
from granary.feature_view import FeatureView
from granary.project import Project
from granary.query import Feature, Filter, Query

__version__ = "0.1.0"

DEFAULT_HOME = "granary-data"


def login(
    host: str | None = None,
    api_key: str | None = None,
    project: str | None = None,
    home: str | Path | None = None,
) -> Project:
    """Open a project.

    Without ``host`` (and no ``GRANARY_HOST``) the project is embedded: metadata in
    SQLite and features in Parquet under ``home`` (``$GRANARY_HOME``, else
    ``./granary-data``).
    """
    host = host or os.environ.get("GRANARY_HOST")
    if host:
        raise errors.NotSupported(
            f"remote login to {host!r} needs the data plane service, which this version does not ship"
        )
    from granary.embedded import EmbeddedBackend

    home = Path(home or os.environ.get("GRANARY_HOME") or DEFAULT_HOME)
    return Project(EmbeddedBackend(home, project or "default"))


def __getattr__(name: str) -> Any:
    # The embedded engine is imported on first use: data_plane modules import
    # granary.errors, and an eager import here would make that a cycle.
    if name == "EmbeddedBackend":
        from granary.embedded import EmbeddedBackend

        return EmbeddedBackend
    raise AttributeError(f"module 'granary' has no attribute {name!r}")


__all__ = [
    "EmbeddedBackend",
    "Feature",
    "FeatureGroup",
    "FeatureStore",
    "FeatureView",
    "Filter",
    "Project",
    "Query",
    "errors",
    "login",
]

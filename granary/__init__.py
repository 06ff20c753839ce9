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
from granary.model import Model
from granary.model_registry import ModelRegistry
from granary.model_schema import ModelSchema, Schema
from granary.project import Project
from granary.query import Feature, Filter, Query
from granary.transformations import TransformationFunction, TransformationStatistics, udf

__version__ = "0.1.0"

DEFAULT_HOME = "granary-data"


def login(
    host: str | None = None,
    api_key: str | None = None,
    project: str | None = None,
    home: str | Path | None = None,
    online_store: str | None = None,
    memory_limit: str | None = None,
    offline_store: str | None = None,
) -> Project:
    """Open a project.

    With ``host`` (or ``GRANARY_HOST``) the project is remote, reached with ``api_key``
    (or ``GRANARY_API_KEY``): ``host`` is a region's data plane, or the control plane,
    which tells where ``project`` lives. Without ``project`` a key bound to one project
    opens that one.
    Without ``host`` the project is embedded (``project`` else ``$GRANARY_PROJECT``,
    else ``default``): metadata in
    SQLite and features in Parquet under ``home`` (``$GRANARY_HOME``, else
    ``./granary-data``). Its online store is SQLite in the same folder unless
    ``online_store`` (else ``$GRANARY_ONLINE_STORE``) is a ``redis://host:port/db`` URL.
    ``memory_limit`` (else ``$GRANARY_MEMORY_LIMIT``; a DuckDB size such as ``"2GB"``)
    bounds what its queries hold in memory: beyond it they spill under ``home``, so
    ``fv.training_data_batches`` and ``fv.create_training_data`` handle answers larger
    than memory. (A remote project's limit is its region's setting.)
    ``offline_store`` (else ``$GRANARY_OFFLINE_STORE``) puts the offline tables in an
    ``s3://bucket/prefix`` instead, signed with the ``AWS_*`` variables, where a Spark
    cluster can reach them too (``engine="spark"``).
    """
    host = host or os.environ.get("GRANARY_HOST")
    if host:
        from granary.remote import connect

        api_key = api_key or os.environ.get("GRANARY_API_KEY")
        if not api_key:
            raise errors.Unauthenticated(f"remote login to {host!r} needs api_key= (or GRANARY_API_KEY)")
        return Project(connect(host, api_key, project))
    from granary.embedded import EmbeddedBackend

    home = Path(home or os.environ.get("GRANARY_HOME") or DEFAULT_HOME)
    online_store = online_store or os.environ.get("GRANARY_ONLINE_STORE") or None
    project = project or os.environ.get("GRANARY_PROJECT") or "default"
    memory_limit = memory_limit or os.environ.get("GRANARY_MEMORY_LIMIT") or None
    offline_store = offline_store or os.environ.get("GRANARY_OFFLINE_STORE") or None
    return Project(
        EmbeddedBackend(
            home, project, online=online_store, memory_limit=memory_limit, offline_store=offline_store
        )
    )


def __getattr__(name: str) -> Any:
    # The embedded engine (DuckDB, Delta Lake, SQLAlchemy) is imported on first use,
    # so a program that only talks to a remote store never loads it.
    if name == "builtin":  # granary.builtin.min_max_scaler, ... (Hopsworks: builtin_transformations)
        from granary import builtin_transformations

        return builtin_transformations
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
    "Model",
    "ModelRegistry",
    "ModelSchema",
    "Project",
    "Query",
    "Schema",
    "TransformationFunction",
    "TransformationStatistics",
    "errors",
    "login",
    "udf",
]

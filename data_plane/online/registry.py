"""Online stores by type name: adding a store is one adapter module and one line here.

A setting names the type (``GRANARY_ONLINE_STORE=redis``, or a URL whose scheme is the
type, ``redis://host:port/db``) and gives its config section
(``GRANARY_ONLINE_STORE_CONFIG='{"url": "redis://...", "socket_timeout": 2}'``), which
the adapter's ``Config`` checks (see :mod:`data_plane.plugins`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from data_plane.online.base import OnlineStore
from data_plane.plugins import Registry

#: type name -> ``module:class`` of its adapter (a class with ``Config`` and ``open``).
ONLINE_STORES = Registry(
    "online store",
    {
        "redis": "data_plane.online.redis:RedisOnlineStore",
        "sqlite": "data_plane.online.sqlite:SQLiteOnlineStore",
    },
    extras={"redis": "redis"},
)


def split_spec(spec: str, config: Mapping[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """The type name and config section of ``spec``: a type name, or a URL whose scheme
    is the type (``redis://...`` becomes ``("redis", {"url": "redis://..."})``)."""
    values = dict(config or {})
    if "://" in spec:
        kind = spec.split("://", 1)[0]
        if kind == "sqlite":  # sqlite:///path, as SQLAlchemy writes it
            values.setdefault("path", spec.removeprefix("sqlite:///"))
        else:
            values.setdefault("url", spec)
        return kind, values
    return spec, values


def open_online_store(spec: str, config: Mapping[str, Any] | None, project: str) -> OnlineStore:
    """The store that ``spec`` (type name or URL) and ``config`` describe, for ``project``.

    Call it once per server and derive the other projects' stores with ``for_project``:
    they share its connections.
    """
    store, settings = ONLINE_STORES.config(*split_spec(spec, config))
    return store.open(settings, project)  # type: ignore[no-any-return]

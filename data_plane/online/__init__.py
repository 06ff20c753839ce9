"""Online stores: the newest row per primary key, for feature vectors.

``connect`` turns the ``online_store`` setting (``granary.login(online_store=...)`` or
``GRANARY_ONLINE_STORE``) into a store through :mod:`.registry`: a type name
(``sqlite``, ``redis``) or a URL (``redis://host:port/db``, ``sqlite:///path``); unset,
the embedded SQLite file ``online.db`` under the project home.
"""

from __future__ import annotations

from pathlib import Path

from data_plane.online.base import OnlineStore
from data_plane.online.registry import ONLINE_STORES, open_online_store


def connect(url: str | None, home: str | Path, project: str) -> OnlineStore:
    spec = url or "sqlite"
    config = {"path": Path(home) / "online.db"} if spec == "sqlite" else None
    return open_online_store(spec, config, project)


__all__ = ["ONLINE_STORES", "OnlineStore", "connect", "open_online_store"]

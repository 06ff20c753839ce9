"""Online stores: the newest row per primary key, for feature vectors.

``connect`` turns the ``online_store`` setting (``granary.login(online_store=...)`` or
``GRANARY_ONLINE_STORE``) into a store: ``redis://host:port/db`` for Redis, else the
embedded SQLite file ``online.db`` under the project home.
"""

from __future__ import annotations

from pathlib import Path

from data_plane.online.base import OnlineStore
from granary.errors import InvalidInput, NotSupported


def connect(url: str | None, home: str | Path, project: str) -> OnlineStore:
    if not url or url == "sqlite":
        from data_plane.online.sqlite import SQLiteOnlineStore

        return SQLiteOnlineStore(Path(home) / "online.db", project)
    if url.startswith("sqlite:///"):
        from data_plane.online.sqlite import SQLiteOnlineStore

        return SQLiteOnlineStore(url[len("sqlite:///") :], project)
    if url.startswith("redis://"):
        try:
            from data_plane.online.redis import RedisOnlineStore, RedisOnlineStoreConfig
        except ModuleNotFoundError as exc:
            if exc.name != "redis":
                raise
            raise NotSupported(
                f"online store {url!r}: the Redis online store needs the redis extra: "
                "pip install 'granary[redis]'"
            ) from exc

        return RedisOnlineStore(RedisOnlineStoreConfig.from_url(url), project)
    raise InvalidInput(f"online store {url!r}: expected redis://host:port/db or sqlite:///path")


__all__ = ["OnlineStore", "connect"]

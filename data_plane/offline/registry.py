"""Offline stores by type name (``GRANARY_OFFLINE_STORE``, default ``delta``): adding one
is an adapter module and one line here. Its own section,
``GRANARY_OFFLINE_STORE_CONFIG`` (JSON), is checked by the adapter's ``Config``; where
the region's objects live is the region's S3 settings, which every adapter is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from data_plane.offline.base import OfflineStore
from data_plane.plugins import Registry

if TYPE_CHECKING:
    from data_plane.offline.s3 import S3Config

#: type name -> ``module:class`` of its adapter (a class with ``Config`` and ``open``).
OFFLINE_STORES = Registry("offline store", {"delta": "data_plane.offline.s3:S3DeltaOfflineStore"})


def open_offline_store(kind: str, config: Mapping[str, Any], objects: S3Config) -> OfflineStore:
    """The region's offline store of type ``kind``, over the region's object store."""
    store, settings = OFFLINE_STORES.config(kind, config)
    return store.open(settings, objects)  # type: ignore[no-any-return]

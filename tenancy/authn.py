"""How a data plane learns who is calling: its own operator keys, then the control plane.

Every REST and Flight request is authenticated, so the control plane's answers are
cached per (key, project) for ``cache_seconds``. Revocation must not wait for that:
the control plane publishes every access change (key revoked, tenant suspended,
member removed, plan changed) on a Redis channel, and :class:`AccessEvents` drops the
cached answers of that tenant the moment the message arrives. The cache lifetime is
only the backstop for a lost subscription.

Operator keys (``python -m data_plane create-key``) are looked up in the region's own
``api_keys`` table first; they never reach the control plane.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Protocol

import redis

from granary_core.errors import Unauthenticated
from tenancy.control_plane_client import ControlPlaneClient
from tenancy.scope import Principal, authorize
from tenancy.store import KeyStore

log = logging.getLogger("granary.auth")

#: The channel access changes are published on, under the control plane's Redis prefix.
ACCESS_CHANNEL = "access-changed"


def connect_shared_redis(url: str) -> redis.Redis:
    """The control plane's Redis as a region reaches it: the tenants' rate buckets and the
    access-change channel (not the region's online store, which has its own adapter)."""
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


class Authenticator(Protocol):
    def authenticate(self, key: str | None, project: str | None, permission: str | None) -> Principal:
        """The caller acting on ``project`` (None: the key's own project).

        Raises ``Unauthenticated`` (401) for a missing, unknown or revoked key and
        ``PermissionDenied`` (403) for a project or permission the key does not have.
        """
        ...


class AccessEvents:
    """Listens for the control plane's access changes and drops cached answers.

    A thread of redis-py's pub/sub; if the connection drops it reconnects, and every
    cached answer is dropped on reconnect, since messages in between are lost.
    """

    def __init__(self, client: redis.Redis, channel: str, keys: ControlPlaneClient) -> None:
        self._client = client
        self._channel = channel
        self._keys = keys
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="access-events", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float = 5.0) -> bool:
        return self._ready.wait(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self._channel)
                self._keys.forget()
                self._ready.set()
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message is not None:
                        self._keys.forget(_tenant_of(message.get("data")))
            except redis.RedisError as exc:
                self._ready.clear()
                log.warning("access events: %s; reconnecting", exc)
                self._stop.wait(1.0)
            finally:
                pubsub.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


def _tenant_of(data: object) -> str | None:
    try:
        tenant = json.loads(data).get("tenant_id")  # type: ignore[arg-type]
    except (TypeError, ValueError, AttributeError):
        return None
    return tenant if isinstance(tenant, str) else None


class RegionAuthenticator:
    """The region's operator keys first, then (if configured) the control plane."""

    def __init__(self, local: KeyStore, control_plane: ControlPlaneClient | None = None) -> None:
        self.local = local
        self.control_plane = control_plane

    def authenticate(self, key: str | None, project: str | None, permission: str | None) -> Principal:
        if not key:
            raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>'")
        principal = self.local.find(key)
        if principal is None and self.control_plane is None:
            principal = self.local.authenticate(key)  # raises, saying why the key is refused
        elif principal is None:
            principal = self.control_plane.authenticate(key, project)
        if project is not None:
            authorize(principal, project)
        if permission is not None:
            principal.require(permission)
        return principal

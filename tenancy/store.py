"""API keys in the metadata database: create, authenticate, revoke.

Authentication runs on every REST and Flight request, so successful look-ups are kept
for ``cache_seconds`` (default 5 s): a revoked key stops working within that time.
Unknown keys are never cached, so a key created a moment ago works at once.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from granary_core.errors import NotFound, Unauthenticated
from tenancy.keys import generate_key, hash_key, key_id_of, matches
from tenancy.models import ApiKeyRecord
from tenancy.scope import Principal


@dataclass(frozen=True)
class ApiKeyPublic:
    key_id: str
    project: str
    name: str
    created_at: dt.datetime


class KeyStore:
    def __init__(self, engine: Engine, cache_seconds: float = 5.0) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()

    def create_key(self, project: str, name: str = "") -> tuple[ApiKeyPublic, str]:
        """A new key for ``project``; returns its description and the plaintext once."""
        if not project or len(project) > 128:
            raise ValueError("project name must be 1..128 characters")
        key_id, key = generate_key()
        record = ApiKeyRecord(key_id=key_id, key_hash=hash_key(key), project=project, name=name)
        with self._sessions() as session, session.begin():
            session.add(record)
        return ApiKeyPublic(key_id, project, name, record.created_at), key

    def authenticate(self, key: str | None) -> Principal:
        """The caller's principal; ``Unauthenticated`` for a missing, malformed or unknown key."""
        if not key:
            raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>'")
        principal = self.find(key)
        if principal is None:
            key_id = key_id_of(key)
            if key_id is None:
                raise Unauthenticated("the API key is malformed")
            raise Unauthenticated(f"API key {key_id} is unknown or revoked")
        return principal

    def find(self, key: str) -> Principal | None:
        """The principal of a live key of this store, else None (malformed, unknown, revoked)."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        key_id = key_id_of(key)
        if key_id is None:
            return None
        with self._sessions() as session:
            record = session.scalar(select(ApiKeyRecord).where(ApiKeyRecord.key_id == key_id))
        if record is None or record.revoked_at is not None or not matches(key, record.key_hash):
            return None
        principal = Principal(key_id=key_id, project=record.project)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now, principal)
        return principal

    def revoke(self, key_id: str) -> None:
        with self._sessions() as session, session.begin():
            record = session.scalar(select(ApiKeyRecord).where(ApiKeyRecord.key_id == key_id))
            if record is None:
                raise NotFound(f"API key {key_id} does not exist")
            record.revoked_at = dt.datetime.now(dt.UTC)
        with self._lock:
            self._cache.clear()

    def list_keys(self, project: str) -> list[ApiKeyPublic]:
        with self._sessions() as session:
            records = session.scalars(select(ApiKeyRecord).where(ApiKeyRecord.project == project))
            return [ApiKeyPublic(r.key_id, r.project, r.name, r.created_at) for r in records]

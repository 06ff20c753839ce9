"""The Redis online store: one string value per (group, primary key).

Layout: key ``{project}:{group}:{version}:{primary key}`` (see :mod:`.keys`), value the
packed row of :mod:`.codec`. A batch of feature vectors is then one ``MGET`` of
``entries x groups`` keys, whatever the batch size, and Redis does ~1 us of work per
key instead of a hash read per group and key. That ``MGET`` is packed with one join
and sent on a connection of the store's own (``_reader``): redis-py's command layer
costs more than the read itself for one entity.

Writes run a Lua script per chunk of keys that compares the event time stored in the
first eight bytes of each value with the new one and only replaces older rows: Redis
runs a script atomically, so concurrent writers cannot interleave between the compare
and the set. A group's ttl becomes the key's expiry (``PXAT`` event time + ttl), so
Redis itself stops serving stale rows and frees their memory.

Every redis-py error is translated here, at the adapter edge, into
:class:`granary_core.errors.BackendUnavailable` naming the server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import redis
from pydantic import BaseModel, ConfigDict, Field, model_validator

from data_plane.online.keys import scan_pattern
from data_plane.online.kv import Batch, KeyValueOnlineStore
from granary_core.errors import BackendUnavailable

# ARGV[1] = "1" to overwrite whatever is stored; then per key three arguments: event time
# in microseconds ("" = the group has none: last write wins), expiry in Unix milliseconds
# ("" = none), and the packed row whose first 8 bytes are its event time.
_PUT = """
local force = ARGV[1] == '1'
local written = 0
for i = 1, #KEYS do
  local at = 2 + 3 * (i - 1)
  local event_time = ARGV[at]
  local newer = force or event_time == ''
  if not newer then
    local current = redis.call('GET', KEYS[i])
    newer = (not current) or struct.unpack('<i8', current) <= tonumber(event_time)
  end
  if newer then
    if ARGV[at + 1] == '' then
      redis.call('SET', KEYS[i], ARGV[at + 2])
    else
      redis.call('SET', KEYS[i], ARGV[at + 2], 'PXAT', ARGV[at + 1])
    end
    written = written + 1
  end
end
return written
"""

# ARGV[i] = the event time (microseconds) the stored row must have to be deleted, or ""
# to delete whatever is stored under KEYS[i].
_DELETE = """
local deleted = 0
for i = 1, #KEYS do
  if ARGV[i] == '' then
    deleted = deleted + redis.call('DEL', KEYS[i])
  else
    local current = redis.call('GET', KEYS[i])
    if current and struct.unpack('<i8', current) == tonumber(ARGV[i]) then
      deleted = deleted + redis.call('DEL', KEYS[i])
    end
  end
end
return deleted
"""


def _parse_url(url: str) -> dict[str, Any]:
    """The fields of ``redis://[user:pass@]host:port/db?option=value``."""
    parsed = urlparse(url)
    if parsed.scheme != "redis":
        raise ValueError("expected redis://host:port/db (TCP, no TLS)")
    values: dict[str, Any] = {"host": parsed.hostname or "127.0.0.1", "port": parsed.port or 6379}
    values["db"] = int(parsed.path.strip("/") or 0)
    if parsed.username:
        values["username"] = unquote(parsed.username)
    if parsed.password:
        values["password"] = unquote(parsed.password)
    for name, items in parse_qs(parsed.query).items():
        if name in values or name in ("host", "port", "db", "username", "password", "url"):
            raise ValueError(f"option {name!r} belongs in the URL itself")
        values[name] = items[-1]
    return values


class RedisOnlineStoreConfig(BaseModel):
    """Where the Redis online store lives: fields, or ``url`` (``redis://[user:pass@]host:port/db``
    whose query parameters set the other fields, e.g. ``?socket_timeout=2``). Unknown
    fields are refused rather than ignored. Timeouts are in seconds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0
    username: str | None = None
    password: str | None = None
    socket_timeout: float = 5.0
    socket_connect_timeout: float = 2.0
    write_chunk: int = Field(default=1000, ge=1)  # keys per Lua call: bounds how long one script blocks Redis

    @model_validator(mode="before")
    @classmethod
    def _expand_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and "url" in data:
            rest = {k: v for k, v in data.items() if k != "url"}
            data = {**_parse_url(str(data["url"])), **rest}
        return data

    @classmethod
    def from_url(cls, url: str) -> RedisOnlineStoreConfig:
        from data_plane.plugins import load_config

        return load_config(cls, {"url": url}, f"online store URL {url!r}")

    @property
    def url(self) -> str:
        """The server, without credentials, for messages."""
        return f"redis://{self.host}:{self.port}/{self.db}"


class _Connections:
    """One server's connections, shared by every project's view of the store: redis-py's
    pool for writes and scans, and the idle read connections of ``_reader``."""

    def __init__(self, config: RedisOnlineStoreConfig) -> None:
        # No connection is made here: a project whose Redis is down still reads offline.
        self.client = redis.Redis(
            host=config.host,
            port=config.port,
            db=config.db,
            username=config.username,
            password=config.password,
            socket_timeout=config.socket_timeout,
            socket_connect_timeout=config.socket_connect_timeout,
        )
        self.idle: list[redis.Connection] = []
        self.pid = os.getpid()
        self.put_script = self.client.register_script(_PUT)
        self.delete_script = self.client.register_script(_DELETE)

    def close(self) -> None:
        while self.idle:
            self.idle.pop().disconnect()
        self.client.close()


class RedisOnlineStore(KeyValueOnlineStore):
    Config = RedisOnlineStoreConfig

    def __init__(
        self, config: RedisOnlineStoreConfig, project: str, _shared: _Connections | None = None
    ) -> None:
        super().__init__(project)
        self.config = config
        self._owner = _shared is None
        self._connections = _shared or _Connections(config)
        self.client = self._connections.client
        self._put_script = self._connections.put_script
        self._delete_script = self._connections.delete_script

    @classmethod
    def open(cls, config: RedisOnlineStoreConfig, project: str) -> RedisOnlineStore:
        return cls(config, project)

    def __repr__(self) -> str:
        return f"RedisOnlineStore({self.config.url!r}, {self.project!r})"

    def for_project(self, project: str) -> RedisOnlineStore:
        return RedisOnlineStore(self.config, project, self._connections)

    def close(self) -> None:
        if self._owner:
            self._connections.close()

    def ping(self) -> None:
        with self._errors("ping"):
            self.client.ping()

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except redis.RedisError as exc:
            raise self._unavailable(action, exc) from exc

    def _unavailable(self, action: str, exc: Exception) -> BackendUnavailable:
        return BackendUnavailable(f"online store {self.config.url}: {action} failed: {exc}")

    def _chunks(self, n: int) -> Iterator[slice]:
        step = self.config.write_chunk
        for start in range(0, n, step):
            yield slice(start, min(start + step, n))

    def _put(self, prefix: str, batch: Batch, overwrite: bool) -> None:
        if overwrite:
            self._drop_prefix(prefix)
        n = len(batch.keys)
        event = [str(e) for e in batch.event_time_us] if batch.event_time_us is not None else [""] * n
        expire = [str(e) for e in batch.expire_at_ms] if batch.expire_at_ms is not None else [""] * n
        with self._errors("write"), self.client.pipeline(transaction=False) as pipe:
            for part in self._chunks(n):
                args: list[Any] = ["1" if overwrite else "0"]
                for e, x, v in zip(event[part], expire[part], batch.values[part], strict=True):
                    args += [e, x, v]
                self._put_script(keys=batch.keys[part], args=args, client=pipe)
            pipe.execute()

    def _delete(self, keys: list[str], event_time_us: list[int] | None) -> None:
        events = [str(e) for e in event_time_us] if event_time_us is not None else [""] * len(keys)
        with self._errors("delete"), self.client.pipeline(transaction=False) as pipe:
            for part in self._chunks(len(keys)):
                self._delete_script(keys=keys[part], args=events[part], client=pipe)
            pipe.execute()

    def _keys_under(self, prefix: str) -> Iterator[list[bytes]]:
        cursor: int | str = 0
        pattern = scan_pattern(prefix)
        while True:
            cursor, keys = self.client.scan(cursor=cursor, match=pattern, count=1000)
            if keys:
                yield keys
            if int(cursor) == 0:
                return

    def _drop_prefix(self, prefix: str) -> None:
        with self._errors("drop"):
            for keys in self._keys_under(prefix):
                self.client.unlink(*keys)

    def _keys(self, prefix: str, limit: int | None) -> list[str]:
        found: dict[bytes, None] = {}  # SCAN may return a key twice
        with self._errors("scan"):
            for keys in self._keys_under(prefix):
                found.update(dict.fromkeys(keys))
                if limit is not None and len(found) >= limit:
                    break
        return [key.decode() for key in list(found)[:limit]]

    def _scan(self, prefix: str) -> list[bytes]:
        with self._errors("scan"):
            found: dict[bytes, bytes] = {}
            for keys in self._keys_under(prefix):
                # SCAN may return a key twice; a key that expired in between is None.
                found.update((k, v) for k, v in zip(keys, self.client.mget(keys), strict=True) if v)
        return [found[k] for k in sorted(found)]

    def _multi_get(self, keys: list[str]) -> list[bytes | None]:
        command = [pack_mget(keys)]
        connection = self._reader()
        try:
            try:
                return _send_and_read(connection, command)
            except (redis.ConnectionError, redis.TimeoutError):
                # What redis-py's own commands do: reconnect and retry, per the client's policy.
                connection.disconnect()
                return connection.retry.call_with_retry(
                    lambda: _send_and_read(connection, command), lambda _: connection.disconnect()
                )
        except redis.RedisError as exc:  # not ``_errors``: a context manager per read costs ~8 us
            raise self._unavailable("read", exc) from exc
        finally:
            self._connections.idle.append(connection)

    def _reader(self) -> redis.Connection:
        """An idle read connection, else a new one (made like the pool's).

        Reads skip redis-py's pool and command layer, which cost ~50 us per call (more
        than a one-entity read itself); ``list.pop`` and ``append`` are atomic, so
        threads never share a connection. A forked child starts without any.
        """
        shared = self._connections
        if shared.pid != os.getpid():
            shared.idle, shared.pid = [], os.getpid()
        try:
            return shared.idle.pop()
        except IndexError:
            pool = self.client.connection_pool
            return pool.connection_class(**pool.connection_kwargs)


_MARKS = [f"${n}" for n in range(512)]  # RESP length marks of keys up to 511 bytes


def pack_mget(keys: list[str]) -> bytes:
    """``MGET keys...`` in Redis' wire protocol (RESP2), made by C-level joins.

    redis-py packs a command argument by argument, ~0.5-1 us per key (0.5-1 ms for a
    500-entry, two-group read); here the ``$length`` marks and the keys are interleaved
    and joined with CRLF once. Key lengths are counted in bytes: when keys are not all
    ASCII (or very long), each is encoded and measured instead.
    """
    parts = [""] * (2 * len(keys) + 1)
    parts[1::2] = keys
    try:
        parts[0:-1:2] = map(_MARKS.__getitem__, map(len, keys))
        text = "\r\n".join(parts)
    except IndexError:
        text = "\u00ff"  # not ASCII: take the general way below
    if text.isascii():
        body = text.encode()
    else:
        body = b"".join([b"$%d\r\n%b\r\n" % (len(k), k) for k in (key.encode() for key in keys)])
    return b"*%d\r\n$4\r\nMGET\r\n%b" % (len(keys) + 1, body)


def _send_and_read(connection: Any, command: list[bytes]) -> Any:
    connection.send_packed_command(command, check_health=False)
    return connection.read_response()

"""Throttling per (email, client IP) in Redis, a fixed window counter: failed logins, and
password-reset mails (``kind="reset"``), so neither can be used to hammer an address."""

from __future__ import annotations

import hashlib

import redis

from control_plane.settings import ControlPlaneSettings
from granary.errors import BackendUnavailable, TooManyRequests


class LoginThrottle:
    def __init__(self, client: redis.Redis, settings: ControlPlaneSettings, kind: str = "loginfail") -> None:
        self._redis = client
        self._prefix = f"{settings.redis_prefix}:{kind}"
        self._what = "failed logins" if kind == "loginfail" else f"{kind} requests"
        self._max = settings.login_max_failures
        self._window = settings.login_window_seconds

    def _key(self, email: str, ip: str) -> str:
        digest = hashlib.sha256(f"{email.lower()}|{ip}".encode()).hexdigest()[:32]
        return f"{self._prefix}:{digest}"

    def check(self, email: str, ip: str) -> None:
        key = self._key(email, ip)
        try:
            pipe = self._redis.pipeline()
            pipe.get(key)
            pipe.ttl(key)
            count, ttl = pipe.execute()
        except redis.RedisError as exc:
            raise BackendUnavailable(f"login throttle: Redis is unreachable: {exc}") from exc
        if count is not None and int(count) >= self._max:
            error = TooManyRequests(
                f"too many {self._what} for this address from {ip}: "
                f"{int(count)} in {self._window} s; retry in {max(ttl, 1)} s"
            )
            error.retry_after = max(int(ttl), 1)
            raise error

    def failed(self, email: str, ip: str) -> None:
        key = self._key(email, ip)
        try:
            pipe = self._redis.pipeline()
            pipe.incr(key)
            pipe.expire(key, self._window, nx=True)
            pipe.execute()
        except redis.RedisError as exc:
            raise BackendUnavailable(f"login throttle: Redis is unreachable: {exc}") from exc

    def succeeded(self, email: str, ip: str) -> None:
        self._redis.delete(self._key(email, ip))

"""Attempt counters in Redis against guessing and mail flooding: sign-ups, failed logins,
password-reset requests and invitations.

Each attempt is counted under four keys at once (see :class:`~control_plane.settings.Limits`):
the address from this client, the address from anywhere, this client whatever the
address, and everyone. So guesses spread over many source addresses, or over many
accounts, are limited too. Windows are fixed and numbered by an injected clock (seconds
since the epoch), so tests step through them without sleeping.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import redis

from control_plane.settings import Limits
from granary_core.errors import BackendUnavailable, TooManyRequests

Clock = Callable[[], float]


class Throttle:
    """Counters of one kind of attempt (``what`` names it in the 429's message)."""

    def __init__(self, client: redis.Redis, prefix: str, what: str, limits: Limits, clock: Clock) -> None:
        self._redis = client
        self._prefix = f"{prefix}:{what.replace(' ', '-')}"
        self._what = what
        self._limits = limits
        self._clock = clock

    def _counters(self, address: str, client: str, *, of_address: bool = False) -> list[tuple[str, int, str]]:
        """(Redis key, limit, who) of each counter an attempt by ``client`` on ``address`` hits
        (``of_address``: only those counting the address)."""
        window = int(self._clock() // self._limits.window_seconds)
        address = address.lower()
        keys = [
            (f"{address}|{client}", self._limits.per_address_client, f"for this address from {client}"),
            (address, self._limits.per_address, "for this address"),
        ]
        if not of_address:
            keys += [
                (f"|{client}", self._limits.per_client, f"from {client}"),
                ("", self._limits.overall, "overall: the service is refusing them for a while"),
            ]
        out = []
        for subject, limit, who in keys:
            if limit > 0:
                digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
                out.append((f"{self._prefix}:{window}:{digest}", limit, who))
        return out

    def check(self, address: str, client: str) -> None:
        """Refuse (429 with ``Retry-After``) when any counter is at its limit."""
        counters = self._counters(address, client)
        try:
            counts = self._redis.mget([key for key, _, _ in counters])
        except redis.RedisError as exc:
            raise BackendUnavailable(f"{self._what} throttle: Redis is unreachable: {exc}") from exc
        for (_, limit, who), count in zip(counters, counts, strict=True):
            if count is not None and int(count) >= limit:
                window = self._limits.window_seconds
                retry = max(int(window - self._clock() % window), 1)
                error = TooManyRequests(
                    f"too many {self._what} {who}: {int(count)} in {window} s; retry in {retry} s"
                )
                error.retry_after = retry
                raise error

    def hit(self, address: str, client: str) -> None:
        """Count one attempt under every key."""
        try:
            pipe = self._redis.pipeline(transaction=False)
            for key, _, _ in self._counters(address, client):
                pipe.incr(key)
                pipe.expire(key, 2 * self._limits.window_seconds, nx=True)
            pipe.execute()
        except redis.RedisError as exc:
            raise BackendUnavailable(f"{self._what} throttle: Redis is unreachable: {exc}") from exc

    def forgive(self, address: str, client: str) -> None:
        """A right password: forget this address's failures (the client's and overall stay)."""
        counters = self._counters(address, client, of_address=True)
        if not counters:
            return
        try:
            self._redis.delete(*[key for key, _, _ in counters])
        except redis.RedisError as exc:
            raise BackendUnavailable(f"{self._what} throttle: Redis is unreachable: {exc}") from exc

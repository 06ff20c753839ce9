"""Quota enforcement both planes call: counts and sizes (403), rates (429).

Counts and sizes are checked against the use the caller knows (the control plane
counts its own rows; the data plane passes what its metadata says)::

    check_count("feature_groups_per_project", limit=plan.quotas.feature_groups_per_project,
                current=existing_groups, adding=1, subject="project 'fraud'")

Rates are token buckets in Redis, one per (tenant, quota), refilled continuously at
the plan's rate with a burst of one second's worth. A request larger than the burst
(one big insert) is let through when the bucket is full and leaves it in debt: later
requests wait until the debt is paid, so the average rate still holds. A Lua script makes
refill-check-take atomic across all data plane processes, and meters what was
consumed per project in the same step (``usage``)::

    limiter = RateLimiter(redis.Redis.from_url(url))
    limiter.check_and_consume(tenant_id, "online_reads_per_second", amount=len(keys),
                              rate=plan.quotas.online_reads_per_second, project=project_id)

A refused request consumes nothing, so a client that backs off and retries gets
through once the bucket refills.

When that Redis cannot be reached (a region cut off from the control plane), each
limiter goes on with buckets of its own process at the same rates, for
``fallback_seconds`` before it tries Redis again, rather than refusing every request:
a rate quota bounds cost, and a region that serves its tenants through a partition
keeps it bounded per process. What it admits meanwhile is metered in memory and added
to the Redis meter once Redis answers again.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import redis

from granary_core.errors import BackendUnavailable, QuotaExceeded, RateLimitExceeded
from tenancy.plans import RATE_QUOTAS

log = logging.getLogger(__name__)

_TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil then tokens = capacity; ts = now end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 0
-- a request larger than the burst needs a full bucket and leaves it in debt, so a
-- big batch gets through and the tenant's average rate still holds; amount 0 asks
-- whether one unit is left, taking nothing
if math.min(math.max(amount, 1), capacity) <= tokens then
  tokens = tokens - amount
  allowed = 1
  if amount > 0 then redis.call('HINCRBYFLOAT', KEYS[2], ARGV[4], amount) end
end
-- the stamp keeps every microsecond: tostring()'s 14 digits round a Unix time to 100 us,
-- and under thousands of calls a second the roundings down were refilled again while
-- those up were clamped at the next call (max(0, ...)), so the bucket over-admitted
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - math.min(tokens, 0)) / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


def check_count(quota: str, *, limit: float, current: float, adding: float = 1, subject: str = "") -> None:
    """Refuse (403 ``QuotaExceeded``) when ``current + adding`` would pass ``limit``.

    Args:
        quota: the quota's name, e.g. ``"projects"`` (see :mod:`tenancy.plans`).
        limit: the plan's maximum.
        current: use before this request (count, bytes or rows).
        adding: what this request adds.
        subject: who it is about, for the message, e.g. ``"tenant 'acme'"``.
    """
    if current + adding > limit:
        where = f"{subject}: " if subject else ""
        raise QuotaExceeded(
            f"{where}quota '{quota}' exceeded: limit {number_text(limit)}, "
            f"current use {number_text(current)}, this request adds {number_text(adding)}",
            quota=quota,
            limit=limit,
            current=current,
        )


@dataclass(frozen=True)
class Consumed:
    """What a successful ``check_and_consume`` left in the bucket."""

    tokens_left: float


class _LocalBuckets:
    """The token buckets of :data:`_TOKEN_BUCKET`, in this process: the limiter's
    stand-in while Redis is unreachable."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def take(
        self, tenant: str, quota: str, rate: float, capacity: float, amount: float
    ) -> tuple[bool, float]:
        with self._lock:
            now = self._clock()
            tokens, stamp = self._buckets.get((tenant, quota), (capacity, now))
            tokens = min(capacity, tokens + max(0.0, now - stamp) * rate)
            allowed = min(max(amount, 1), capacity) <= tokens
            if allowed:
                tokens -= amount
            self._buckets[(tenant, quota)] = (tokens, now)
            return allowed, tokens


class RateLimiter:
    """Token buckets per (tenant, quota) in Redis; see the module docstring."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = "granary:rl",
        *,
        fallback_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._script = client.register_script(_TOKEN_BUCKET)
        self._clock = clock
        self._fallback_seconds = fallback_seconds
        self._local = _LocalBuckets(clock)
        self._redis_again_at = 0.0
        #: (tenant, "project|quota") -> amount admitted while Redis was unreachable.
        self._unmetered: Counter[tuple[str, str]] = Counter()
        self._unmetered_lock = threading.Lock()

    def bucket_key(self, tenant: str, quota: str) -> str:
        return f"{self._prefix}:bucket:{tenant}:{quota}"

    def usage_key(self, tenant: str) -> str:
        return f"{self._prefix}:usage:{tenant}"

    def check_and_consume(
        self,
        tenant: str,
        quota: str,
        *,
        amount: float,
        rate: float,
        burst: float | None = None,
        project: str = "-",
    ) -> Consumed:
        """Take ``amount`` tokens or refuse with 429 ``RateLimitExceeded``.

        Args:
            tenant: tenant id; buckets are per tenant, shared by its projects.
            quota: ``"online_reads_per_second"`` or ``"ingestion_rows_per_second"``.
            amount: keys read or rows written by this request; ``0`` takes nothing and
                refuses only when not even one is left (before work whose size is
                known only once it is done).
            rate: the plan's limit per second; ``0`` refuses everything.
            burst: bucket capacity (default: one second's worth, at least 1).
            project: project id, for metering only.
        """
        if quota not in RATE_QUOTAS:
            raise ValueError(f"'{quota}' is not a rate quota; rate quotas: {', '.join(RATE_QUOTAS)}")
        capacity = burst if burst is not None else max(rate, 1.0)
        if rate <= 0:
            raise RateLimitExceeded(
                f"tenant {tenant}: quota '{quota}' is 0 on this plan",
                quota=quota,
                limit=0,
                current=0,
            )
        allowed, tokens = self._take(tenant, quota, rate, capacity, amount, f"{project}|{quota}")
        left = float(tokens)
        if not int(allowed):
            need = min(max(amount, 1), capacity)
            used = capacity - left
            raise RateLimitExceeded(
                f"tenant {tenant}: quota '{quota}' exceeded: limit {number_text(rate)}/s "
                f"(burst {number_text(capacity)}), "
                f"current use {number_text(used)} in the bucket, "
                f"this request needs {number_text(max(amount, 1))}; "
                f"retry in {math.ceil(max(need - left, 0) / rate * 1000)} ms",
                quota=quota,
                limit=rate,
                current=round(used, 3),
            )
        return Consumed(tokens_left=left)

    def _take(
        self, tenant: str, quota: str, rate: float, capacity: float, amount: float, meter: str
    ) -> tuple[int | bool, float | str]:
        """Take from the shared bucket in Redis, or from this process's own while Redis
        is unreachable (see the module docstring)."""
        if self._clock() >= self._redis_again_at:
            try:
                self._flush_unmetered()
                return self._script(
                    keys=[self.bucket_key(tenant, quota), self.usage_key(tenant)],
                    args=[rate, capacity, amount, meter],
                )
            except redis.RedisError as exc:
                self._redis_again_at = self._clock() + self._fallback_seconds
                log.warning(
                    "rate limiter: Redis is unreachable (%s); limiting in this process for %.0f s",
                    exc,
                    self._fallback_seconds,
                )
        allowed, tokens = self._local.take(tenant, quota, rate, capacity, amount)
        if allowed and amount > 0:
            with self._unmetered_lock:
                self._unmetered[(tenant, meter)] += amount
        return allowed, tokens

    def _flush_unmetered(self) -> None:
        """Add what was admitted while Redis was unreachable to its meter (kept for the
        next try when this fails)."""
        with self._unmetered_lock:
            pending, self._unmetered = self._unmetered, Counter()
        if not pending:
            return
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for (tenant, meter), amount in pending.items():
                    pipe.hincrbyfloat(self.usage_key(tenant), meter, amount)
                pipe.execute()
        except redis.RedisError:
            with self._unmetered_lock:
                self._unmetered.update(pending)
            raise

    def usage(self, tenant: str) -> dict[str, dict[str, float]]:
        """Metered consumption since the counters began: ``{project: {quota: amount}}``."""
        try:
            raw = self._redis.hgetall(self.usage_key(tenant))
        except redis.RedisError as exc:
            raise BackendUnavailable(f"usage meter: Redis is unreachable: {exc}") from exc
        out: dict[str, dict[str, float]] = {}
        for field, value in raw.items():
            project, _, quota = _text(field).partition("|")
            out.setdefault(project, {})[quota] = float(_text(value))
        return out

    def forget(self, tenant: str) -> None:
        """Drop a deleted tenant's buckets and meters."""
        keys = [self.usage_key(tenant)] + [self.bucket_key(tenant, q) for q in RATE_QUOTAS]
        self._redis.delete(*keys)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def number_text(value: float) -> str:
    """A limit or a use for a message: ``64``, ``0.05``, ``1.5e+06``."""
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"

"""Tell the data planes at once when someone's access changed.

Data planes cache key checks for a few seconds (``tenancy.authn``). After a commit that
narrows or widens access, the control plane publishes the tenant on a Redis channel
the data planes subscribe to, and they drop that tenant's cached answers: a revoked
key or a suspended tenant is refused on the next request, in every region.
"""

from __future__ import annotations

import json
import logging

import redis

from tenancy.authn import ACCESS_CHANNEL

log = logging.getLogger("granary.control_plane")

#: Audited actions after which cached key checks may be wrong.
ACCESS_ACTIONS = frozenset(
    {
        "key.revoke",
        "member.put",
        "member.remove",
        "password.reset",
        "project.delete",
        "tenant.update",
        "tenant.suspend",
        "tenant.resume",
        "tenant.delete",
    }
)


def channel(redis_prefix: str) -> str:
    return f"{redis_prefix}:{ACCESS_CHANNEL}"


def publish(client: redis.Redis, redis_prefix: str, tenant_id: str | None) -> None:
    """Best effort: a lost message only delays refusal until the cache entry expires."""
    try:
        client.publish(channel(redis_prefix), json.dumps({"tenant_id": tenant_id}))
    except redis.RedisError as exc:
        log.warning("could not publish an access change for tenant %s: %s", tenant_id, exc)

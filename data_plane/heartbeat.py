"""Heartbeats: how far behind each other region this region's copy of the catalog is.

Every region writes one row, its own, into ``replication_heartbeats``; the row travels
in the region's catalog publication (filtered to that region's row), so a subscriber's
copy of a peer's row is as fresh as everything else it has applied from that peer. Two
facts come of it:

- **lag**: the subscriber's clock minus the copied ``beat_at``; beats are frequent, so
  an idle link still reads near zero and a stopped one grows without bound (PostgreSQL's
  own ``replay_lag`` is NULL when idle, and lives on the publisher);
- **a barrier**: one apply worker applies a subscription's transactions in commit order,
  so once a peer's beat ``seq = n`` is seen here, everything the peer committed before
  beat ``n`` is here too. Switchover waits on that, not on time.

On one machine the regions share a clock; across machines lag is as good as their NTP.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger("granary.heartbeat")


@dataclass(frozen=True)
class Beat:
    region_id: str
    seq: int
    beat_at: dt.datetime
    #: This database's clock minus ``beat_at``, in milliseconds, when read.
    age_ms: float


def beat(metadata: Engine | Connection, region_id: str) -> int:
    """Write this region's next beat; its sequence number."""
    statement = text(
        "INSERT INTO replication_heartbeats (region_id, seq, beat_at) "
        "VALUES (:r, 1, clock_timestamp()) ON CONFLICT (region_id) DO UPDATE "
        "SET seq = replication_heartbeats.seq + 1, beat_at = clock_timestamp() RETURNING seq"
    )
    if isinstance(metadata, Connection):
        return metadata.execute(statement, {"r": region_id}).scalar_one()
    with metadata.begin() as connection:
        return connection.execute(statement, {"r": region_id}).scalar_one()


def beats(metadata: Engine, exclude: str | None = None) -> dict[str, Beat]:
    """The newest beat of every region seen here (``exclude``: this region's own)."""
    with metadata.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT region_id, seq, beat_at, "
                "1000 * extract(epoch FROM clock_timestamp() - beat_at) FROM replication_heartbeats"
            )
        ).all()
    return {r[0]: Beat(r[0], r[1], r[2], float(r[3])) for r in rows if r[0] != exclude}


def run(metadata: Engine, region_id: str, interval_s: float, stop: threading.Event) -> None:
    """Beat every ``interval_s`` until ``stop``; a database that is away is retried on
    the next beat (its absence shows as lag in the other regions)."""
    while not stop.is_set():
        try:
            beat(metadata, region_id)
        except SQLAlchemyError as exc:
            log.warning("heartbeat not written: %s", exc.__class__.__name__)
        stop.wait(interval_s)


def lag_metrics(metadata: Engine, region_id: str) -> str:
    """``granary_catalog_lag_ms`` per source region, in Prometheus' text format."""
    lines = [
        "# HELP granary_catalog_lag_ms Age of the newest heartbeat applied from each other region",
        "# TYPE granary_catalog_lag_ms gauge",
    ]
    if metadata.dialect.name == "postgresql":
        for source, seen in sorted(beats(metadata, exclude=region_id).items()):
            lines.append(f'granary_catalog_lag_ms{{source="{source}"}} {seen.age_ms:.1f}')
    return "\n".join(lines) + "\n"

"""A planned move of a project's home between regions, as the two regions see it.

The old home stops taking the project's writes (:meth:`ProjectAdmin.unhome`, which drains
the writes under way) and hands over two barriers, measured *after* its last write:

- its heartbeat number (:mod:`data_plane.heartbeat`): the next home has every catalog
  row of the old one once it has applied that beat, since one apply worker applies a
  subscription in commit order;
- the end offset of each of the project's group topics: the next home has every
  acknowledged row once its materializer has applied its mirrored copy of each topic
  (``{old region}.{topic}``, MirrorMaker 2's name) up to that offset. MirrorMaker copies
  a topic from its first offset in order, so offsets match while the copy never
  repeated a record (a MirrorMaker restart in the window can repeat some; then the
  barrier passes that many records early: see ``replication/README.md``).

:func:`catch_up` waits, bounded in time, until this region holds both; the control plane
then homes the project here under the next epoch. Nothing here is timed: every wait is
on a barrier, checked every ``poll_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, text

from data_plane import heartbeat, publication
from data_plane.metadata.models import IngestCheckpointRecord
from data_plane.region import Region
from granary_core.errors import NotFound, Timeout

#: pg_subscription is shared by a cluster's databases: only this database's.
_HERE = "subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())"


@dataclass(frozen=True)
class Handoff:
    """What the old home leaves the next one to wait for."""

    region_id: str
    #: The old home's heartbeat written after its last write of the project.
    beat: int
    #: Each of the project's group topics in the old home, with its end offset.
    topics: dict[str, int]


def hand_off(region: Region, group_topics: list[str]) -> Handoff:
    """The barriers of a region that has just stopped writing a project (after the unhome
    committed: nothing of the project is written here any more)."""
    beat = heartbeat.beat(region.metadata, region.settings.region_id)
    return Handoff(region.settings.region_id, beat, region.ingest.topics.end_offsets(group_topics))


def subscribed(region: Region, source: str) -> bool:
    """Whether this region subscribes to ``source``'s catalog (``replication/``)."""
    with region.metadata.connect() as connection:
        return bool(
            connection.scalar(
                text(f"SELECT count(*) FROM pg_subscription WHERE subname = :s AND {_HERE}"),
                {"s": publication.subscription_name(source)},
            )
        )


def behind(region: Region, handoff: Handoff) -> list[str]:
    """What this region still lacks of ``handoff``, one line per barrier not yet passed."""
    missing = []
    seen = heartbeat.beats(region.metadata).get(handoff.region_id)
    if seen is None or seen.seq < handoff.beat:
        have = "no beat" if seen is None else f"beat {seen.seq}"
        missing.append(f"catalog of {handoff.region_id}: {have} of {handoff.beat}")
    with region.metadata.connect() as connection:
        copying = connection.scalar(
            text(
                "SELECT count(*) FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid "
                f"WHERE s.subname = :s AND r.srsubstate <> 'r' AND s.{_HERE}"
            ),
            {"s": publication.subscription_name(handoff.region_id)},
        )
        if copying:
            missing.append(f"catalog of {handoff.region_id}: {copying} tables still in their initial copy")
        for topic, end in sorted(handoff.topics.items()):
            mirrored = f"{handoff.region_id}.{topic}"
            applied = connection.scalar(
                select(IngestCheckpointRecord.next_offset).where(
                    IngestCheckpointRecord.topic == mirrored, IngestCheckpointRecord.partition == 0
                )
            )
            if (applied or 0) < end:
                missing.append(f"{mirrored}: {applied or 0} of {end} records applied")
    return missing


def catch_up(
    region: Region,
    handoff: Handoff,
    timeout_s: float,
    if_linked: bool = False,
    poll_s: float = 0.05,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Return once this region holds everything ``handoff`` names, with a beat of its own
    written after that (the old home waits on it in turn); 504 naming what is missing
    after ``timeout_s``.

    A region that does not subscribe to the handing-off one can never catch up: 404,
    unless ``if_linked`` (then nothing of it can be on the way, and this returns at once).
    """
    if not subscribed(region, handoff.region_id):
        if if_linked and not handoff.topics:
            return heartbeat.beat(region.metadata, region.settings.region_id)
        raise NotFound(
            f"region '{region.settings.region_id}' does not subscribe to the catalog of "
            f"'{handoff.region_id}': link them first (python -m replication catalog link)"
        )
    deadline = clock() + timeout_s
    while True:
        missing = behind(region, handoff)
        if not missing:
            return heartbeat.beat(region.metadata, region.settings.region_id)
        if clock() >= deadline:
            raise Timeout(
                f"region '{region.settings.region_id}' has not caught up with '{handoff.region_id}' "
                f"within {timeout_s:g} s: {'; '.join(missing)}"
            )
        sleep(poll_s)

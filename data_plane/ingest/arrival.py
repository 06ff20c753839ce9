"""Mirrored records that arrive before their catalog rows wait for them.

A standby gets a group's records by MirrorMaker and the group's catalog rows by
PostgreSQL logical replication: two roads, and either may be ahead. A record whose
project or group has no row here *yet* (the group was just made in its home, or the
standby's catalog is being re-seeded after a failback) must not be skipped as
"deleted": it would be lost in this region for good. So a mirrored topic whose next
records name a project or group unknown here is held (its partition paused, the
position kept) and tried again a second later, until the rows arrive or
``grace_seconds`` pass; after that the records are taken for what they look like
(a deleted project or group) and handled as the home would handle them.

A region's own topics wait only for their project's row (a project deleted here keeps
a tombstone row, so no row at all means the catalog is being re-seeded); a group of
theirs that is gone was deleted here, and its records are refused at once as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import Engine, text

from data_plane.layout import Layout
from granary_core.errors import NotFound

#: How long a held partition rests before its records are tried again, in seconds.
HOLD_SECONDS = 1.0


class Arrivals:
    """Whether the catalog rows a mirrored topic's records need are here, per topic."""

    def __init__(
        self,
        metadata: Engine,
        layout: Layout,
        grace_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._metadata = metadata
        self._layout = layout
        self._grace = grace_seconds
        self._clock = clock
        #: topic -> when its records were first found waiting (cleared once they pass)
        self._since: dict[str, float] = {}

    def waiting(self, topic: str, project_known: bool, group_ids: Iterable[str]) -> bool:
        """True while the project (or, on a mirrored topic, a group) is unknown here and
        the topic has waited less than the grace period.

        ``project_known`` is what the caller read under the project's fence, not looked up
        here: a look taken before the fence could see the row a re-seed deletes a moment
        later, and the records would then be skipped as a deleted project's."""
        mirrored = not topic.startswith(self._layout.group_topic_prefix)
        if project_known and (not mirrored or self._known(set(group_ids))):
            self._since.pop(topic, None)
            return False
        first = self._since.setdefault(topic, self._clock())
        if self._clock() - first < self._grace:
            return True
        self._since.pop(topic, None)
        return False

    def missing(self, topic: str, exc: Exception) -> bool:
        """Whether a failure to apply ``topic``'s records is its catalog rows going away
        under it (a re-seed between the look and the write) and worth holding for, within
        the grace period; else the records are refused as before."""
        if not isinstance(exc, NotFound) or topic.startswith(self._layout.group_topic_prefix):
            return False
        first = self._since.setdefault(topic, self._clock())
        return self._clock() - first < self._grace

    def waiting_topics(self) -> set[str]:
        """The topics whose records wait for their catalog rows now."""
        return set(self._since)

    def _known(self, group_ids: set[str]) -> bool:
        """Whether every group has a row here."""
        with self._metadata.connect() as connection:
            found = connection.scalars(
                text("SELECT id FROM feature_groups WHERE id = ANY(:ids)"), {"ids": list(group_ids)}
            ).all()
        return set(found) >= group_ids


class Held:
    """Partitions paused for a while, each to be read again from a kept offset."""

    def __init__(self, consumer: KafkaConsumer, clock: Callable[[], float] = time.monotonic) -> None:
        self._consumer = consumer
        self._clock = clock
        self._until: dict[TopicPartition, float] = {}

    def hold(self, partition: TopicPartition, offset: int) -> None:
        """Read ``partition`` again from ``offset``, not before ``HOLD_SECONDS`` pass."""
        self._consumer.seek(partition, offset)
        self._consumer.pause(partition)
        self._until[partition] = self._clock() + HOLD_SECONDS

    def release_due(self) -> None:
        """Resume the partitions whose rest is over."""
        now = self._clock()
        due = [p for p, until in self._until.items() if until <= now]
        for partition in due:
            del self._until[partition]
        if due:
            self._consumer.resume(*due)

    def forget(self, partition: TopicPartition) -> None:
        self._until.pop(partition, None)

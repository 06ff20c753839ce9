"""The materializer's online side: group topics -> online store, as fast as Kafka allows.

It reads the same topics as the offline side but with its own consumer, so a row is
served online as soon as it arrives instead of after the Delta write of the batch
before it (a merge into S3 takes from tens of milliseconds to seconds). Online writes
keep the newest row per key by event time, so they are idempotent: on takeover this
loop starts again at the offline checkpoint and replays whatever came after it.

Progress is recorded as ``online_next_offset`` of the topic's checkpoint, which the
REST API's ``wait=True`` also waits for.

That the rows before the checkpoint are still in the online store is an assumption an
online store restarted without persistence breaks. So the loop keeps a mark in the store
(:meth:`OnlineStore.set_mark`), looked for every few seconds: missing, the store lost
what it held, and every topic is replayed from its first record (the newest row per key
wins, so nothing is written wrong meanwhile); the mark is set again once the replay has
passed where the topics were.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from prometheus_client import Histogram
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from data_plane import lifecycle
from data_plane.ingest.arrival import Arrivals, Held
from data_plane.ingest.messages import IngestMessage
from data_plane.ingest.topics import MAX_MESSAGE_BYTES
from data_plane.layout import Layout
from data_plane.metadata.models import IngestCheckpointRecord
from data_plane.region import Region
from granary_core.errors import GranaryError, NotFound

log = logging.getLogger(__name__)

#: Seconds between two looks for the online store's mark.
MARK_LOOK_SECONDS = 2.0

ONLINE_FRESHNESS = Histogram(
    "granary_online_freshness_seconds",
    "Time from the API producing a record to its rows being served online",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class OnlineLoop:
    """Consumes the topics ``owned()`` names (topic -> offline next offset)."""

    def __init__(self, region: Region, owned: Callable[[], dict[str, int]], poll_ms: int = 20) -> None:
        self.region = region
        self._owned = owned
        self._poll_ms = poll_ms
        self._consumer = KafkaConsumer(
            bootstrap_servers=region.settings.kafka_bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=MAX_MESSAGE_BYTES,
            fetch_max_bytes=MAX_MESSAGE_BYTES,
            fetch_max_wait_ms=20,
            client_id=f"{region.settings.namespace}-online",
        )
        self._assigned: dict[str, TopicPartition] = {}
        self._next: dict[str, int] = {}
        self._layout = Layout(region.settings.namespace)
        self._arrivals = Arrivals(region.metadata, self._layout, region.settings.arrival_grace_seconds)
        self._held = Held(self._consumer)
        self._mark = f"online-loop:{region.settings.namespace}"
        self._last_look = float("-inf")

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.step()
            except Exception:
                log.exception("online materialization failed; retrying")
                for topic, partition in self._assigned.items():
                    self._consumer.seek(partition, self._next[topic])
                time.sleep(1.0)
        self._consumer.close()

    def _sync_assignment(self) -> None:
        owned = self._owned()
        if set(owned) == set(self._assigned):
            return
        for topic in set(self._assigned) - set(owned):
            self._held.forget(self._assigned.pop(topic))
            self._next.pop(topic, None)
        for topic in set(owned) - set(self._assigned):
            self._assigned[topic] = TopicPartition(topic, 0)
            self._next[topic] = min(owned[topic], self._online_progress(topic, owned[topic]))
        self._consumer.assign(list(self._assigned.values()))
        for topic, partition in self._assigned.items():
            self._consumer.seek(partition, self._next[topic])

    def _online_progress(self, topic: str, default: int) -> int:
        with self.region.session() as session:
            record = session.get(IngestCheckpointRecord, (topic, 0))
        return default if record is None else record.online_next_offset

    def _look_for_mark(self) -> None:
        """Replay every topic from its start when the online store lost what it held."""
        store = self.region.online
        now = time.monotonic()
        if store is None or now - self._last_look < MARK_LOOK_SECONDS:
            return
        self._last_look = now
        if store.holds(self._mark):
            return
        log.warning("the online store lost its rows (its mark is gone): replaying every topic from its start")
        with self.region.session() as session:  # committed on exit: a restart replays too
            topics = [
                t
                for t in session.scalars(select(IngestCheckpointRecord.topic))
                if self._layout.is_group_topic(t)
            ]
            session.execute(
                update(IngestCheckpointRecord)
                .where(IngestCheckpointRecord.topic.in_(topics))
                .values(online_next_offset=0)
            )
        store.set_mark(self._mark)
        for topic, partition in self._assigned.items():
            self._held.forget(partition)
            self._next[topic] = 0
            self._consumer.seek(partition, 0)

    def step(self) -> int:
        self._look_for_mark()
        self._sync_assignment()
        if not self._assigned:
            time.sleep(self._poll_ms / 1000)
            return 0
        self._held.release_due()
        try:
            polled = self._consumer.poll(timeout_ms=self._poll_ms, max_records=2000)
        except KafkaError as exc:
            log.warning("online poll failed: %s", exc)
            time.sleep(0.5)
            return 0
        applied = 0
        for partition, records in polled.items():
            if partition.topic not in self._assigned:
                continue
            # The project's deletion fence is held over the writes and the checkpoint:
            # a project being deleted gets neither (see data_plane.lifecycle).
            project = IngestMessage.project_of(records[0].headers)
            messages = [IngestMessage.decode(r.headers, r.value) for r in records]
            with lifecycle.fenced(self.region.metadata, project) as status:
                groups = {m.group_id for m in messages}
                if self._arrivals.waiting(partition.topic, status is not None, groups):
                    self._held.hold(partition, self._next[partition.topic])  # its catalog rows are coming
                    continue
                if status == lifecycle.ACTIVE:
                    try:
                        for message in messages:
                            self._apply(message, partition.topic)
                    except NotFound as exc:
                        if not self._arrivals.missing(partition.topic, exc):
                            raise
                        self._held.hold(partition, self._next[partition.topic])  # written again after
                        continue
                    applied += len(records)
                    self._record(partition, records[-1].offset + 1)
            self._next[partition.topic] = records[-1].offset + 1
        return applied

    def _apply(self, message: IngestMessage, topic: str) -> None:
        engine = self.region.engine(message.project)
        if engine.online is None:
            return
        try:
            info = engine.catalog.get_group(message.name, message.version)
        except GranaryError as exc:
            if self._arrivals.missing(topic, exc):
                raise  # gone under us while its catalog is re-seeded: hold, then write again
            return  # deleted: nothing to serve
        if info.id != message.group_id or not info.online_enabled or message.operation == "compact":
            return
        if message.operation == "delete":
            engine.online.remove(info, message.table)
        else:
            overwrite = message.operation == "overwrite"
            try:
                table, _ = engine.prepare_insert(info, message.table, overwrite, transform=False)
            except GranaryError:
                return  # the offline side records the rejection for the writer
            engine.online.write(info, table, overwrite=overwrite)
        ONLINE_FRESHNESS.observe(max(0.0, time.time() - message.produced_ms / 1000))

    def _record(self, partition: TopicPartition, next_offset: int) -> None:
        statement = pg_insert(IngestCheckpointRecord).values(
            topic=partition.topic,
            partition=partition.partition,
            next_offset=0,
            online_next_offset=next_offset,
        )
        statement = statement.on_conflict_do_update(
            index_elements=["topic", "partition"],
            # never backwards: a takeover replays from the (older) offline checkpoint
            set_={
                "online_next_offset": func.greatest(
                    IngestCheckpointRecord.online_next_offset, statement.excluded.online_next_offset
                )
            },
        )
        with self.region.session() as session:
            session.execute(statement)

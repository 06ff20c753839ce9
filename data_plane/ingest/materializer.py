"""The materializer: consume group topics, write offline + online, exactly once.

Kafka delivers at least once; writes are made idempotent by keeping the consumer
position in PostgreSQL, not in Kafka: each commit record and the topic's checkpoint
(next offset) are written in one transaction (:meth:`Catalog.record_commit`). On
start, and whenever it takes over a topic, the materializer

1. reads the checkpoint and seeks there, so records already committed are skipped;
2. rolls the group's Delta table back to the version the last commit record names,
   because a process killed between the Delta commit and the PostgreSQL commit leaves
   an unrecorded table version behind (readers never see it: they read recorded
   versions only) that the replayed records would otherwise apply a second time.

Online writes (Redis) happen in :mod:`data_plane.ingest.online_loop`, a second consumer
of the same topics, so rows are served without waiting for the Delta write; they keep
the newest row per key by event time, so replaying them is harmless. A topic is owned
by one materializer at a time through a PostgreSQL advisory lock, released by the
server when the owner's connection dies (SIGKILL too), so several materializers can
run for availability.

Consecutive upserts with the same columns are applied as one commit: under load a
poll returns many records, and one Delta merge per poll is what keeps up.

Every commit adds Parquet files, so a group fed by many small writes is read from many
small files. A ``compact`` record (``fg.compact()``) rewrites them in order with the
writes, and the materializer compacts on its own after ``compact_after_commits`` commits
of a group (counted in memory since this process took the topic or last compacted).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field

import pyarrow as pa
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import text

from data_plane import lifecycle
from data_plane.catalog import Checkpoint, save_checkpoint
from data_plane.ingest.arrival import Arrivals, Held
from data_plane.ingest.messages import IngestMessage
from data_plane.ingest.online_loop import OnlineLoop
from data_plane.ingest.topics import MAX_MESSAGE_BYTES
from data_plane.layout import Layout
from data_plane.metadata.models import IngestCheckpointRecord, IngestFailureRecord
from data_plane.region import Region
from granary_core.errors import FeatureGroupNotFound, GranaryError

log = logging.getLogger(__name__)

MATERIALIZATION_LAG = Histogram(
    "granary_materialization_lag_seconds",
    "Time from the API producing a record to its commit being visible",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
CONSUMER_LAG = Gauge("granary_consumer_lag_records", "Records produced but not yet materialized", ["topic"])
ROWS = Counter("granary_materialized_rows_total", "Rows written by the materializer", ["operation"])
FAILURES = Counter("granary_materializer_rejected_total", "Records the materializer could not apply")


class _CatalogGone(Exception):
    """A mirrored record's group vanished under the write (its catalog being re-seeded)."""


def _lock_key(topic: str) -> int:
    """A signed 64-bit advisory lock id for a topic name."""
    return int.from_bytes(hashlib.sha1(topic.encode()).digest()[:8], "big", signed=True)


@dataclass
class _Owned:
    partition: TopicPartition
    next_offset: int
    repaired: set[int] = field(default_factory=set)  # group ids whose table was rolled back


_HOT_SECONDS = 5.0
_RELIST_SECONDS = 10.0
#: Changes when a group is made or deleted, or a project comes home here (whose groups'
#: topics the new home creates then): a cue to list the topics again soon.
_GROUPS_SIGNATURE = text(
    "SELECT count(*), coalesce(max(id), '') || '/' || "
    "(SELECT count(*) || ':' || coalesce(max(since)::text, '') FROM homed_projects) FROM feature_groups"
)


class Materializer:
    def __init__(self, region: Region, poll_ms: int = 50, discover_every_s: float = 0.25) -> None:
        self.region = region
        self.layout = Layout(region.settings.namespace)
        self.prefix = self.layout.group_topic_prefix
        self._poll_ms = poll_ms
        self._discover_every_s = discover_every_s
        self._consumer = KafkaConsumer(
            bootstrap_servers=region.settings.kafka_bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=MAX_MESSAGE_BYTES,
            fetch_max_bytes=MAX_MESSAGE_BYTES,
            fetch_max_wait_ms=50,
            client_id=f"{region.settings.namespace}-materializer",
        )
        self._arrivals = Arrivals(region.metadata, self.layout, region.settings.arrival_grace_seconds)
        self._held = Held(self._consumer)
        # Advisory locks are per session: one connection held for the process's life.
        self._lock_connection = region.metadata.connect()
        self._owned: dict[str, _Owned] = {}
        self._owned_lock = threading.Lock()
        self._last_discovery = 0.0
        self._last_listing = 0.0
        self._groups_seen: tuple[int, str] | None = None
        self._hot_until = 0.0
        self._last_lag = 0.0
        self._compact_after = region.settings.compact_after_commits
        self._commits_since_compact: dict[int, int] = {}  # group id -> commits

    # ownership ----------------------------------------------------------------------
    def _discover(self) -> None:
        """Take the topics of new groups, drop those of deleted ones.

        Listing a region's topics from Kafka is a metadata request whose answer grows with
        every tenant's groups; asked four times a second it kept an idle materializer at
        ~20% of a core. So the listing runs only while the feature group table changes
        (and for ``_HOT_SECONDS`` after, since a topic is created just after its group's
        row), and every ``_RELIST_SECONDS`` as a safety net. The check is one query.
        """
        now = time.monotonic()
        if now - self._last_discovery < self._discover_every_s:
            return
        self._last_discovery = now
        signature = self._groups_signature()
        if signature != self._groups_seen:
            self._groups_seen, self._hot_until = signature, now + _HOT_SECONDS
        if now >= self._hot_until and now - self._last_listing < _RELIST_SECONDS:
            return
        self._last_listing = now
        try:
            topics = {t for t in self._consumer.topics() if self.layout.is_group_topic(t)}
        except KafkaError as exc:
            log.warning("cannot list topics: %s", exc)
            return
        gone = set(self._owned) - topics
        for topic in gone:
            with self._owned_lock:
                self._release(topic)
        changed = bool(gone)
        for topic in sorted(topics - set(self._owned)):
            locked = self._lock_connection.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": _lock_key(topic)}
            ).scalar()
            self._lock_connection.commit()
            if not locked:
                continue
            owned = _Owned(TopicPartition(topic, 0), self._checkpoint(topic))
            with self._owned_lock:
                self._owned[topic] = owned
            changed = True
        if changed:
            self._consumer.assign([o.partition for o in self._owned.values()])
            for owned in self._owned.values():
                self._consumer.seek(owned.partition, owned.next_offset)

    def _groups_signature(self) -> tuple[int, str]:
        """Read on the connection that holds the topics' locks: if the database went away
        (and the locks with it), this raises and the run loop gives the topics up."""
        count, last = self._lock_connection.execute(_GROUPS_SIGNATURE).one()
        self._lock_connection.commit()
        return int(count), last

    def _lose_ownership(self) -> None:
        """Forget every owned topic and the connection that held their locks."""
        with self._owned_lock:
            for owned in self._owned.values():
                self._held.forget(owned.partition)
            self._owned.clear()
        try:
            self._consumer.assign([])
        except Exception:
            log.exception("could not unassign the consumer")
        try:
            self._lock_connection.close()  # the server drops its locks with it
        except Exception:
            log.debug("closing the lock connection failed", exc_info=True)
        try:
            self._lock_connection = self.region.metadata.connect()
        except Exception:
            log.warning("the metadata database is still unreachable; retrying")
            return
        self._groups_seen, self._last_listing = None, 0.0

    def _release(self, topic: str) -> None:
        owned = self._owned.pop(topic, None)
        if owned is not None:
            self._held.forget(owned.partition)
        self._lock_connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(topic)})
        self._lock_connection.commit()

    def _checkpoint(self, topic: str) -> int:
        with self.region.session() as session:
            record = session.get(IngestCheckpointRecord, (topic, 0))
            return 0 if record is None else record.next_offset

    # applying -----------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None) -> None:
        """Consume until ``stop`` is set (forever without one); the online side runs in a
        thread of its own over the same topics."""
        stop = stop or threading.Event()
        log.info("materializer started", extra={"prefix": self.prefix})
        online = OnlineLoop(self.region, self.owned_offsets)
        online_thread = threading.Thread(target=online.run, args=(stop,), name="online", daemon=True)
        online_thread.start()
        while not stop.is_set():
            try:
                self.step()
            except Exception:
                # PostgreSQL went away (a restart releases the advisory locks with the
                # connection that held them): give up every topic, take them again once
                # the database is back, from their checkpoints
                log.exception("materializer step failed; giving up its topics and starting over")
                self._lose_ownership()
                stop.wait(1.0)
        online_thread.join(10)
        self.close()

    @property
    def arrivals(self) -> Arrivals:
        """Which mirrored topics wait for their catalog rows (for status and tests)."""
        return self._arrivals

    def owned_offsets(self) -> dict[str, int]:
        """Topics this process owns -> the offline checkpoint (where replays start)."""
        with self._owned_lock:
            return {topic: owned.next_offset for topic, owned in self._owned.items()}

    def step(self) -> int:
        """One poll and everything it returned; the number of records applied."""
        self._discover()
        if not self._owned:
            time.sleep(self._poll_ms / 1000)
            return 0
        self._held.release_due()
        try:
            polled = self._consumer.poll(timeout_ms=self._poll_ms, max_records=2000)
        except KafkaError as exc:
            log.warning("poll failed: %s", exc)
            time.sleep(0.5)
            return 0
        applied = 0
        for partition, records in polled.items():
            owned = self._owned.get(partition.topic)
            if owned is None:
                continue
            fresh = [r for r in records if r.offset >= owned.next_offset]
            if not fresh:
                continue
            try:
                applied += self._apply_fenced(owned, fresh)
            except Exception:
                # Infrastructure trouble (S3, PostgreSQL, Redis): nothing was recorded, so
                # go back to the checkpoint and try again after a pause.
                log.exception(
                    "materializing %s failed; retrying from offset %d", partition.topic, owned.next_offset
                )
                self._consumer.seek(partition, owned.next_offset)
                time.sleep(1.0)
        self._update_lag()
        return applied

    def _apply_fenced(self, owned: _Owned, records: list) -> int:
        """Apply the records while holding their project's deletion fence; a project being
        deleted gets nothing written (its topic is deleted next, so nothing is recorded)."""
        project = IngestMessage.project_of(records[0].headers)
        messages = [IngestMessage.decode(r.headers, r.value) for r in records]
        topic = owned.partition.topic
        try:
            with lifecycle.fenced(self.region.metadata, project) as status:
                if self._arrivals.waiting(topic, status is not None, {m.group_id for m in messages}):
                    self._held.hold(owned.partition, owned.next_offset)  # its catalog rows are on their way
                    return 0
                if status == lifecycle.ACTIVE:
                    return self._apply(owned, records, messages)
        except _CatalogGone:
            self._held.hold(owned.partition, owned.next_offset)  # applied up to there; the rest waits
            return 0
        log.info("skipped %d records of %s: project '%s' is deleted", len(records), topic, project)
        owned.next_offset = records[-1].offset + 1
        return 0

    def _apply(self, owned: _Owned, records: list, messages: list[IngestMessage]) -> int:
        i = 0
        while i < len(messages):
            first = messages[i]
            j = i + 1
            if first.operation == "upsert":
                while (
                    j < len(messages)
                    and j - i < 500
                    and messages[j].operation == "upsert"
                    and messages[j].group_id == first.group_id
                    and messages[j].epoch == first.epoch
                    and messages[j].table.schema.equals(first.table.schema)
                ):
                    j += 1
            table = pa.concat_tables([m.table for m in messages[i:j]])
            self._write(owned, first, table, records[i].offset, records[j - 1].offset)
            i = j
        return len(records)

    def _write(self, owned: _Owned, message: IngestMessage, table: pa.Table, first: int, last: int) -> None:
        engine = self.region.engine(message.project)
        source = Checkpoint(owned.partition.topic, owned.partition.partition, last, message.epoch)
        try:
            if message.group_id not in owned.repaired:
                self._repair(engine, message)
                owned.repaired.add(message.group_id)
            if message.operation == "compact":
                engine.compact(message.name, message.version, source=source)
                self._commits_since_compact.pop(message.group_id, None)
            elif message.operation == "delete":
                engine.remove_rows(message.name, message.version, table, source=source, write_online=False)
            else:
                engine.insert(
                    message.name,
                    message.version,
                    table,
                    overwrite=message.operation == "overwrite",
                    source=source,
                    transform=False,
                    write_online=False,
                )
        except GranaryError as exc:
            if self._arrivals.missing(owned.partition.topic, exc):
                raise _CatalogGone from exc
            # The record can never apply (group deleted, schema refused): say why to the
            # waiting writer and move past it, or the topic would be stuck forever.
            self._reject(owned, first, last, exc)
        else:
            ROWS.labels(message.operation).inc(table.num_rows)
            MATERIALIZATION_LAG.observe(max(0.0, time.time() - message.produced_ms / 1000))
            if message.operation != "compact":
                self._maybe_compact(engine, message)
        owned.next_offset = last + 1

    def _maybe_compact(self, engine, message: IngestMessage) -> None:
        """Compact after ``compact_after_commits`` commits of the group. Best effort: the
        writes are committed already, and a failed compaction is retried at the next
        commit."""
        if self._compact_after <= 0:
            return
        count = self._commits_since_compact.get(message.group_id, 0) + 1
        self._commits_since_compact[message.group_id] = count
        if count < self._compact_after:
            return
        try:
            engine.compact(message.name, message.version)
        except Exception:
            log.exception("compacting feature group '%s' v%d failed", message.name, message.version)
        else:
            self._commits_since_compact.pop(message.group_id, None)

    def _repair(self, engine, message: IngestMessage) -> None:
        """Roll the table back to its last recorded version (see the module docstring)."""
        try:
            info = engine.catalog.get_group(message.name, message.version)
        except FeatureGroupNotFound:
            return
        if info.id != message.group_id:
            return
        recorded = engine.catalog.version_at(info.id, None)
        engine.offline.restore(engine.location(info), recorded)

    def _reject(self, owned: _Owned, first: int, last: int, exc: GranaryError) -> None:
        FAILURES.inc()
        log.warning("rejected records %d..%d of %s: %s", first, last, owned.partition.topic, exc.message)
        with self.region.session() as session:
            for offset in range(first, last + 1):
                session.add(
                    IngestFailureRecord(
                        topic=owned.partition.topic,
                        partition=owned.partition.partition,
                        offset=offset,
                        code=exc.code,
                        message=exc.message,
                    )
                )
            save_checkpoint(session, Checkpoint(owned.partition.topic, owned.partition.partition, last))

    def _update_lag(self) -> None:
        """Records behind, per topic, from the high watermarks fetches already brought back
        (no extra broker round trip)."""
        now = time.monotonic()
        if not self._owned or now - self._last_lag < 1.0:
            return
        self._last_lag = now
        for owned in self._owned.values():
            end = self._consumer.highwater(owned.partition)
            if end is not None:
                CONSUMER_LAG.labels(owned.partition.topic).set(max(0, end - owned.next_offset))

    def close(self) -> None:
        self._consumer.close()
        self._lock_connection.close()

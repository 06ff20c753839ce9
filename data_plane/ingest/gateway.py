"""The REST API's side of remote ingestion: validate, produce, and maybe wait.

An insert is validated against the group's schema under a row lock on the group
(``SELECT ... FOR UPDATE``), produced to the group's topic with ``acks=all``, and the
grown schema is stored in that same transaction, so two concurrent inserts can never
both be accepted with conflicting column types. The call returns once the broker has
acknowledged the record: from then on the insert survives any crash of this process
or the materializer. With ``wait`` it also blocks until the materializer has made it
visible, and returns that commit.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass

import pyarrow as pa
from kafka import KafkaProducer
from kafka.errors import KafkaError
from sqlalchemy import select

from data_plane.catalog import _commit_info, _group_info
from data_plane.engine import FeatureStoreEngine
from data_plane.ingest.messages import IngestMessage
from data_plane.ingest.topics import MAX_MESSAGE_BYTES, Topics
from data_plane.metadata.models import (
    CommitRecord,
    FeatureGroupRecord,
    IngestCheckpointRecord,
    IngestFailureRecord,
)
from granary_core import schema as schemas
from granary_core.errors import BackendUnavailable, FeatureGroupNotFound, Timeout, error_from_dict
from granary_core.specs import CommitInfo, FeatureGroupInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Receipt:
    """Where the broker stored an acknowledged record."""

    topic: str
    partition: int
    offset: int
    batch_id: str


class IngestGateway:
    def __init__(
        self, bootstrap: str, topics: Topics, ack_timeout_s: float = 30.0, drop_every: int = 0
    ) -> None:
        """``drop_every`` N > 0 (a deliberately broken build, ``test_only_break``):
        every Nth write is acknowledged without being produced."""
        self.topics = topics
        self._ack_timeout_s = ack_timeout_s
        self._drop_every = drop_every
        self._writes = itertools.count(1)
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=bootstrap,
                acks="all",
                linger_ms=0,
                max_request_size=MAX_MESSAGE_BYTES,
                retries=5,
                request_timeout_ms=int(ack_timeout_s * 1000),
                client_id=f"{topics.namespace}-api",
            )
        except KafkaError as exc:
            raise BackendUnavailable(f"Kafka at {bootstrap}: {exc}") from exc

    def close(self) -> None:
        self._producer.close(timeout=5)

    def check(self) -> None:
        """A real metadata round trip to the brokers (for /health)."""
        self.topics.describe()

    def submit(
        self, engine: FeatureStoreEngine, info: FeatureGroupInfo, data: pa.Table, operation: str
    ) -> Receipt:
        """Validate ``data`` for ``operation`` and produce it; returns after the broker ack.

        Holds the project's deletion fence (:mod:`data_plane.lifecycle`) until the record
        is acknowledged, so a project being deleted gets no record it would not clean up.
        """
        with engine.catalog.session() as session:
            epoch = engine.catalog.refuse_unless_writable(session)
            record = session.scalar(
                select(FeatureGroupRecord).where(FeatureGroupRecord.id == info.id).with_for_update()
            )
            if record is None:
                raise FeatureGroupNotFound(f"feature group '{info.name}' v{info.version} was deleted")
            topic = self.topics.ensure(info.id)
            current = _group_info(record)
            if operation == "compact":  # no rows; in the topic so it runs in order with writes
                table, grown = pa.table({}), None
            elif operation == "delete":
                where = f"feature group '{info.name}' v{info.version}: remove_rows"
                table = schemas.normalize(data, where)
                schemas.check_keys(table, where, current.primary_key, current.event_time)
                keys = [*current.primary_key, *([current.event_time] if current.event_time else [])]
                table, grown = table.select(keys), None
            else:
                table, grown = engine.prepare_insert(current, data, overwrite=operation == "overwrite")
            message = IngestMessage.new(
                engine.catalog.project, info.id, info.name, info.version, operation, table, epoch
            )
            receipt = self._produce(topic, message)
            if grown is not None:
                record.features = schemas.schema_to_json(grown)
        return receipt

    def _produce(self, topic: str, message: IngestMessage) -> Receipt:
        if self._drop_every and next(self._writes) % self._drop_every == 0:
            return Receipt(topic, 0, -1, message.batch_id)
        try:
            future = self._producer.send(topic, value=message.value(), headers=message.headers())
            meta = future.get(timeout=self._ack_timeout_s)
        except KafkaError as exc:
            raise BackendUnavailable(f"Kafka did not acknowledge the write to {topic}: {exc}") from exc
        return Receipt(topic, meta.partition, meta.offset, message.batch_id)

    def wait(
        self, engine: FeatureStoreEngine, info: FeatureGroupInfo, receipt: Receipt, timeout_s: float
    ) -> CommitInfo:
        """Block until the materializer consumed ``receipt`` offline and (for an
        online-enabled group) online; its commit, or its error."""
        deadline = time.monotonic() + timeout_s
        pause = 0.002
        while True:
            with engine.catalog.session() as session:
                checkpoint = session.get(IngestCheckpointRecord, (receipt.topic, receipt.partition))
                online_done = checkpoint is not None and (
                    not info.online_enabled or checkpoint.online_next_offset > receipt.offset
                )
                if online_done and checkpoint.next_offset > receipt.offset:
                    commit = session.scalar(
                        select(CommitRecord)
                        .where(
                            CommitRecord.feature_group_id == info.id,
                            CommitRecord.source_offset >= receipt.offset,
                        )
                        .order_by(CommitRecord.id)
                        .limit(1)
                    )
                    if commit is not None:
                        return _commit_info(commit)
                    failure = session.scalar(
                        select(IngestFailureRecord).where(
                            IngestFailureRecord.topic == receipt.topic,
                            IngestFailureRecord.offset == receipt.offset,
                        )
                    )
                    if failure is not None:
                        raise error_from_dict({"code": failure.code, "message": failure.message})
                    raise FeatureGroupNotFound(
                        f"feature group '{info.name}' v{info.version} was deleted before the write applied"
                    )
            if time.monotonic() >= deadline:
                raise Timeout(
                    f"feature group '{info.name}' v{info.version}: the write was acknowledged "
                    f"(offset {receipt.offset}) but not materialized within {timeout_s:.0f} s; "
                    "it will still be applied"
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

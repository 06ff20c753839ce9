"""Kafka topics of feature groups: one per group, one partition (order = commit order).

Topics are named by :class:`data_plane.layout.Layout` (by the group's database id).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError, UnknownTopicOrPartitionError

from data_plane.layout import Layout
from granary_core.errors import BackendUnavailable

#: Room for the largest request body plus Arrow framing.
MAX_MESSAGE_BYTES = 128 * 1024 * 1024
#: Copies of each topic when the cluster has brokers enough: an acknowledged insert
#: survives the loss of two of them.
MAX_REPLICATION_FACTOR = 3


class Topics:
    """Create and delete group topics; remembers which exist so inserts skip the check."""

    def __init__(self, bootstrap: str, namespace: str, replication_factor: int | None = None) -> None:
        """``replication_factor`` unset: as many copies as the cluster has brokers, at most
        :data:`MAX_REPLICATION_FACTOR` (a single-broker test region gets 1)."""
        self._bootstrap = bootstrap
        self._replication_factor = replication_factor
        self.namespace = namespace
        self.layout = Layout(namespace)
        self._admin: KafkaAdminClient | None = None
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def _client(self) -> KafkaAdminClient:
        if self._admin is None:
            try:
                self._admin = KafkaAdminClient(
                    bootstrap_servers=self._bootstrap, client_id=f"{self.namespace}-admin"
                )
            except KafkaError as exc:
                raise BackendUnavailable(f"Kafka at {self._bootstrap}: {exc}") from exc
        return self._admin

    def ensure(self, group_id: str) -> str:
        topic = self.layout.group_topic(group_id)
        if topic in self._known:
            return topic
        with self._lock:
            try:
                self._client().create_topics(
                    [
                        NewTopic(
                            topic,
                            num_partitions=1,
                            replication_factor=self.replication_factor(),
                            topic_configs={"max.message.bytes": str(MAX_MESSAGE_BYTES)},
                        )
                    ]
                )
            except TopicAlreadyExistsError:
                pass
            except KafkaError as exc:
                raise BackendUnavailable(f"Kafka: cannot create topic {topic}: {exc}") from exc
            self._known.add(topic)
        return topic

    def replication_factor(self) -> int:
        """The copies a new topic gets; asks the cluster its broker count once."""
        if self._replication_factor is None:
            try:
                brokers = len(self._client().describe_cluster()["brokers"])
            except KafkaError as exc:
                raise BackendUnavailable(f"Kafka at {self._bootstrap}: cannot count brokers: {exc}") from exc
            self._replication_factor = max(1, min(MAX_REPLICATION_FACTOR, brokers))
        return self._replication_factor

    def delete_topics(self, topics: list[str]) -> None:
        """Ask Kafka to delete ``topics`` (it finishes in the background: see :meth:`existing`)."""
        with self._lock:
            self._known.difference_update(topics)
            for topic in topics:  # one by one: an already deleted topic fails only its own call
                try:
                    self._client().delete_topics([topic])
                except UnknownTopicOrPartitionError:
                    pass
                except KafkaError as exc:
                    raise BackendUnavailable(f"Kafka: cannot delete topic {topic}: {exc}") from exc

    def existing(self, topics: list[str]) -> list[str]:
        """Those of ``topics`` that Kafka still lists."""
        if not topics:
            return []
        return sorted(set(topics) & set(self.listed()))

    def copies(self, group_ids: Sequence[str]) -> list[str]:
        """The topics in this region's Kafka that hold the groups' records: each one's own,
        and the copies mirrored in from other regions."""
        return self.layout.group_topic_copies(self.listed(), group_ids)

    def listed(self) -> list[str]:
        """Every topic Kafka lists."""
        with self._lock:
            try:
                return list(self._client().list_topics())
            except KafkaError as exc:
                raise BackendUnavailable(f"Kafka at {self._bootstrap}: cannot list topics: {exc}") from exc

    def end_offsets(self, topics: list[str]) -> dict[str, int]:
        """The next offset of each existing one of ``topics`` (one partition each): how
        many records it has had, while nothing is compacted away."""
        present = self.existing(topics)
        if not present:
            return {}
        partitions = [TopicPartition(topic, 0) for topic in present]
        try:
            consumer = KafkaConsumer(bootstrap_servers=self._bootstrap, client_id=f"{self.namespace}-offsets")
        except KafkaError as exc:
            raise BackendUnavailable(f"Kafka at {self._bootstrap}: {exc}") from exc
        try:
            return {tp.topic: offset for tp, offset in consumer.end_offsets(partitions).items()}
        except KafkaError as exc:
            raise BackendUnavailable(f"Kafka at {self._bootstrap}: cannot read end offsets: {exc}") from exc
        finally:
            consumer.close()

    def last_record_times(self, topics: list[str]) -> dict[str, int | None]:
        """The timestamp (epoch ms) of the newest record of each existing one of
        ``topics``; None for an empty one. MirrorMaker keeps a record's timestamp, so
        for a mirrored topic this says until when its home's writes were copied."""
        ends = self.end_offsets(topics)
        if not ends:
            return {}
        times: dict[str, int | None] = {topic: None for topic in ends}
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=self._bootstrap,
                client_id=f"{self.namespace}-last-records",
                enable_auto_commit=False,
                max_partition_fetch_bytes=MAX_MESSAGE_BYTES,
                fetch_max_bytes=MAX_MESSAGE_BYTES,
            )
        except KafkaError as exc:
            raise BackendUnavailable(f"Kafka at {self._bootstrap}: {exc}") from exc
        try:
            for topic, end in ends.items():
                if end == 0:
                    continue
                partition = TopicPartition(topic, 0)
                consumer.assign([partition])
                consumer.seek(partition, end - 1)
                for _ in range(50):  # a few seconds at most
                    records = consumer.poll(timeout_ms=100).get(partition, [])
                    if records:
                        times[topic] = records[-1].timestamp
                        break
        except KafkaError as exc:
            raise BackendUnavailable(f"Kafka at {self._bootstrap}: cannot read {topic}: {exc}") from exc
        finally:
            consumer.close()
        return times

    def describe(self) -> dict:
        with self._lock:
            try:
                return self._client().describe_cluster()
            except KafkaError as exc:
                self._reset()  # a broker that restarted is reached by a new client
                raise BackendUnavailable(f"Kafka at {self._bootstrap}: {exc}") from exc

    def _reset(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):  # closing a client of a dead broker may fail too
                admin.close()

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()

"""Feature data replication: a home region's group topics mirrored into the standby by
MirrorMaker 2 (``replication.kafka_mirror``), in order, with consumer offsets translated."""

from __future__ import annotations

import time
import uuid

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource
from kafka.structs import OffsetAndMetadata

from data_plane.ingest.topics import MAX_MESSAGE_BYTES, Topics
from data_plane.layout import Layout
from replication.kafka_mirror import Cluster, MirrorFlow, MirrorMaker, translated_offsets

RECORDS = 100


@pytest.fixture(scope="module")
def mirrored(world):
    """MirrorMaker 2 copying one namespace's group topics from the home into the standby."""
    layout = Layout(f"t{uuid.uuid4().hex[:8]}")
    home, standby = world.home, world.standby
    flow = MirrorFlow(
        source=Cluster(home, world.env[home]["GRANARY_KAFKA_BOOTSTRAP"]),
        target=Cluster(standby, world.env[standby]["GRANARY_KAFKA_BOOTSTRAP"]),
        topics=layout.group_topic_pattern,
    )
    mirror_maker = MirrorMaker(standby, [flow])
    mirror_maker.start()
    yield layout, flow
    mirror_maker.stop()


def read_all(bootstrap: str, topic: str, expected: int, deadline_seconds: float = 90) -> list:
    """Every record of ``topic``'s partition 0 once ``expected`` are there (polled, bounded)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    records: list = []
    deadline = time.monotonic() + deadline_seconds
    try:
        while topic not in consumer.topics():
            assert time.monotonic() < deadline, f"{topic} never appeared in {bootstrap}"
            time.sleep(0.2)
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        while len(records) < expected:
            assert time.monotonic() < deadline, f"{len(records)} of {expected} records in {topic}"
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records


def commit(bootstrap: str, group: str, topic: str, offset: int) -> None:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(offset, "", -1)})
    consumer.close()


def test_group_topic_is_mirrored_in_order_and_offsets_translated(world, mirrored):
    layout, flow = mirrored
    group_id = uuid.uuid4().hex
    topics = Topics(flow.source.bootstrap, layout.namespace)
    topic = topics.ensure(group_id)  # as the data plane makes it
    topics.close()
    producer = KafkaProducer(bootstrap_servers=flow.source.bootstrap, acks="all")
    for i in range(RECORDS):
        producer.send(topic, key=b"cc_num=4444", value=f"insert {i}".encode())
    producer.flush()
    producer.close()

    started = time.monotonic()
    source = read_all(flow.source.bootstrap, topic, RECORDS)
    mirrored_topic = layout.mirrored_group_topic(flow.source.alias, group_id)
    copies = read_all(flow.target.bootstrap, mirrored_topic, RECORDS)
    print(f"all {RECORDS} records mirrored after {time.monotonic() - started:.1f}s")
    assert [r.value for r in copies] == [f"insert {i}".encode() for i in range(RECORDS)]
    assert [(r.key, r.timestamp) for r in copies] == [(r.key, r.timestamp) for r in source]
    assert len(copies) == RECORDS  # no duplicates in a copy nothing interrupted
    # the copy takes whole insert batches, as the home topic does
    admin = KafkaAdminClient(bootstrap_servers=flow.target.bootstrap)
    configs = admin.describe_configs([ConfigResource("TOPIC", mirrored_topic)])["topic"][mirrored_topic]
    admin.close()
    assert configs["max.message.bytes"]["value"] == str(MAX_MESSAGE_BYTES)

    # a materializer that is caught up, and one that is 60 records behind, in the home region
    caught_up, behind = f"{layout.namespace}-caught-up", f"{layout.namespace}-behind"
    commit(flow.source.bootstrap, caught_up, topic, RECORDS)
    commit(flow.source.bootstrap, behind, topic, 40)
    deadline = time.monotonic() + 120
    translated = {}
    while translated.get(caught_up) != RECORDS or behind not in translated:
        assert time.monotonic() < deadline, f"offsets not translated in time: {translated}"
        for group in (caught_up, behind):
            offsets = translated_offsets(flow.target.bootstrap, group)
            if offsets:
                translated[group] = offsets[TopicPartition(mirrored_topic, 0)]
        time.sleep(0.2)
    print(f"offsets translated after {time.monotonic() - started:.1f}s")
    print(f"translated: committed {RECORDS} -> {translated[caught_up]}, committed 40 -> {translated[behind]}")
    # conservative, never ahead: a consumer moving regions re-reads, it never skips
    assert 0 <= translated[behind] <= 40
    resumed = [r.value for r in copies[translated[behind] :]]
    assert resumed[-60:] == [f"insert {i}".encode() for i in range(40, RECORDS)]

"""Mirrored records that arrive before their catalog rows wait for them, on the test
region's real PostgreSQL and Kafka: a standby must not lose a group's rows because
MirrorMaker was faster than logical replication, or because its catalog is being
re-seeded."""

from __future__ import annotations

import time

import sqlalchemy as sa
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from sqlalchemy import text

from data_plane.ingest.arrival import Arrivals
from data_plane.ingest.messages import IngestMessage
from data_plane.layout import Layout
from data_plane.metadata.models import FeatureGroupRecord
from tests.data_plane.conftest import rows


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _group_id(data_plane, tenant) -> str:
    return data_plane.login(tenant.project).get_feature_store().get_feature_group("g", 1).id


def test_records_of_unknown_projects_or_mirrored_groups_wait_and_only_for_the_grace(data_plane, group):
    clock = Clock()
    layout = Layout(data_plane.settings.namespace)
    arrivals = Arrivals(data_plane.region.metadata, layout, grace_seconds=120, clock=clock)
    gid = _group_id(data_plane, group)
    own, mirrored = layout.group_topic(gid), layout.mirrored_group_topic("elsewhere", gid)

    assert not arrivals.waiting(own, group.project, {"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"})  # deleted here
    assert arrivals.waiting(own, "t_not_here_yet", {gid})  # no row at all: being re-seeded
    clock.now += 121
    assert not arrivals.waiting(own, "t_not_here_yet", {gid})
    assert not arrivals.waiting(mirrored, group.project, {gid})  # everything is here
    assert arrivals.waiting(mirrored, group.project, {gid, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"})
    assert arrivals.waiting(mirrored, "t_not_here_yet", {gid})
    assert arrivals.waiting_topics() == {mirrored}
    clock.now += 119
    assert arrivals.waiting(mirrored, "t_not_here_yet", {gid})
    clock.now += 2  # past the grace: taken for a deleted project, as the home would
    assert not arrivals.waiting(mirrored, "t_not_here_yet", {gid})
    assert arrivals.waiting_topics() == set()


def _until(what: str, check, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while (value := check()) is None or value is False:
        assert time.monotonic() < deadline, f"{what} within {seconds:.0f} s"
        time.sleep(0.2)
    return value


def test_mirrored_records_wait_for_their_group_row_and_apply_when_it_arrives(data_plane, group):
    """The group's catalog row is taken away as a re-seed does (triggers off), its records
    come in on a mirrored topic: the materializer holds them, rejecting nothing, and
    applies them once the row is back."""
    region, settings = data_plane.region, data_plane.settings
    gid = _group_id(data_plane, group)
    topic = Layout(settings.namespace).mirrored_group_topic("elsewhere", gid)
    groups = FeatureGroupRecord.__table__
    with region.metadata.begin() as c:
        c.execute(text("SET LOCAL session_replication_role = replica"))
        row = dict(c.execute(sa.select(groups).where(groups.c.id == gid)).mappings().one())
        c.execute(sa.delete(groups).where(groups.c.id == gid))

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
        producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
        message = IngestMessage.new(group.project, gid, "g", 1, "upsert", rows(2, start=100))
        producer.send(topic, value=message.value(), headers=message.headers()).get(30)
        producer.close()

        materializer = data_plane.materializer
        _until(
            "the materializer holds the mirrored topic",
            lambda: topic in materializer.arrivals.waiting_topics(),
        )
        with region.metadata.begin() as c:
            c.execute(text("SET LOCAL session_replication_role = replica"))
            c.execute(sa.insert(groups).values(**row))

        def applied() -> bool:
            with region.metadata.connect() as c:
                return (
                    c.scalar(
                        text("SELECT next_offset FROM ingest_checkpoints WHERE topic = :t"), {"t": topic}
                    )
                    == 1
                )

        _until("the held records applied once the group's row is back", applied)
        with region.metadata.connect() as c:
            failures = c.scalar(text("SELECT count(*) FROM ingest_failures WHERE topic = :t"), {"t": topic})
        assert failures == 0
        fg = data_plane.login(group.project).get_feature_store().get_feature_group("g", 1)
        assert sorted(fg.read()["k"]) == [0, 1, 2, 100, 101]
    finally:
        admin.delete_topics([topic])
        admin.close()

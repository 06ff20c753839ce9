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
from data_plane.metadata.models import FeatureGroupRecord, ProjectRecord
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

    assert not arrivals.waiting(own, True, {"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"})  # deleted here
    assert arrivals.waiting(own, False, {gid})  # no project row at all: being re-seeded
    clock.now += 121
    assert not arrivals.waiting(own, False, {gid})
    assert not arrivals.waiting(mirrored, True, {gid})  # everything is here
    assert arrivals.waiting(mirrored, True, {gid, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"})
    assert arrivals.waiting(mirrored, False, {gid})
    assert arrivals.waiting_topics() == {mirrored}
    clock.now += 119
    assert arrivals.waiting(mirrored, False, {gid})
    clock.now += 2  # past the grace: taken for a deleted project, as the home would
    assert not arrivals.waiting(mirrored, False, {gid})
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


class _ReseedAfterTheLook(Arrivals):
    """Arrivals whose first look at the group's rows is followed at once by a catalog
    re-seed taking the project's and group's rows away (triggers off, as
    ``replication.catalog.reseed`` deletes): the interleaving that once had mirrored
    records skipped as a deleted project's."""

    def __init__(self, metadata, layout, grace_seconds, group_id: str, project: str) -> None:
        super().__init__(metadata, layout, grace_seconds)
        self._group_id, self._project = group_id, project
        self.taken: dict[str, dict] = {}

    def _known(self, *args, **kwargs):
        known = super()._known(*args, **kwargs)
        if not self.taken and self._group_id in args[-1]:
            projects, groups = ProjectRecord.__table__, FeatureGroupRecord.__table__
            with self._metadata.begin() as c:
                c.execute(text("SET LOCAL session_replication_role = replica"))
                self.taken["group"] = dict(
                    c.execute(sa.select(groups).where(groups.c.id == self._group_id)).mappings().one()
                )
                self.taken["project"] = dict(
                    c.execute(sa.select(projects).where(projects.c.name == self._project)).mappings().one()
                )
                c.execute(sa.delete(groups).where(groups.c.id == self._group_id))
                c.execute(sa.delete(projects).where(projects.c.name == self._project))
        return known

    def give_back(self) -> None:
        with self._metadata.begin() as c:
            c.execute(text("SET LOCAL session_replication_role = replica"))
            c.execute(sa.insert(ProjectRecord.__table__).values(**self.taken["project"]))
            c.execute(sa.insert(FeatureGroupRecord.__table__).values(**self.taken["group"]))


def test_a_reseed_between_the_look_and_the_write_holds_the_records_and_loses_none(data_plane, group):
    """The rows are there when the materializer looks and gone when it writes: the
    records wait for them (nothing skipped, nothing rejected) and apply once they are back."""
    region, settings = data_plane.region, data_plane.settings
    gid = _group_id(data_plane, group)
    layout = Layout(settings.namespace)
    topic = layout.mirrored_group_topic("elsewhere", gid)
    materializer = data_plane.materializer
    racing = _ReseedAfterTheLook(region.metadata, layout, 120.0, gid, group.project)
    usual, materializer._arrivals = materializer._arrivals, racing
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
        producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
        message = IngestMessage.new(group.project, gid, "g", 1, "upsert", rows(2, start=200))
        producer.send(topic, value=message.value(), headers=message.headers()).get(30)
        producer.close()

        _until("the re-seed took the rows away after the look", lambda: bool(racing.taken))
        _until("the materializer holds the topic", lambda: topic in racing.waiting_topics())
        racing.give_back()

        def applied() -> bool:
            with region.metadata.connect() as c:
                query = text("SELECT next_offset FROM ingest_checkpoints WHERE topic = :t")
                return c.scalar(query, {"t": topic}) == 1

        _until("the held records applied once the rows are back", applied)
        with region.metadata.connect() as c:
            failures = c.scalar(text("SELECT count(*) FROM ingest_failures WHERE topic = :t"), {"t": topic})
        assert failures == 0
        fg = data_plane.login(group.project).get_feature_store().get_feature_group("g", 1)
        assert {200, 201} <= set(fg.read()["k"])
    finally:
        materializer._arrivals = usual
        if racing.taken:
            with region.metadata.connect() as c:
                back = c.scalar(text("SELECT 1 FROM projects WHERE name = :p"), {"p": group.project})
            if not back:
                racing.give_back()
        admin.delete_topics([topic])
        admin.close()

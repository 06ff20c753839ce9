"""A group's topic has copies in other regions' Kafka (MirrorMaker's ``{region}.{name}``).
Deleting the group deletes every copy in the region, and the project remembers the group,
so deleting the project later (here as a standby is asked to, as a copy) still finds a
copy that a lagging mirror made after the group was gone. Checked on the real Kafka."""

from __future__ import annotations

import datetime as dt

import httpx
import pandas as pd
import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

import granary
from tests.data_plane.conftest import REGION_TOKEN


@pytest.fixture
def kafka(region_env):
    admin = KafkaAdminClient(bootstrap_servers=region_env["GRANARY_KAFKA_BOOTSTRAP"])
    yield admin
    admin.close()


def _rows() -> pd.DataFrame:
    return pd.DataFrame(
        {"k": [1, 2], "ts": pd.to_datetime([dt.datetime(2026, 1, 1)] * 2, utc=True), "v": [1.0, 2.0]}
    )


def _topics_of(kafka: KafkaAdminClient, group_id: str) -> list[str]:
    return sorted(t for t in kafka.list_topics() if t.endswith(f".fg.{group_id}"))


def test_a_groups_topic_copies_go_with_the_group_and_with_its_project(plane, kafka):
    project, key = plane.new_key()
    fs = granary.login(host=plane.api_url, api_key=key).get_feature_store()
    groups = {}
    for name in ("kept", "dropped"):
        group = fs.get_or_create_feature_group(name=name, version=1, primary_key=["k"], event_time="ts")
        group.insert(_rows(), wait=True)
        [own] = _topics_of(kafka, group.id)
        kafka.create_topics([NewTopic(f"eu.{own}", 1, 1)])  # as mirrored in from region eu
        groups[name] = (group, own)
    kept, dropped = groups["kept"][0].id, groups["dropped"][0].id

    groups["dropped"][0].delete()
    assert _topics_of(kafka, dropped) == []
    assert _topics_of(kafka, kept) == sorted([groups["kept"][1], f"eu.{groups['kept'][1]}"])

    kafka.create_topics([NewTopic(f"us.{groups['dropped'][1]}", 1, 1)])  # a mirror that lagged
    url = f"{plane.api_url}/admin/v1/projects/{project}"
    with httpx.Client(headers={"authorization": f"Bearer {REGION_TOKEN}"}, timeout=120) as admin:
        answer = admin.delete(url, params={"copy": True})
        assert answer.status_code == 200, answer.text
        assert sorted(answer.json()["group_ids"]) == sorted([kept, dropped])
        assert admin.delete(url).json()["group_ids"] == answer.json()["group_ids"]  # kept by the tombstone
        residue = admin.get(f"{url}/residue").json()
    assert residue["empty"], residue
    assert _topics_of(kafka, kept) == [] and _topics_of(kafka, dropped) == []

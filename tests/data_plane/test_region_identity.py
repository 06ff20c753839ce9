"""A region says which it is, commits carry the routing epoch, topics get the cluster's
replication: checked from the outside (REST, the SDK, Kafka's admin client)."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
import pandas as pd
import sqlalchemy as sa
from kafka import KafkaAdminClient

from tests.data_plane.conftest import REGION_TOKEN
from tests.remote_stack import start_data_plane

EPOCH = 7


def test_health_names_the_region(plane, region_env):
    body = httpx.get(f"{plane.api_url}/health").json()
    assert body["region_id"] == region_env["GRANARY_REGION"]


def test_region_id_setting_wins_over_the_region_name(monkeypatch):
    from data_plane.settings import DataPlaneSettings

    required = dict(pg_url="x", kafka_bootstrap="x", s3_endpoint="x", s3_access_key="x", s3_secret_key="x")
    monkeypatch.setenv("GRANARY_REGION", "w9")
    assert DataPlaneSettings(**required).region_id == "w9"
    monkeypatch.setenv("GRANARY_REGION_ID", "eu-central-2")
    assert DataPlaneSettings(**required).region_id == "eu-central-2"
    monkeypatch.delenv("GRANARY_REGION")
    monkeypatch.delenv("GRANARY_REGION_ID")
    assert DataPlaneSettings(**required).region_id == "local"


def test_every_admin_answer_names_the_region(plane, region_env):
    region = region_env["GRANARY_REGION"]
    project = f"t_{uuid.uuid4().hex[:10]}"
    admin = httpx.Client(
        base_url=f"{plane.api_url}/admin/v1", headers={"authorization": f"Bearer {REGION_TOKEN}"}
    )
    with admin:
        answers = [
            admin.put(f"/projects/{project}"),
            admin.get(f"/projects/{project}/usage"),
            admin.get(f"/projects/{project}/residue"),
            admin.delete(f"/projects/{project}"),
        ]
    print(f"attempts={len(answers)} statuses={[a.status_code for a in answers]}")
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert [a.headers.get("granary-region-id") for a in answers] == [region] * 4
    assert [a.json()["region_id"] for a in answers] == [region] * 4


def _frame(keys: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "k": keys,
            "ts": pd.to_datetime([dt.datetime(2025, 1, 1)] * len(keys), utc=True),
            "v": [1.0] * len(keys),
        }
    )


def test_commits_carry_the_regions_epoch(plane):
    """The epoch the region homes the project under (given by the admin API), through an
    insert and a remove_rows."""
    project, key = plane.new_key()
    url = f"{plane.api_url}/admin/v1/projects/{project}/home"
    headers = {"authorization": f"Bearer {REGION_TOKEN}"}
    assert httpx.put(url, json={"epoch": EPOCH}, headers=headers).status_code == 404  # made on first use
    import granary

    fs = granary.login(host=plane.api_url, api_key=key).get_feature_store()
    fg = fs.get_or_create_feature_group(name="epochs", version=1, primary_key=["k"], event_time="ts")
    assert httpx.put(url, json={"epoch": EPOCH}, headers=headers).json()["epoch"] == EPOCH
    fg.insert(_frame([1, 2, 3]), wait=True)
    fg.remove_rows(_frame([1]))
    commits = fg.commit_details()
    assert sorted(c["operation"] for c in commits.values()) == ["delete", "upsert"]
    assert [c["epoch"] for c in commits.values()] == [EPOCH, EPOCH]


def test_embedded_commits_are_epoch_zero(tmp_path):
    import granary

    fs = granary.login(home=tmp_path / "home").get_feature_store()
    fg = fs.get_or_create_feature_group(name="epochs", version=1, primary_key=["k"], event_time="ts")
    fg.insert(_frame([1]))
    assert [c["epoch"] for c in fg.commit_details().values()] == [0]


def test_upgrade_gives_existing_commits_epoch_zero(tmp_path):
    """An embedded home made before commits had an epoch opens, its commits at epoch 0."""
    import granary
    from data_plane.metadata.db import MIGRATIONS
    from tenancy import migrate

    home = tmp_path / "home"
    home.mkdir()
    engine = sa.create_engine(f"sqlite:///{home / 'metadata.db'}")
    migrate.upgrade(engine, MIGRATIONS, revision="0003")
    with engine.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO projects (id, name, created_at, status) "
                "VALUES (1, 'default', '2026-01-01', 'active')"
            )
        )
        c.execute(
            sa.text(
                "INSERT INTO feature_groups (id, project_id, name, version, description, primary_key, "
                "partition_key, online_enabled, transformations, location, created_at) VALUES "
                "(1, 1, 'old', 1, '', '[\"k\"]', '[]', 0, '[]', 'default/old_1', '2026-01-01')"
            )
        )
        c.execute(
            sa.text(
                "INSERT INTO commits (feature_group_id, table_version, committed_at, operation, "
                "rows_inserted, rows_updated, rows_deleted) VALUES (1, 0, '2026-01-01', 'upsert', 2, 0, 0)"
            )
        )
    engine.dispose()

    fg = granary.login(home=home).get_feature_store().get_feature_group("old", 1)
    assert [c["epoch"] for c in fg.commit_details().values()] == [0]
    engine = sa.create_engine(f"sqlite:///{home / 'metadata.db'}")
    epoch = next(c for c in sa.inspect(engine).get_columns("commits") if c["name"] == "epoch")
    engine.dispose()
    assert epoch["nullable"] is False


def _kafka(bootstrap: str, topics: list[str]) -> tuple[int, list[int]]:
    """The cluster's broker count, and each topic's replication factor (Kafka's own view)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="test-replication")
    try:
        brokers = len(admin.describe_cluster()["brokers"])
        described = admin.describe_topics(topics) if topics else []
    finally:
        admin.close()
    return brokers, [len(d["partitions"][0]["replica_nodes"]) for d in described]


def test_topics_get_the_replication_the_cluster_allows(plane, region_env):
    fs = plane.login().get_feature_store()
    fg = fs.get_or_create_feature_group(name="replicated", version=1, primary_key=["k"], event_time="ts")
    topic = f"{plane.settings.namespace}.fg.{fg.id}"
    brokers, (replicas,) = _kafka(region_env["GRANARY_KAFKA_BOOTSTRAP"], [topic])
    print(f"brokers={brokers} replicas={replicas}")
    assert replicas == min(3, brokers)


def test_topic_replication_setting_reaches_kafka(region_env):
    """More copies than the cluster has brokers: Kafka's refusal comes back, named."""
    brokers, _ = _kafka(region_env["GRANARY_KAFKA_BOOTSTRAP"], [])
    wanted = brokers + 1
    other = start_data_plane(region_env, materializer=False, topic_replication_factor=wanted)
    try:
        project, key = other.new_key()
        created = httpx.post(
            f"{other.api_url}/api/v1/projects/{project}/feature-groups",
            headers={"authorization": f"Bearer {key}"},
            json={"name": "g", "version": 1, "primary_key": ["k"]},
        )
    finally:
        other.stop()
    print(f"attempts=1 refused={int(created.status_code == 503)}")
    assert created.status_code == 503, created.text
    assert "replication" in created.json()["message"].lower()

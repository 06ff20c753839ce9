"""Projects are provisioned into a real region and deleted from all four of its services.

The region (``ops/region up cpr``: PostgreSQL, Kafka, Redis, S3) gets a fresh
database, bucket and namespace per test; data-plane data is written the way the data
plane lays it out (see control_plane/regions.py), then the project is deleted over
the API and nothing of it may remain, while another tenant's project is untouched.
"""

from __future__ import annotations

import secrets
import time

import boto3
import psycopg
import pytest
import redis
from botocore.config import Config
from fastapi.testclient import TestClient
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from control_plane.api.app import create_app
from control_plane.handlers import scope_of
from control_plane.models import Project
from control_plane.regions import ServicesRegionClient
from control_plane.settings import RegionSettings
from data_plane.metadata.db import upgrade as upgrade_metadata
from data_plane.metadata.models import FeatureGroupRecord, ProjectRecord
from tenancy.db import upgrade as upgrade_tenancy
from tenancy.store import KeyStore
from tests.control_plane.conftest import ADMIN, bearer, make_tenant
from tests.control_plane.services import LaunchedRegion


@pytest.fixture(scope="session")
def cpr_env():
    region = LaunchedRegion()
    env = region.up()
    yield env
    region.down()


@pytest.fixture
def region_settings(cpr_env):
    tag = secrets.token_hex(4)
    pg = cpr_env["GRANARY_PG_URL"].rsplit("/", 1)[0]
    dbname = f"cpr_{tag}"
    admin = pg.replace("postgresql+psycopg://", "postgresql://") + "/granary"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {dbname}")
    url = f"{pg}/{dbname}"
    engine = create_engine(url)
    upgrade_metadata(engine)  # what the data plane does when it starts
    upgrade_tenancy(engine)
    engine.dispose()
    settings = RegionSettings(
        pg_url=url,
        redis_url=cpr_env["GRANARY_REDIS_URL"],
        kafka_bootstrap=cpr_env["GRANARY_KAFKA_BOOTSTRAP"],
        s3_endpoint=cpr_env["GRANARY_S3_ENDPOINT"],
        s3_bucket=f"cpr-{tag}",
        namespace=f"cpt{tag}",
    )
    s3(settings).create_bucket(Bucket=settings.s3_bucket)
    yield settings
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")


def s3(settings: RegionSettings):
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key.get_secret_value(),
        region_name=settings.s3_region,
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def fill_like_the_data_plane(settings: RegionSettings, project_id: str) -> None:
    """Feature groups, keys, topics, online rows and offline files of one project."""
    engine = create_engine(settings.pg_url)
    ns = settings.namespace
    with Session(engine) as session, session.begin():
        project = session.query(ProjectRecord).filter_by(name=project_id).one()  # provisioned
        groups = [
            FeatureGroupRecord(
                project_id=project.id, name=n, version=1, primary_key=["k"], location=f"{project_id}/{n}_v1"
            )
            for n in ("transactions", "profiles")
        ]
        session.add_all(groups)
        session.flush()
        group_ids = [g.id for g in groups]
    KeyStore(engine).create_key(project_id, "data plane key")
    engine.dispose()
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    topics = [f"{ns}.fg.{gid}" for gid in group_ids] + [f"{ns}.{project_id}.events"]
    admin.create_topics([NewTopic(t, num_partitions=1, replication_factor=1) for t in topics])
    admin.close()
    r = redis.Redis.from_url(settings.redis_url)
    r.mset({f"{ns}.{project_id}:transactions:1:{i}": b"row" for i in range(2500)})
    r.close()
    client = s3(settings)
    for key in (
        f"{ns}/offline/{project_id}/transactions_v1/part-0.parquet",
        f"{ns}/offline/{project_id}/transactions_v1/_delta_log/00000.json",
        f"{ns}/training_datasets/{project_id}/fraud_1/train.parquet",
    ):
        client.put_object(Bucket=settings.s3_bucket, Key=key, Body=b"data")


def wait_empty(client: ServicesRegionClient, scope, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        residue = client.residue(scope)
        if residue.empty() or time.monotonic() > deadline:
            return residue
        time.sleep(0.5)  # Kafka topic deletion propagates asynchronously


def test_deleting_a_project_leaves_nothing_in_the_region(cp_settings, region_settings):
    settings = cp_settings.model_copy(
        update={"regions": {"local": region_settings, "eu-1": RegionSettings()}}
    )
    with TestClient(create_app(settings)) as client:
        acme = bearer(make_tenant(client, "acme")["admin_key"]["api_key"])
        globex = bearer(make_tenant(client, "globex")["admin_key"]["api_key"])
        fraud = client.post("/v1/projects", json={"name": "fraud"}, headers=acme).json()
        other = client.post("/v1/projects", json={"name": "fraud"}, headers=globex).json()
        fill_like_the_data_plane(region_settings, fraud["id"])
        fill_like_the_data_plane(region_settings, other["id"])

        engine = create_engine(cp_settings.database_url)
        with Session(engine) as s:
            scopes = {p.id: scope_of(p) for p in s.query(Project)}
        engine.dispose()
        region = ServicesRegionClient("local", region_settings)
        before = region.residue(scopes[fraud["id"]])
        assert len(before.postgres) == 2 and len(before.kafka) == 3
        assert len(before.redis) == 100 and len(before.s3) == 3  # redis residue is capped at 100

        started = time.monotonic()
        assert client.delete("/v1/projects/fraud", headers=acme).status_code == 204
        print(f"\nproject delete across PostgreSQL, Kafka, Redis, S3: {time.monotonic() - started:.2f}s")
        residue = wait_empty(region, scopes[fraud["id"]])
        assert residue.empty(), residue
        untouched = region.residue(scopes[other["id"]])
        assert len(untouched.postgres) == 2 and len(untouched.kafka) == 3
        assert len(untouched.redis) == 100 and len(untouched.s3) == 3
        engine = create_engine(region_settings.pg_url)
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM feature_groups")).scalar_one() == 2  # globex's
        engine.dispose()

        # deleting the whole tenant cleans its projects too
        assert client.delete("/v1/admin/tenants/globex", headers=ADMIN).status_code == 204
        assert wait_empty(region, scopes[other["id"]]).empty()
        region.close()


def test_a_failing_region_leaves_the_project_deleting_and_a_retry_finishes(cp_settings, region_settings):
    broken = region_settings.model_copy(update={"kafka_bootstrap": "127.0.0.1:1", "timeout_seconds": 2.0})
    settings = cp_settings.model_copy(update={"regions": {"local": broken, "eu-1": RegionSettings()}})
    with TestClient(create_app(settings)) as client:
        acme = bearer(make_tenant(client, "acme")["admin_key"]["api_key"])
        client.post("/v1/projects", json={"name": "fraud"}, headers=acme)
        r = client.delete("/v1/projects/fraud", headers=acme)
        assert r.status_code == 503 and r.json()["code"] == "backend_unavailable", r.text
        assert client.get("/v1/projects/fraud", headers=acme).json()["status"] == "deleting"
    settings = cp_settings.model_copy(
        update={"regions": {"local": region_settings, "eu-1": RegionSettings()}}
    )
    with TestClient(create_app(settings)) as client:
        assert client.delete("/v1/projects/fraud", headers=acme).status_code == 204
        assert client.get("/v1/projects", headers=acme).json() == []

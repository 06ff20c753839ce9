"""A region's stores come from settings by type name, and its health check, usage and
project deletion ask the online store itself: a region on the SQLite online store is
measured and emptied like one on Redis, with no Redis in sight."""

from __future__ import annotations

import gc
import uuid
import weakref

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from data_plane.admin import ProjectAdmin
from data_plane.api.app import create_app
from data_plane.region import Region
from data_plane.settings import DataPlaneSettings
from granary_core import errors
from tests.online.conftest import closed_port
from tests.remote_stack import region_settings


def _settings(env: dict[str, str], **overrides: object) -> DataPlaneSettings:
    return region_settings(env, **{"redis_url": None, **overrides})


@pytest.fixture
def sqlite_region(region_env, tmp_path):
    settings = _settings(
        region_env, online_store="sqlite", online_store_config={"path": str(tmp_path / "o.db")}
    )
    region = Region(settings)
    yield region
    region.close()


def _insert(region: Region, project: str, keys: list[int]) -> None:
    ProjectAdmin(region).provision(project)
    engine = region.engine(project)
    engine.create_feature_group(name="g", version=1, primary_key=["k"], event_time="ts", online_enabled=True)
    frame = pd.DataFrame({"k": keys, "ts": pd.to_datetime(["2025-01-01"] * len(keys), utc=True)})
    import pyarrow as pa

    engine.insert("g", 1, pa.Table.from_pandas(frame, preserve_index=False))


def test_health_pings_the_configured_online_store_by_its_type(sqlite_region, region_env):
    with TestClient(create_app(sqlite_region.settings, sqlite_region)) as client:
        body = client.get("/health").json()
    assert body["dependencies"]["sqlite"]["status"] == "up", body
    assert "redis" not in body["dependencies"]

    down = _settings(region_env, redis_url=f"redis://127.0.0.1:{closed_port()}/0?socket_connect_timeout=0.5")
    region = Region(down)
    try:
        with TestClient(create_app(down, region)) as client:
            response = client.get("/health")
        print(f"status={response.status_code} redis={response.json()['dependencies']['redis']}")
        assert response.status_code == 503
        assert response.json()["dependencies"]["redis"]["status"] == "down"
        assert "ping failed" in response.json()["dependencies"]["redis"]["error"]
    finally:
        region.close()


def test_usage_and_deletion_ask_the_online_store_whatever_its_type(sqlite_region):
    admin = ProjectAdmin(sqlite_region)
    kept, deleted = f"p_{uuid.uuid4().hex[:8]}", f"p_{uuid.uuid4().hex[:8]}"
    _insert(sqlite_region, kept, [1, 2])
    _insert(sqlite_region, deleted, [1, 2, 3])
    assert admin.usage(deleted)["online_rows"] == 3
    assert len(admin.residue(deleted)["redis"]) == 3  # the residue's online entry
    admin.delete(deleted)
    assert admin.residue(deleted)["redis"] == []
    assert admin.usage(kept)["online_rows"] == 2
    print(f"kept={admin.usage(kept)} deleted_residue={admin.residue(deleted)}")


def test_the_engine_cache_keeps_the_most_recently_used_projects(region_env):
    region = Region(_settings(region_env, engine_cache_size=2))  # no online store: not needed here
    try:
        first = region.engine("a")
        evicted = weakref.ref(region.engine("b"))
        assert region.engine("a") is first  # a hit makes "a" the most recent
        region.engine("c")  # evicts "b", the least recently used
        assert region.cached_projects() == ["a", "c"]
        gc.collect()
        assert evicted() is None  # nothing keeps an evicted engine alive: memory is bounded
        in_use = region.engine("c")  # held, like an engine in the middle of a write
        region.engine("d")
        region.engine("e")  # evicts "c" while it is in use
        assert "c" not in region.cached_projects()
        assert region.engine("c") is in_use  # taken back: never two engines of one project
        print(f"cached={region.cached_projects()} limit={region.settings.engine_cache_size}")
    finally:
        region.close()


def test_one_online_store_connection_pool_serves_every_project(data_plane):
    """Every project's engine shares the region's Redis connections."""
    region = data_plane.region
    a, b = region.engine(f"p_{uuid.uuid4().hex[:8]}"), region.engine(f"p_{uuid.uuid4().hex[:8]}")
    assert (
        a.online.client.connection_pool
        is b.online.client.connection_pool
        is region.online.client.connection_pool
    )
    assert httpx.get(f"{data_plane.api_url}/health").json()["dependencies"]["redis"]["status"] == "up"


def test_a_region_refuses_an_unknown_store_type_naming_the_known_ones(region_env):
    attempts = [
        ({"offline_store": "parquet"}, "offline store type 'parquet' is unknown; known types: delta"),
        ({"offline_store_config": {"snapshots": 5}}, "offline store 'delta': unknown option 'snapshots'"),
        ({"online_store": "memcached"}, "type 'memcached' is unknown; known types: redis, sqlite"),
        ({"online_store": "sqlite"}, "online store 'sqlite': path: Field required"),
    ]
    for overrides, message in attempts:
        with pytest.raises(errors.InvalidInput) as caught:
            Region(_settings(region_env, **overrides))
        assert message in str(caught.value)
    print(f"attempts={len(attempts)} refused={len(attempts)}")

"""Fixtures for the online store and serving tests: SQLite and a real Redis.

Redis is the test region's (``$GRANARY_TEST_REGION``, default ``test``: port 27079), or
the one at ``$GRANARY_TEST_REDIS_PORT``. The session fixture starts it when nothing answers and
stops it at the end only if it started it. If it cannot be started, every Redis test
fails with the reason: a missing service is never a skip.

Tests share that Redis with other runs, so each test gets its own project name (keys
are prefixed by project) and nobody flushes a database.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from pathlib import Path

import pytest
import redis

import granary
from tests.remote_stack import region_ports, test_region

REPO = Path(__file__).resolve().parents[2]


def _test_region_redis_port() -> int:
    """``$GRANARY_TEST_REDIS_PORT``, else the Redis port of the test region (``ops/region ports``)."""
    if "GRANARY_TEST_REDIS_PORT" in os.environ:
        return int(os.environ["GRANARY_TEST_REDIS_PORT"])
    return region_ports(test_region())["redis"]


REDIS_PORT = _test_region_redis_port()
REDIS_DB = 9
STORES = ["sqlite", "redis"]


def _answers(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_url():
    started = False
    if not _answers(REDIS_PORT):
        script = [str(REPO / "ops" / "redis.sh"), "start", test_region(), str(REDIS_PORT)]
        try:
            done = subprocess.run(["bash", *script], capture_output=True, text=True, timeout=600)
            reason = done.stderr[-2000:] or done.stdout[-2000:]
        except (OSError, subprocess.TimeoutExpired) as exc:
            reason = str(exc)
        if not _answers(REDIS_PORT):
            pytest.fail(f"Redis could not be started on 127.0.0.1:{REDIS_PORT} by ops/redis.sh: {reason}")
        started = True
    yield f"redis://127.0.0.1:{REDIS_PORT}/{REDIS_DB}"
    if started:
        subprocess.run(
            ["bash", str(REPO / "ops" / "redis.sh"), "stop", test_region(), str(REDIS_PORT)], check=False
        )


@pytest.fixture(params=STORES)
def store_url(request):
    """None for the embedded SQLite online store, else the test Redis URL."""
    return None if request.param == "sqlite" else request.getfixturevalue("redis_url")


def closed_port() -> int:
    """A local port nothing listens on (bound, then released), for unreachable servers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique_project() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def oproject(tmp_path, store_url):
    name = unique_project()
    yield granary.login(home=tmp_path / "home", project=name, online_store=store_url)
    if store_url is not None:
        forget_project(store_url, name)


def forget_project(url: str, project: str) -> None:
    """Delete a test project's keys: the shared Redis has a memory cap and no eviction."""
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"{project}:*", count=1000):
        client.unlink(key)


@pytest.fixture
def ofs(oproject):
    return oproject.get_feature_store()


@pytest.fixture
def online_store(oproject):
    """The project's online store object (SQLiteOnlineStore or RedisOnlineStore)."""
    return oproject.backend.engine.online

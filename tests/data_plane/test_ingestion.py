"""Remote ingestion through Kafka: acknowledged writes, waiting, and crashes.

The crash test runs the materializer as a real process and SIGKILLs it right after
its Delta commit and before the commit record (tests/faults/paused_materializer.py
pauses there), then again on the replay, and checks that the group ends with exactly the acknowledged
rows: none lost, none applied twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from data_plane.metadata.models import IngestCheckpointRecord
from tests.data_plane.conftest import Tenant, arrow_body, rows, ticket
from tests.remote_stack import REPO, start_data_plane


def test_wait_false_acknowledges_then_becomes_visible(group):
    url = group.path("feature-groups/g/versions/1/rows")
    accepted = group.http.post(url, params={"wait": "false"}, **arrow_body(rows(4, start=10)))
    assert accepted.status_code == 202, accepted.text
    assert {"topic", "offset"} <= set(accepted.json())
    read = ticket(group.project, "read", name="g", version=1)
    deadline = time.monotonic() + 30
    while group.flight.do_get(read, group.options).read_all().num_rows != 7:
        assert time.monotonic() < deadline, "an acknowledged insert never became visible"
        time.sleep(0.05)


def test_wait_true_is_visible_offline_and_online_on_return(data_plane):
    fs = data_plane.login().get_feature_store()
    fg = fs.create_feature_group("g", version=1, primary_key=["k"], event_time="ts", online_enabled=True)
    for i in range(3):
        commit = fg.insert(rows(5, start=5 * i).to_pandas())
        assert commit.rows_inserted == 5
        assert len(fg.read()) == 5 * (i + 1)
        assert len(fg.read(online=True)) == 5 * (i + 1)


def test_schema_is_checked_before_the_ack_even_without_waiting(group):
    url = group.path("feature-groups/g/versions/1/rows")
    grown = rows(2, start=50).append_column("extra", [["a", "b"]])
    assert group.http.post(url, params={"wait": "false"}, **arrow_body(grown)).status_code == 202
    clash = rows(2, start=60).append_column("extra", [[1, 2]])
    response = group.http.post(url, params={"wait": "false"}, **arrow_body(clash))
    assert response.status_code == 400
    assert "column 'extra' is int64, expected string" in response.json()["message"]


# ---- crash test ------------------------------------------------------------------------
def _materializer(plane, pause: float, log_path) -> subprocess.Popen:
    env = {
        **os.environ,
        "GRANARY_PG_URL": plane.settings.pg_url,
        "GRANARY_REDIS_URL": plane.settings.redis_url,
        "GRANARY_KAFKA_BOOTSTRAP": plane.settings.kafka_bootstrap,
        "GRANARY_S3_ENDPOINT": plane.settings.s3_endpoint,
        "GRANARY_S3_ACCESS_KEY": plane.settings.s3_access_key,
        "GRANARY_S3_SECRET_KEY": plane.settings.s3_secret_key,
        "GRANARY_NAMESPACE": plane.settings.namespace,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults.paused_materializer", str(pause)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log_path, "w"),
    )


def _wait_for_log(path, text: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        assert process.poll() is None, f"materializer exited early:\n{path.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"no '{text}' in the log:\n{path.read_text()[-2000:]}"
        time.sleep(0.05)


def _checkpoints(plane, topic: str) -> tuple[int, int]:
    """The materializer's next offsets (offline, online) of the topic's one partition."""
    with plane.region.session() as session:
        record = session.get(IngestCheckpointRecord, (topic, 0))
        return (record.next_offset, record.online_next_offset) if record else (0, 0)


@pytest.fixture
def isolated_plane(region_env):
    """REST + Flight in a namespace of their own, with no materializer: the test runs it."""
    plane = start_data_plane(region_env, materializer=False)
    yield plane
    plane.stop()


@pytest.mark.slow
def test_sigkilled_materializer_ends_with_exactly_the_acknowledged_rows(isolated_plane, tmp_path):
    project, key = isolated_plane.new_key()
    tenant = Tenant(isolated_plane, project, key)
    body = {"name": "g", "version": 1, "primary_key": ["k"], "event_time": "ts", "online_enabled": True}
    assert tenant.http.post(tenant.path("feature-groups"), json=body).status_code == 201
    url = tenant.path("feature-groups/g/versions/1/rows")
    acknowledged = 0
    for i in range(20):  # acknowledged by Kafka, none materialized yet
        response = tenant.http.post(url, params={"wait": "false"}, **arrow_body(rows(50, start=50 * i)))
        assert response.status_code == 202
        acknowledged += 50

    # 1st run: killed after the Delta commit, before the commit record
    log1 = tmp_path / "m1.log"
    first = _materializer(isolated_plane, 120, log1)
    _wait_for_log(log1, "paused after offline write", first)
    first.kill()
    first.wait(10)
    assert tenant.http.get(tenant.path("feature-groups/g/versions/1/commits")).json() == []

    # 2nd run: replays (after rolling the table back) and is killed at the same point again
    log2 = tmp_path / "m2.log"
    second = _materializer(isolated_plane, 120, log2)
    _wait_for_log(log2, "paused after offline write", second)
    second.kill()
    second.wait(10)

    # more acknowledged writes while nothing runs
    for i in range(20, 25):
        response = tenant.http.post(url, params={"wait": "false"}, **arrow_body(rows(50, start=50 * i)))
        assert response.status_code == 202
        acknowledged += 50
    last = response.json()  # the topic (one partition) and offset of the last acknowledged write

    log3 = tmp_path / "m3.log"
    third = _materializer(isolated_plane, 0, log3)
    try:
        # done when the materializer's own checkpoints, offline and online, have passed the
        # last acknowledged record: whatever it applied twice is applied by then
        deadline = time.monotonic() + 90
        while min(_checkpoints(isolated_plane, last["topic"])) <= last["offset"]:
            assert third.poll() is None, log3.read_text()[-2000:]
            assert time.monotonic() < deadline, f"offset {last['offset']} not materialized after 90 s"
            time.sleep(0.1)
        read = ticket(project, "read", name="g", version=1)
        table = tenant.flight.do_get(read, tenant.options).read_all()
        keys = table["k"].to_pylist()
        assert sorted(keys) == list(range(acknowledged)), "rows lost or doubled offline"
        commits = tenant.http.get(tenant.path("feature-groups/g/versions/1/commits")).json()
        assert sum(c["rows_inserted"] for c in commits) == acknowledged
        assert sum(c["rows_updated"] for c in commits) == 0, "a batch was applied twice"
        online = ticket(project, "read_online", name="g", version=1)
        online_rows = tenant.flight.do_get(online, tenant.options).read_all()
        assert sorted(online_rows["k"].to_pylist()) == list(range(acknowledged))
    finally:
        third.kill()
        third.wait(10)
        tenant.close()

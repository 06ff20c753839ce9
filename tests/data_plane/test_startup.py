"""The data plane's services start in any order, also all at the same moment.

Each attempt is a fresh region as far as the services can tell (a new PostgreSQL
database, S3 bucket and namespace on the test region's servers): the REST API, the
Flight server and the materializer are started as three processes at once, and all
three must come up: the API answers ``/health``, Flight answers its ``health`` action,
the materializer serves its metrics and is still running.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pyarrow.flight as flight
import pytest
from sqlalchemy import create_engine, make_url, text

from tests.remote_stack import REPO, free_port

ATTEMPTS = 5
UP_WITHIN_S = 90


def _fresh_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    """A new, empty database on the region's server: its URL and how to drop it."""
    name = f"fresh_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop


def _drop_bucket(env: dict[str, str]) -> None:
    """Remove the attempt's bucket (the services write nothing into it)."""
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=env["GRANARY_S3_ENDPOINT"],
        aws_access_key_id=env["GRANARY_S3_ACCESS_KEY"],
        aws_secret_access_key=env["GRANARY_S3_SECRET_KEY"],
        region_name=env.get("GRANARY_S3_REGION", "us-east-1"),
    )
    with contextlib.suppress(s3.exceptions.NoSuchBucket):
        s3.delete_bucket(Bucket=env["GRANARY_S3_BUCKET"])


#: Runs ``python -m data_plane SERVICE`` once the test says go: the slow imports (whose
#: time varies by seconds on a busy machine) are done first, so the services really
#: start their work at the same moment.
STARTER = """
import sys
import data_plane.__main__ as entry
import data_plane.api.app, data_plane.flight.server, data_plane.ingest.materializer, data_plane.region
print("ready", flush=True)
sys.stdin.readline()
raise SystemExit(entry.main(sys.argv[1:]))
"""


def _start(service: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", STARTER, service],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )


def _release(processes: dict[str, subprocess.Popen]) -> None:
    """Wait until every process has imported everything, then let them all go at once."""
    for process in processes.values():
        assert process.stdout.readline().strip() == "ready"
    for process in processes.values():
        process.stdin.write("go\n")
        process.stdin.flush()


def _up(service: str, env: dict[str, str]) -> bool:
    """Whether ``service`` answers (its process is checked for life separately)."""
    try:
        if service == "api":
            url = f"http://127.0.0.1:{env['GRANARY_API_PORT']}/health"
            return httpx.get(url, timeout=5).status_code == 200
        if service == "flight":
            health = flight.Action("health", b"")
            options = flight.FlightCallOptions(headers=[(b"authorization", b"Bearer probe")], timeout=5)
            with flight.FlightClient(f"grpc://127.0.0.1:{env['GRANARY_FLIGHT_PORT']}") as client:
                return [r.body.to_pybytes() for r in client.do_action(health, options)] == [b"ok"]
        url = f"http://127.0.0.1:{env['GRANARY_MATERIALIZER_METRICS_PORT']}/metrics"
        return httpx.get(url, timeout=5).status_code == 200
    except (httpx.HTTPError, flight.FlightError, OSError):
        return False


@pytest.mark.slow
def test_api_flight_and_materializer_started_at_once_on_a_fresh_region_all_come_up(region_env, tmp_path):
    services = ("api", "flight", "materializer")
    failures: list[str] = []
    for attempt in range(ATTEMPTS):
        pg_url, drop_database = _fresh_database(region_env["GRANARY_PG_URL"])
        tag = uuid.uuid4().hex[:8]
        env = {
            **os.environ,
            **region_env,
            "GRANARY_PG_URL": pg_url,
            "GRANARY_S3_BUCKET": f"fresh-{tag}",
            "GRANARY_NAMESPACE": f"f{tag}",
            "GRANARY_API_PORT": str(free_port()),
            "GRANARY_FLIGHT_PORT": str(free_port()),
            "GRANARY_MATERIALIZER_METRICS_PORT": str(free_port()),
        }
        env.pop("GRANARY_CONTROL_PLANE_URL", None)
        logs = {s: tmp_path / f"{attempt}-{s}.log" for s in services}
        processes = {s: _start(s, env, logs[s]) for s in services}
        try:
            _release(processes)
            waiting = set(services)
            deadline = time.monotonic() + UP_WITHIN_S
            while waiting and time.monotonic() < deadline:
                for service in sorted(waiting):
                    if processes[service].poll() is not None or _up(service, env):
                        waiting.discard(service)
                time.sleep(0.2)
            failures += [f"attempt {attempt}: {s} not up after {UP_WITHIN_S} s" for s in sorted(waiting)]
            for service, process in processes.items():
                if process.poll() is not None:
                    tail = logs[service].read_text()[-1500:]
                    failures.append(f"attempt {attempt}: {service} exited {process.returncode}:\n{tail}")
        finally:
            for process in processes.values():
                process.terminate()
            for process in processes.values():
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
            drop_database()
            _drop_bucket(env)
    print(f"attempts={ATTEMPTS} services={len(services)} failed={len(failures)}")
    assert not failures, "\n\n".join(failures)

"""Several control plane processes started at once on an empty database all come up.

Each process migrates the database before serving; without a lock two of them both
created Alembic's version table and one died with ``UniqueViolation``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time

import httpx
import pytest

from tests.control_plane.conftest import ADMIN_TOKEN, REGION_TOKEN, _admin_sql
from tests.remote_stack import REPO, free_port

ATTEMPTS = 3
PROCESSES = 3
UP_WITHIN_S = 90


def _serving(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
def test_control_plane_processes_started_at_once_on_an_empty_database_all_come_up(
    cp_postgres, cp_redis, tmp_path
):
    failures: list[str] = []
    for attempt in range(ATTEMPTS):
        database = f"cp_fresh_{secrets.token_hex(5)}"
        _admin_sql(f"CREATE DATABASE {database}")
        ports = [free_port() for _ in range(PROCESSES)]
        logs = [tmp_path / f"{attempt}-{i}.log" for i in range(PROCESSES)]
        env = {
            **os.environ,
            "GRANARY_CP_DATABASE_URL": f"{cp_postgres}/{database}",
            "GRANARY_CP_REDIS_URL": cp_redis,
            "GRANARY_CP_REDIS_PREFIX": f"cpstart:{database}",
            "GRANARY_CP_ADMIN_TOKEN": ADMIN_TOKEN,
            "GRANARY_CP_REGION_TOKEN": REGION_TOKEN,
        }
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "control_plane"],
                cwd=REPO,
                env={**env, "GRANARY_CP_API_PORT": str(port)},
                stdout=subprocess.DEVNULL,
                stderr=log.open("w"),
            )
            for port, log in zip(ports, logs, strict=True)
        ]
        try:
            waiting = set(range(PROCESSES))
            deadline = time.monotonic() + UP_WITHIN_S
            while waiting and time.monotonic() < deadline:
                for i in sorted(waiting):
                    if processes[i].poll() is not None or _serving(ports[i]):
                        waiting.discard(i)
                time.sleep(0.2)
            failures += [f"attempt {attempt}: process {i} not up after {UP_WITHIN_S} s" for i in waiting]
            for i, process in enumerate(processes):
                if process.poll() is not None:
                    failures.append(f"attempt {attempt}: process {i} exited:\n{logs[i].read_text()[-1500:]}")
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
            _admin_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    print(f"attempts={ATTEMPTS} processes={PROCESSES} failed={len(failures)}")
    assert not failures, "\n\n".join(failures)

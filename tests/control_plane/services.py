"""Start the real services the control plane tests need, through the ops/ launchers.

Each launcher is idempotent (``start`` on a running service just reports it). A
service this session started is stopped at the end; one already running (``make
test`` started it, or a developer did) is left alone. A service that cannot start
fails the tests with the launcher's output: never a skip.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OPS = REPO / "ops"

#: Port plan of the control plane's test services (region stacks use 5xxxx).
CP_PG_PORT = int(os.environ.get("GRANARY_CP_TEST_PG_PORT", "27532"))
CP_REDIS_PORT = int(os.environ.get("GRANARY_CP_TEST_REDIS_PORT", "27579"))


class Launched:
    def __init__(self, script: str, name: str, port: int, env: dict[str, str] | None = None) -> None:
        self.script, self.name, self.port = script, name, port
        self.env = {**os.environ, **(env or {})}
        self.started_here = False

    def _run(self, action: str, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(OPS / self.script), action, self.name, str(self.port)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            cwd=REPO,
        )

    def start(self, timeout: float = 600) -> Launched:
        if self._run("status", 60).returncode == 0:
            return self
        result = self._run("start", timeout)
        if result.returncode != 0:
            pytest.fail(
                f"ops/{self.script} start {self.name} {self.port} failed (exit {result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}",
                pytrace=False,
            )
        self.started_here = True
        return self

    def stop(self) -> None:
        if self.started_here:
            self._run("stop", 120)


#: The region the control plane provisions into in tests (ops/regions.conf: cpr 27600);
#: another name lets two checkouts run their suites side by side.
CPR = os.environ.get("GRANARY_CP_TEST_REGION", "cpr")
#: The name of the control plane's own PostgreSQL and Redis (their directory under
#: .regions/): ``cp``, or one of that other region's, so side-by-side runs do not share it.
CP_NAME = "cp" if CPR == "cpr" else f"{CPR}-cp"


class LaunchedRegion:
    """``ops/region up cpr``: PostgreSQL, Redis, Kafka and S3 of one region."""

    def __init__(self, name: str = CPR) -> None:
        self.name = name
        self.started_here = False

    def _run(self, action: str, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(OPS / "region"), action, self.name],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
        )

    def up(self) -> dict[str, str]:
        env_file = REPO / ".regions" / self.name / "env"
        was_up = env_file.exists() and "down" not in self._run("status", 120).stdout
        result = self._run("up", 900)
        if result.returncode != 0:
            pytest.fail(
                f"ops/region up {self.name} failed (exit {result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}",
                pytrace=False,
            )
        self.started_here = not was_up
        env = {}
        for line in env_file.read_text().splitlines():
            if line.startswith("export "):
                k, _, v = line.removeprefix("export ").partition("=")
                env[k] = v
        return env

    def down(self) -> None:
        if self.started_here:
            self._run("down", 300)

"""Shared plumbing of the data plane benchmarks: a region and its services, for real.

The region comes from ``ops/region up NAME`` (default ``dpbench``, its own ports and
data) and the three services run as separate processes (``python -m data_plane api``,
``flight``, ``materializer``), as they would in a deployment, each on a loopback port.
Everything started here is stopped on exit; the region is taken down only if this
run brought it up.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
PY = REPO / ".venv" / "bin" / "python"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env_file(name: str) -> Path:
    return REPO / ".regions" / name / "env"


def read_env(name: str) -> dict[str, str]:
    values = {}
    for line in _env_file(name).read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            values[key] = value
    return values


@contextlib.contextmanager
def region(name: str) -> Iterator[dict[str, str]]:
    was_up = _env_file(name).exists()
    subprocess.run(["bash", str(REPO / "ops" / "region"), "up", name], check=True, stdout=subprocess.DEVNULL)
    try:
        yield read_env(name)
    finally:
        if not was_up:
            subprocess.run(["bash", str(REPO / "ops" / "region"), "down", name], stdout=subprocess.DEVNULL)


@dataclass
class Services:
    env: dict[str, str]
    api_url: str
    flight_uri: str
    processes: list[subprocess.Popen]

    def new_key(self, project: str | None = None) -> tuple[str, str]:
        project = project or f"bench_{uuid.uuid4().hex[:8]}"
        out = subprocess.run(
            [str(PY), "-m", "data_plane", "create-key", project],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        return project, out.stdout.strip().splitlines()[-1]

    def rss_mib(self) -> dict[str, float]:
        out = {}
        for name, proc in zip(("api", "flight", "materializer"), self.processes, strict=False):
            with contextlib.suppress(OSError), open(f"/proc/{proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        out[name] = int(line.split()[1]) / 1024
        return out


@contextlib.contextmanager
def services(region_env: dict[str, str], logs: Path, namespace: str | None = None) -> Iterator[Services]:
    api_port, flight_port = free_port(), free_port()
    env = {
        **os.environ,
        **region_env,
        "GRANARY_NAMESPACE": namespace or f"b{uuid.uuid4().hex[:8]}",
        "GRANARY_API_PORT": str(api_port),
        "GRANARY_FLIGHT_PORT": str(flight_port),
        "GRANARY_LOG_LEVEL": "WARNING",
    }
    logs.mkdir(parents=True, exist_ok=True)
    processes = []
    for service in ("api", "flight", "materializer"):
        processes.append(
            subprocess.Popen(
                [str(PY), "-m", "data_plane", service],
                env=env,
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=open(logs / f"{service}.log", "w"),  # noqa: SIM115
            )
        )
    api_url = f"http://127.0.0.1:{api_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError(f"data plane services did not start; see {logs}")
            time.sleep(0.2)
        yield Services(env, api_url, f"grpc://127.0.0.1:{flight_port}", processes)
    finally:
        for proc in processes:
            proc.terminate()
        for proc in processes:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def percentiles(samples_s: list[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds."""
    import numpy as np

    values = np.array(samples_s) * 1000
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 3),
        "p95_ms": round(float(np.percentile(values, 95)), 3),
        "p99_ms": round(float(np.percentile(values, 99)), 3),
        "max_ms": round(float(values.max()), 3),
        "n": len(values),
    }


if __name__ == "__main__":  # smoke: bring everything up and down
    with region(sys.argv[1] if len(sys.argv) > 1 else "dpbench") as env, services(env, Path("/tmp/dp")) as s:
        print(s.api_url, s.flight_uri, s.new_key())

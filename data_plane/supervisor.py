"""The region's supervisor of deployment processes: start, watch, restart, stop.

Each started deployment is one child process (:mod:`data_plane.predictor_host`) on a
loopback port. A watcher thread polls them: a ``STARTING`` process becomes ``RUNNING``
once its ``/health`` answers; a process that exits while it should run is ``FAILED``
and started again after a backoff that doubles with each consecutive crash
(``backoff_base`` seconds, at most ``backoff_max``), reset once a process stayed up for
``healthy_after`` seconds. Output of every run is appended to the deployment's log
file, which ``logs`` reads back. ``clock`` is injectable (seconds, monotonic).
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from data_plane.deployments import FAILED, RUNNING, STARTING, STOPPED

Key = tuple[str, str]  # (project, deployment name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(eq=False)
class Child:
    """One supervised deployment and its current process."""

    command: Callable[[int], list[str]]  # the command line for a port
    env: dict[str, str]
    log_path: Path
    on_stop: Callable[[], None]
    port: int = 0
    process: subprocess.Popen | None = None
    state: str = STARTING
    restarts: int = 0
    failures: int = 0  # consecutive crashes, for the backoff
    started_at: float = 0.0
    restart_at: float | None = None


class ProcessSupervisor:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        healthy_after: float = 10.0,
        start_timeout: float = 120.0,
        poll_seconds: float = 0.1,
    ) -> None:
        self._clock = clock
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.healthy_after, self.start_timeout = healthy_after, start_timeout
        self._poll = poll_seconds
        self._children: dict[Key, Child] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._http = httpx.Client(timeout=0.5)

    # commands -------------------------------------------------------------------------
    def start(
        self,
        key: Key,
        command: Callable[[int], list[str]],
        env: dict[str, str],
        log_path: Path,
        on_stop: Callable[[], None],
    ) -> None:
        """Run ``command(port)`` under supervision (nothing if ``key`` is running already)."""
        with self._lock:
            if key in self._children:
                on_stop()
                return
            child = Child(command, env, log_path, on_stop)
            self._spawn(child)
            self._children[key] = child
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="deployments", daemon=True)
                self._thread.start()

    def stop(self, key: Key) -> None:
        with self._lock:
            child = self._children.pop(key, None)
        if child is not None:
            self._terminate(child)
            child.on_stop()

    def stop_project(self, project: str) -> None:
        """Stop every deployment of ``project`` (it is being deleted)."""
        for key in [k for k in list(self._children) if k[0] == project]:
            self.stop(key)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is supervised here (running, starting or waiting to restart)."""
        with self._lock:
            return key in self._children

    def state(self, key: Key) -> tuple[str, int]:
        """(live state, restarts after crashes); ``STOPPED`` when not supervised here."""
        with self._lock:
            child = self._children.get(key)
            return (STOPPED, 0) if child is None else (child.state, child.restarts)

    def endpoint(self, key: Key) -> str | None:
        """The process's base URL while it is ``RUNNING``, else None."""
        with self._lock:
            child = self._children.get(key)
            if child is None or child.state != RUNNING:
                return None
            return f"http://127.0.0.1:{child.port}"

    def logs(self, key: Key, tail: int) -> str:
        with self._lock:
            child = self._children.get(key)
        if child is None or not child.log_path.exists():
            return ""
        return "\n".join(child.log_path.read_text(errors="replace").splitlines()[-tail:])

    def close(self) -> None:
        self._stop.set()
        for key in list(self._children):
            self.stop(key)
        if self._thread is not None:
            self._thread.join(5)
        self._http.close()

    # processes ------------------------------------------------------------------------
    def _spawn(self, child: Child) -> None:
        child.port = _free_port()
        child.log_path.parent.mkdir(parents=True, exist_ok=True)
        with child.log_path.open("ab") as log:
            child.process = subprocess.Popen(
                child.command(child.port), env=child.env, stdout=log, stderr=subprocess.STDOUT
            )
        child.state, child.started_at, child.restart_at = STARTING, self._clock(), None

    def _terminate(self, child: Child) -> None:
        process = child.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def _healthy(self, child: Child) -> bool:
        try:
            return self._http.get(f"http://127.0.0.1:{child.port}/health").status_code == 200
        except httpx.HTTPError:
            return False

    def _crashed(self, child: Child, now: float) -> None:
        if child.state == RUNNING and now - child.started_at >= self.healthy_after:
            child.failures = 0
        child.failures += 1
        child.state = FAILED
        child.restart_at = now + min(self.backoff_max, self.backoff_base * 2 ** (child.failures - 1))

    def _check(self, child: Child) -> None:
        now = self._clock()
        if child.state == FAILED:
            if child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self._spawn(child)
            return
        assert child.process is not None
        if child.process.poll() is not None:
            self._crashed(child, now)
        elif child.state == STARTING:
            if self._healthy(child):
                child.state = RUNNING
            elif now - child.started_at > self.start_timeout:
                self._terminate(child)
                self._crashed(child, now)

    def _watch(self) -> None:
        while not self._stop.wait(self._poll):
            with self._lock:
                children = list(self._children.values())
            for child in children:
                with self._lock:
                    if any(c is child for c in self._children.values()):
                        self._check(child)

"""The supervisor's backoff on a predictor that keeps crashing, on an injected clock:
each restart waits twice as long as the one before, up to ``backoff_max``."""

from __future__ import annotations

import sys
import time

from data_plane.supervisor import ProcessSupervisor

KEY = ("project", "crashing")


class Clock:
    """Seconds that pass only when the test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _eventually(supervisor: ProcessSupervisor, expected: tuple[str, int], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while supervisor.state(KEY) != expected:
        assert time.monotonic() < deadline, supervisor.state(KEY)
        time.sleep(0.01)


def test_a_crashing_predictor_is_restarted_after_a_doubling_backoff(tmp_path):
    clock = Clock()
    supervisor = ProcessSupervisor(clock=clock, backoff_base=0.5, backoff_max=3.0, poll_seconds=0.01)
    stopped = []
    command = [sys.executable, "-c", "raise SystemExit(3)"]
    try:
        supervisor.start(KEY, lambda port: command, {}, tmp_path / "log.txt", lambda: stopped.append(1))
        _eventually(supervisor, ("FAILED", 0))
        waits = []
        for restarts in range(1, 5):
            crashed_at = clock.now
            wait = 0.5 * 2 ** (restarts - 1)
            clock.now = crashed_at + min(wait, 3.0) - 0.01
            time.sleep(0.2)  # twenty polls: none may restart it before its time
            assert supervisor.state(KEY) == ("FAILED", restarts - 1)
            clock.now = crashed_at + min(wait, 3.0)
            _eventually(supervisor, ("FAILED", restarts))  # started again, crashed again
            waits.append(clock.now - crashed_at)
        print(f"restart waits (s): {waits}")
        assert waits == [0.5, 1.0, 2.0, 3.0]
    finally:
        supervisor.close()
    assert stopped == [1]

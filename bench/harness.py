"""Shared plumbing for the benchmark drivers: subprocess workers, RSS, tables.

Standard library only, because it is imported both by the drivers (project venv)
and by workers running in the separate Feast venv (.bench-venv).

Each system under test runs in its own worker process so that its peak RSS is its
own and one system's allocator state, caches or threads cannot help or hurt the
next one. A worker is this same script re-invoked as ``--worker NAME``; it writes
its findings as JSON to a file the driver names.

Peak RSS comes from the worker's own VmHWM, not from ``ru_maxrss`` of wait4 or
RUSAGE_CHILDREN: Linux carries the parent's high-water mark into the child across
fork+exec, so a driver holding 400 MiB would make every worker look >= 400 MiB.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import gc
import json
import os
import platform
import re
import select
import signal
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
PROJECT_PY = REPO / ".venv" / "bin" / "python"
FEAST_PY = REPO / ".bench-venv" / "bin" / "python"

STATUS_OK = "ok"
STATUS_UNAVAILABLE = "not available"
STATUS_ERROR = "error"


# --------------------------------------------------------------------------- RSS


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM) since start or the last reset."""
    with open("/proc/self/status") as f:
        match = re.search(r"^VmHWM:\s+(\d+)\s+kB", f.read(), re.MULTILINE)
    return int(match.group(1)) / 1024 if match else float("nan")


def current_rss_mib() -> float:
    """This process's resident set (VmRSS) now."""
    with open("/proc/self/status") as f:
        match = re.search(r"^VmRSS:\s+(\d+)\s+kB", f.read(), re.MULTILINE)
    return int(match.group(1)) / 1024 if match else float("nan")


_peak_before_reset_mib = 0.0  # highest VmHWM seen before any reset_peak_rss()


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS so setup (ingest, apply) is not counted.

    Writing 5 to /proc/self/clear_refs does this on Linux >= 4.0; returns False if
    the kernel refuses, in which case the peak covers the whole process. The peak
    so far is remembered for ``lifetime_peak_rss_mib``.
    """
    global _peak_before_reset_mib
    _peak_before_reset_mib = max(_peak_before_reset_mib, peak_rss_mib())
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def lifetime_peak_rss_mib() -> float:
    """Peak RSS of the whole process (setup included), despite any resets."""
    return max(_peak_before_reset_mib, peak_rss_mib())


# ----------------------------------------------------------------------- workers


class Unavailable(Exception):
    """Raised by a system whose API is not (yet) there; reported as not available."""


@dataclass
class WorkerRun:
    """What the driver learns about one worker process."""

    name: str
    status: str
    data: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    process_peak_rss_mib: float = float("nan")
    wall_s: float = 0.0
    # 1-minute load average before/after: the machine may be shared, and a busy
    # neighbour explains an outlier better than the system under test does.
    loadavg: tuple[float, float] = (float("nan"), float("nan"))


def _spawn(cmd: list[str], **popen: Any) -> subprocess.Popen:
    """Start a worker in its own session (so a timeout can kill its whole group).

    The source tree goes on the path so an uninstalled checkout of granary is
    importable, the way the tests see it.
    """
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": pythonpath}
    return subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True, **popen)


def _read_report(
    name: str, out_path: Path, returncode: int | None, why: str, wall: float, load: tuple[float, float]
) -> WorkerRun:
    """WorkerRun from the JSON report a worker wrote (or an error if it wrote none)."""
    if not out_path.exists():
        why = why or f"worker exited {returncode} without a report"
        return WorkerRun(name, STATUS_ERROR, error=why, wall_s=wall, loadavg=load)
    report = json.loads(out_path.read_text())
    return WorkerRun(
        name,
        report.pop("status"),
        data=report,
        error=report.pop("error", ""),
        process_peak_rss_mib=report.pop("process_peak_rss_mib", float("nan")),
        wall_s=wall,
        loadavg=load,
    )


def _kill_group(pid: int) -> None:
    """Kill the worker's own process group (it was started in a new session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


# ------------------------------------------------------ interleaved workers
#
# On a shared 2-core machine the load changes over a multi-minute run, so running
# system A's repetitions and then system B's would charge B for a busy neighbour
# that A never saw. Interleaved workers set up once, then run one repetition per
# "run" command; the driver goes round-robin so every system samples the same
# stretch of time. Commands go down the worker's stdin, one-line JSON replies come
# back on a dedicated pipe (the system under test may print to stdout freely).


@dataclass
class Prepared:
    """A set-up system, ready to be timed inside an interleaved worker.

    ``call`` is the reported retrieval; ``variants`` are extra timed calls shown
    beside it (e.g. the floor's time to Arrow). ``finish`` runs untimed after the
    last repetition on the last result of ``call`` (save it, count rows).
    """

    call: Callable[[], Any]
    variants: dict[str, Callable[[], Any]] = field(default_factory=dict)
    finish: Callable[[Any], dict[str, Any]] = lambda result: {}
    info: dict[str, Any] = field(default_factory=dict)


MAIN = "main"


def _repetition(prepared: Prepared, times: dict[str, list[float]]) -> Any:
    """One timed round: the variants first, the reported call last (kept)."""
    for label, call in prepared.variants.items():
        gc.collect()
        seconds, _ = timed(call)
        times[label].append(seconds)
    gc.collect()
    seconds, result = timed(prepared.call)
    times[MAIN].append(seconds)
    return result


def interleaved_worker_main(
    factories: dict[str, Callable[[dict[str, Any]], Prepared]],
    name: str,
    params_path: Path,
    out_path: Path,
    reply_fd: int,
) -> int:
    """Worker body: set up, answer "ready", then "run" repeatedly, then "finish".

    The RSS peak is reset after setup, so ``peak_rss_mib`` covers the timed calls
    (plus whatever the setup left resident); ``process_peak_rss_mib`` covers all.
    """
    reply = os.fdopen(reply_fd, "w", buffering=1)
    params = json.loads(Path(params_path).read_text())
    try:
        prepared = factories[name](params)
    except BaseException as exc:  # report, never hang the driver
        _write_failure(out_path, exc)
        return 0
    times: dict[str, list[float]] = {label: [] for label in [*prepared.variants, MAIN]}
    gc.collect()
    reset_peak_rss()
    reply.write(json.dumps({"event": "ready"}) + "\n")
    result = None
    for line in sys.stdin:
        if line.strip() != "run":
            break
        result = None  # never hold two results at once
        result = _repetition(prepared, times)
        reply.write(json.dumps({"event": "done", "seconds": times[MAIN][-1]}) + "\n")
    report = {
        "status": STATUS_OK,
        "times": times[MAIN],
        "variant_times": {k: v for k, v in times.items() if k != MAIN},
        "peak_rss_mib": peak_rss_mib(),
        **prepared.info,
        **prepared.finish(result),
        "process_peak_rss_mib": lifetime_peak_rss_mib(),
    }
    Path(out_path).write_text(json.dumps(report, default=str))
    return 0


def _write_failure(out_path: Path, exc: BaseException) -> None:
    """Report a setup failure: ImportError/Unavailable mean "not available"."""
    status = STATUS_UNAVAILABLE if isinstance(exc, ImportError | Unavailable) else STATUS_ERROR
    if status == STATUS_ERROR:
        traceback.print_exc()
    report = {"status": status, "error": f"{type(exc).__name__}: {exc}"}
    Path(out_path).write_text(json.dumps(report))


class InterleavedWorker:
    """Driver side of one interleaved worker process."""

    def __init__(
        self, name: str, python: Path, script: Path, params: dict[str, Any], workdir: Path, timeout_s: float
    ) -> None:
        self.name, self.timeout_s = name, timeout_s
        self.out_path = workdir / f"{name}.out.json"
        self.out_path.unlink(missing_ok=True)
        self.failure = ""
        self.load_before = os.getloadavg()[0]
        self.t0 = time.perf_counter()
        self.proc: subprocess.Popen | None = None
        if not Path(python).exists():
            self.failure = f"interpreter {python} missing"
            return
        params_path = workdir / f"{name}.params.json"
        params_path.write_text(json.dumps(params))
        read_fd, write_fd = os.pipe()
        cmd = [str(python), str(script), "--worker", name, "--params", str(params_path)]
        cmd += ["--out", str(self.out_path), "--reply-fd", str(write_fd)]
        self.proc = _spawn(cmd, stdin=subprocess.PIPE, text=True, pass_fds=(write_fd,))
        os.close(write_fd)
        self.replies = os.fdopen(read_fd, "r")

    @property
    def alive(self) -> bool:
        return self.proc is not None and not self.failure

    def _await_reply(self) -> dict[str, Any] | None:
        """Next reply line, or None (and the worker killed) on EOF or timeout."""
        ready, _, _ = select.select([self.replies], [], [], self.timeout_s)
        line = self.replies.readline() if ready else ""
        if line:
            return json.loads(line)
        if not ready:
            self.failure = f"no answer within {self.timeout_s:.0f}s"
        self._stop()
        return None

    def ready(self) -> bool:
        """Wait for setup to finish."""
        return self.alive and self._await_reply() is not None

    def run_once(self) -> bool:
        """Time one repetition; False if the worker died or hung."""
        if not self.alive or self.proc.poll() is not None:
            return False
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        return self._await_reply() is not None

    def finish(self) -> WorkerRun:
        """Let the worker save its result and report; collect the report."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                self.failure = self.failure or "did not finish"
                self._stop()
        if self.proc is None:
            return WorkerRun(self.name, STATUS_UNAVAILABLE, error=self.failure)
        wall = time.perf_counter() - self.t0
        load = (self.load_before, os.getloadavg()[0])
        return _read_report(self.name, self.out_path, self.proc.returncode, self.failure, wall, load)

    def _stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            _kill_group(self.proc.pid)
            self.proc.wait()


# -------------------------------------------------------------------- reporting


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(wall seconds, result) of one call."""
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def fmt(value: Any, digits: int = 2) -> str:
    """Table cell: numbers with thousands separators, NaN/None as a dash."""
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,d}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[fmt(c) for c in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    """Enough about the host to tell whether two result files are comparable."""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu": cpu,
        "mem_gib": round(mem_gib, 1),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def package_versions(names: Sequence[str]) -> dict[str, str]:
    """Installed versions of the given distributions (missing ones left out)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in names:
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found

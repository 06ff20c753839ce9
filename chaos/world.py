"""The world a drill runs in: regions and the control plane that ``ops/world`` started on
this machine, and the processes a scenario may kill (each with its children)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from chaos.network import Network

REPO = Path(__file__).resolve().parent.parent
WORLD = REPO / "ops" / "world"

#: Where each service of a region keeps its pid (``ops/region``, ``ops/world``).
PIDFILES = {
    "data-plane": "data-plane/pid",
    "kafka": "kafka/kafka.pid",
    "redis": "redis/redis.pid",
    "s3": "s3/server.pid",
    "postgres": "pg/postmaster.pid",
}
REGION_SERVICES = tuple(PIDFILES)


@dataclass(frozen=True)
class World:
    #: Data plane REST URL of each region, the drill's home region first.
    planes: dict[str, str]
    control_plane: str
    #: Each region's GRANARY_* variables (``.regions/NAME/env``).
    env: dict[str, dict[str, str]]
    cp: str
    #: The network between the regions and the control plane (:mod:`chaos.network`).
    network: Network
    regions_dir: Path = REPO / ".regions"

    @classmethod
    def up(cls, cp: str, regions: list[str], timeout: float = 1500) -> World:
        """Start (or find running) the regions and the control plane, and describe them."""
        result = _world("up", "--cp", cp, *regions, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"ops/world up failed:\n{(result.stdout + result.stderr)[-3000:]}")
        return cls.running(cp, regions)

    @classmethod
    def running(cls, cp: str, regions: list[str]) -> World:
        root = REPO / ".regions"
        urls, others = {}, {}
        for line in (root / cp / "world").read_text().splitlines():
            kind, name, url = line.split()
            if kind == "region":
                urls[name] = url
            else:
                others[kind] = url
        return cls(
            planes={name: urls[name] for name in regions},
            control_plane=others["control-plane"],
            env={name: _read_env(root / name / "env") for name in regions},
            cp=cp,
            network=Network(others["network"]),
        )

    @property
    def home(self) -> str:
        return next(iter(self.planes))

    @property
    def standby(self) -> str:
        return list(self.planes)[1]

    def secrets(self) -> dict[str, str]:
        """The tokens ``ops/world`` made (ADMIN_TOKEN, REGION_TOKEN, REGION_ADMIN_TOKEN)."""
        text = (self.regions_dir / self.cp / "world.secrets").read_text()
        return dict(line.split("=", 1) for line in text.split())

    def pid(self, region: str, service: str) -> int | None:
        """The running pid of a region's service (``control-plane``: the world's), or None."""
        path = (
            self.regions_dir / self.cp / "control-plane" / "pid"
            if service == "control-plane"
            else self.regions_dir / region / PIDFILES[service]
        )
        try:
            pid = int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if _alive(pid) else None

    def kill(self, region: str, services: tuple[str, ...]) -> list[int]:
        """SIGKILL the services (and their children) at once; the pids killed."""
        killed = []
        for service in services:
            pid = self.pid(region, service)
            if pid is not None:
                for victim in [pid, *_descendants(pid)]:
                    try:
                        os.kill(victim, signal.SIGKILL)
                        killed.append(victim)
                    except ProcessLookupError:
                        pass
        for pid in killed:  # gone before the drill goes on (zombies of ours are reaped by init)
            _wait_gone(pid)
        return killed

    def stop_process(self, pid: int) -> None:
        os.kill(pid, signal.SIGSTOP)

    def continue_process(self, pid: int) -> None:
        os.kill(pid, signal.SIGCONT)

    def skew_clock(self, region: str, offset: str | None) -> None:
        """Restart the region's data plane with its wall clock at ``offset`` (libfaketime's
        form, e.g. ``-120s``; None: the true clock)."""
        clock = self.regions_dir / region / "data-plane.clock"
        if offset is None:
            clock.unlink(missing_ok=True)
        else:
            clock.write_text(offset)
        self.kill(region, ("data-plane",))
        self.restore()

    def break_data_plane(self, region: str, how: str | None) -> None:
        """Restart the region's data plane deliberately broken (``GRANARY_TEST_ONLY_BREAK``:
        ``no-fencing``, ``drop-writes``), or whole again (None): the proof that the
        drills' checkers fail on a broken build."""
        settings = self.regions_dir / region / "data-plane.env"
        if how is None:
            settings.unlink(missing_ok=True)
        else:
            settings.write_text(f"GRANARY_TEST_ONLY_BREAK={how}\n")
        self.kill(region, ("data-plane",))
        self.restore()

    def restore(self) -> None:
        """Start again whatever of the world was killed (``ops/world up`` is idempotent)."""
        result = _world("up", "--cp", self.cp, *self.planes, timeout=900)
        if result.returncode != 0:
            raise RuntimeError(f"ops/world up (restore) failed:\n{(result.stdout + result.stderr)[-3000:]}")


def _world(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(WORLD), *args], capture_output=True, text=True, timeout=timeout)


def _read_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            values[key] = value
    return values


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _wait_gone(pid: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)

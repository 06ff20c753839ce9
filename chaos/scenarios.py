"""The faults a drill injects, each with its heal. Short by default (``make test``); a
soak runs them with a longer fault window (``python -m chaos run --window 60``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.world import REGION_SERVICES

if TYPE_CHECKING:
    from chaos.drill import Drill


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    #: What the clients may not get for longer than this (seconds) at a stretch, beyond
    #: the fault window itself where ``during_window`` says so.
    online_gap_s: float
    #: Whether online reads may fail for the whole fault window (the region's services
    #: that serve them are down) on top of ``online_gap_s``.
    online_down_in_window: bool = False
    #: Whether writes must go on through the fault (nothing they need is down).
    writes_continue: bool = False

    def inject(self, drill: Drill) -> None:
        raise NotImplementedError

    def heal(self, drill: Drill) -> None:
        drill.world.restore()


@dataclass(frozen=True)
class KillServices(Scenario):
    """SIGKILL some services of the drill's home region; the heal starts them again."""

    services: tuple[str, ...] = ()

    def inject(self, drill: Drill) -> None:
        drill.note(f"kill -9 {', '.join(self.services)} of {drill.world.home}")
        drill.world.kill(drill.world.home, self.services)


@dataclass(frozen=True)
class RegionOutage(Scenario):
    """Every process of the home region dies; the operator fails the tenant over to the
    standby; the region comes back, is fenced by the control plane, and fails back as a
    standby (its catalog re-seeded)."""

    def inject(self, drill: Drill) -> None:
        drill.note(f"kill -9 every process of {drill.world.home}")
        drill.world.kill(drill.world.home, REGION_SERVICES)
        drill.fail_over()

    def heal(self, drill: Drill) -> None:
        drill.world.restore()
        drill.fail_back()


@dataclass(frozen=True)
class ControlPlaneDown(Scenario):
    """The control plane dies; the data planes keep serving writes and reads (keys and
    size quotas they checked lately are taken on their last answer)."""

    def inject(self, drill: Drill) -> None:
        drill.note("kill -9 the control plane")
        drill.world.kill(drill.world.home, ("control-plane",))


@dataclass(frozen=True)
class CrashLoop(Scenario):
    """The home region's data plane (API and materializer) is killed again and again."""

    crashes: int = 3

    def inject(self, drill: Drill) -> None:
        for n in range(self.crashes):
            drill.note(f"kill -9 the data plane of {drill.world.home} ({n + 1} of {self.crashes})")
            drill.world.kill(drill.world.home, ("data-plane",))
            if n + 1 < self.crashes:
                drill.world.restore()
                time.sleep(0.5)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        RegionOutage(
            "region-outage",
            "every process of the home region killed; failover to the standby, failback after",
            online_gap_s=10.0,
        ),
        ControlPlaneDown(
            "control-plane-down",
            "the control plane killed; data planes keep serving writes and reads",
            online_gap_s=1.0,
            writes_continue=True,
        ),
        KillServices(
            "kafka-broker-down",
            "the home region's Kafka broker killed; writes refused until it returns, reads go on",
            online_gap_s=1.0,
            services=("kafka",),
        ),
        KillServices(
            "postgres-primary-down",
            "the home region's PostgreSQL killed; the region refuses until it returns",
            online_gap_s=10.0,
            online_down_in_window=True,
            services=("postgres",),
        ),
        KillServices(
            "s3-down",
            "the home region's S3 server killed; writes acknowledged from Kafka, online reads go on",
            online_gap_s=1.0,
            services=("s3",),
        ),
        CrashLoop(
            "materializer-crash-loop",
            "the home region's data plane (with its materializer) killed three times",
            online_gap_s=15.0,
            online_down_in_window=True,
        ),
    )
}

"""The faults a drill injects, each with its heal. Short by default (``make test``); a
soak runs them with a longer fault window (``python -m chaos run --window 60``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.network import REPLICATION_LINKS, border
from chaos.world import REGION_SERVICES

if TYPE_CHECKING:
    from chaos.drill import Drill


#: The longest stretch without a successful read (seconds) where reads must go on
#: through the fault: a read outage lasts as long as the fault (ten seconds or more here),
#: while a request slowed by a loaded machine (two cores running two regions, the control
#: plane, MirrorMaker and the clients) has been seen to take up to 3 s.
SERVED = 4.0


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
    #: Whether writes must go on through the fault (nothing they need is down): then
    #: they may not go longer than ``write_gap_s`` without a success (a drill of these
    #: runs a fault window longer than that, so a stop is caught).
    writes_continue: bool = False
    write_gap_s: float = 4.0

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
class Switchover(Scenario):
    """The operator moves the tenant to the standby while it writes (no fault): the old
    home drains and refuses, its clients follow the routing, and a client that logs in
    afterwards writes in the new home. Nothing acknowledged may be lost, and the old home
    may acknowledge nothing after the new one did."""

    def inject(self, drill: Drill) -> None:
        drill.switch_over()
        op = drill.workload.write_once(900_000)
        written = f"wrote in {op.region} under epoch {op.epoch}" if op.ok else f"failed ({op.error})"
        drill.note(f"a client logged in after the move {written}")

    def heal(self, drill: Drill) -> None:
        pass


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


@dataclass(frozen=True)
class NetworkFault(Scenario):
    """A fault of the world's network (:mod:`chaos.network`); the heal restores every link."""

    def heal(self, drill: Drill) -> None:
        drill.world.network.heal()


@dataclass(frozen=True)
class Partition(NetworkFault):
    """The home region keeps running, cut off from the standby and the control plane:
    every link across its border (the catalog subscriptions and MirrorMaker both ways,
    the control plane's admin calls, its own calls to the control plane and its Redis)
    is closed and refused. Its clients still reach it, and it serves them on the keys
    and quotas it checked lately; the heal reopens the links and replication catches up."""

    def inject(self, drill: Drill) -> None:
        home, standby = drill.world.home, drill.world.standby
        drill.note(f"cut {home} off from {standby} and the control plane")
        drill.world.network.cut(border(home) + border(standby, REPLICATION_LINKS))


@dataclass(frozen=True)
class SlowLink(NetworkFault):
    """The links between the regions get slow: latency with jitter each way and a
    bandwidth cap, what a lossy long-distance link does to TCP. Replication falls behind
    while the clients go on; the heal lets it catch up."""

    latency_ms: int = 300
    jitter_ms: int = 150
    rate_kb_s: int = 8

    def inject(self, drill: Drill) -> None:
        links = border(drill.world.home, REPLICATION_LINKS) + border(drill.world.standby, REPLICATION_LINKS)
        drill.note(
            f"links between the regions slowed: {self.latency_ms} ms +- {self.jitter_ms} ms each way, "
            f"{self.rate_kb_s} KB/s"
        )
        drill.world.network.slow(links, self.latency_ms, self.jitter_ms, self.rate_kb_s)


@dataclass(frozen=True)
class ClockSkew(Scenario):
    """The home region's data plane restarts with its wall clock ``offset`` off (faked in
    its process by libfaketime, ``ops/world``; the host's clock is untouched) and serves
    through the window; the heal restarts it on the true clock."""

    offset: str = "-120s"

    def inject(self, drill: Drill) -> None:
        home = drill.world.home
        drill.note(f"restart the data plane of {home} with its clock at {self.offset}")
        drill.world.skew_clock(home, self.offset)

    def heal(self, drill: Drill) -> None:
        drill.note(f"restart the data plane of {drill.world.home} on the true clock")
        drill.world.skew_clock(drill.world.home, None)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        RegionOutage(
            "region-outage",
            "every process of the home region killed; failover to the standby, failback after",
            online_gap_s=10.0,
        ),
        Partition(
            "region-partition",
            "the home region cut off from the standby and the control plane; it keeps serving its clients",
            online_gap_s=SERVED,
            writes_continue=True,
        ),
        SlowLink(
            "slow-link",
            "the links between the regions slow and narrow; replication falls behind, then catches up",
            online_gap_s=SERVED,
            writes_continue=True,
        ),
        ClockSkew(
            "clock-skew",
            "the home region's data plane restarted with its clock two minutes behind",
            online_gap_s=15.0,
            online_down_in_window=True,
        ),
        Switchover(
            "switchover",
            "the tenant moved to the standby while it writes; the old home drains and refuses",
            online_gap_s=SERVED,
        ),
        ControlPlaneDown(
            "control-plane-down",
            "the control plane killed; data planes keep serving writes and reads",
            online_gap_s=SERVED,
            writes_continue=True,
        ),
        KillServices(
            "kafka-broker-down",
            "the home region's Kafka broker killed; writes refused until it returns, reads go on",
            online_gap_s=SERVED,
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
            online_gap_s=SERVED,
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

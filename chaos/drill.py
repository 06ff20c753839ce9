"""One drill: a tenant with an online feature group homed in the world's first region,
replicated to the second (catalog both ways, feature topics by MirrorMaker both ways);
the workload runs; the scenario's fault, then its heal; the stores settle; the checks
run and the report is written. What the drill set up it takes down, even on failure."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

import granary
from chaos import checks, leaks
from chaos.report import Figures, write_report
from chaos.scenarios import Scenario
from chaos.workload import Clock, Workload, rows
from chaos.world import World
from granary.errors import GranaryError, RateLimitExceeded
from replication import catalog as replication
from replication.catalog import RegionDatabase
from replication.kafka_mirror import Cluster, MirrorFlow, MirrorMaker

#: The data planes of ``ops/world`` run with the default namespace.
NAMESPACE = "granary"
GROUP_TOPICS = r"granary\.fg\..+"


@dataclass
class Outcome:
    scenario: str
    figures: Figures
    violations: list[str]
    report: Path

    @property
    def passed(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        f = self.figures
        verdict = "PASS" if self.passed else f"FAIL ({len(self.violations)} violations)"
        return (
            f"drill {self.scenario}: {verdict}; {f.acknowledged} writes acknowledged, {f.lost} lost"
            f"{'' if f.rto_s is None else f', RTO {f.rto_s:.2f} s'}, online gap {f.online_gap_s:.2f} s; "
            f"report {self.report}"
        )


@dataclass
class Drill:
    world: World
    scenario: Scenario
    out_dir: Path
    #: Seconds the fault lasts before the heal.
    window_s: float = 3.0
    #: Longest wait after the workload for the regions to hold every acknowledged write
    #: and agree; what they hold then is what the checks judge.
    settle_s: float = 180.0
    clock: Clock = field(default_factory=Clock)
    timeline: list[tuple[float, str]] = field(default_factory=list)
    fault: tuple[float, float] | None = None
    failover: dict | None = None
    converged: float | None = None
    #: Whether the tenant was moved to the standby (switchover or failover).
    moved: bool = False
    behind: int | None = None
    #: What the drill's tear-down found left behind (None: not torn down yet).
    leaks: list[str] | None = None

    def note(self, what: str) -> None:
        self.timeline.append((self.clock(), what))

    # set-up -----------------------------------------------------------------------
    def _admin(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.world.secrets()['ADMIN_TOKEN']}"}

    def _tenant(self, cp: httpx.Client) -> tuple[str, str]:
        tenant = f"drill{uuid.uuid4().hex[:10]}"
        created = cp.post(
            "/v1/admin/tenants",
            json={
                "name": tenant,
                "plan": {
                    "home_region": self.world.home,
                    "allowed_regions": list(self.world.planes),
                    "quotas": {"online_reads_per_second": 5000, "ingestion_rows_per_second": 10000},
                },
                "admin_email": f"ops@{tenant}.example.com",
            },
            headers=self._admin(),
        )
        created.raise_for_status()
        key = created.json()["admin_key"]["api_key"]
        owner = {"authorization": f"Bearer {key}"}
        project = {"name": "drill", "standbys": [self.world.standby]}
        cp.post("/v1/projects", json=project, headers=owner).raise_for_status()
        deadline = time.monotonic() + 120
        while cp.get("/v1/projects/drill", headers=owner).json()["status"] != "ready":
            if time.monotonic() > deadline:
                raise TimeoutError("the drill's project was not provisioned within 120 s")
            time.sleep(0.2)
        return tenant, key

    def connect(self, host: str | None = None, project: str = "drill"):
        return granary.login(
            host=host or self.world.control_plane, api_key=self.key, project=project
        ).get_feature_store()

    # the operator's moves ----------------------------------------------------------
    def fail_over(self) -> None:
        """Fail the tenant over to the standby; the bound of what may be lost is kept."""
        self.failover = self._move("failover")

    def switch_over(self) -> None:
        """Move the tenant to the standby: the old home drains, nothing is lost."""
        self._move("switchover")

    def _move(self, kind: str) -> dict:
        """Ask the control plane to move the tenant to the standby (``kind``: failover
        or switchover); what it answers of the move."""
        with httpx.Client(base_url=self.world.control_plane, timeout=300) as cp:
            answer = cp.post(
                f"/v1/admin/tenants/{self.tenant}/{kind}",
                json={"from_region": self.world.home, "to_region": self.world.standby},
                headers=self._admin(),
            )
        answer.raise_for_status()
        [moved] = answer.json()["moved"]
        self.moved = True
        self.note(f"{kind} to {self.world.standby}, epoch {moved['epoch']}")
        return moved

    def fail_back(self) -> None:
        """The old home is back: wait until the control plane fenced it, then re-seed its
        catalog from the new home (and the new home's from it)."""
        region = {"authorization": f"Bearer {self.world.secrets()['REGION_ADMIN_TOKEN']}"}
        url = f"{self.world.planes[self.world.home]}/admin/v1/projects/{self.scope}/home"
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.get(url, headers=region, timeout=10)
                if answer.status_code == 200 and not answer.json()["home"]:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.world.home} was not fenced within 120 s of its return")
            time.sleep(0.2)
        self.note(f"{self.world.home} fenced by the control plane")
        home, standby = self.databases()
        try:
            lost = replication.failback(home, [standby])
            replication.wait_caught_up(home, standby, timeout_s=120)  # its re-seeded copy landed
        finally:
            home.dispose()
            standby.dispose()
        self.catalog_lost = sum(len(ids) for ids in lost.values())
        self.note(
            f"{self.world.home} failed back as a standby ({self.catalog_lost} catalog rows only it had)"
        )

    def databases(self) -> tuple[RegionDatabase, RegionDatabase]:
        return peered(self.world, self.world.home), peered(self.world, self.world.standby)

    # the run ----------------------------------------------------------------------
    def run(self) -> Outcome:
        self.catalog_lost = 0
        with httpx.Client(base_url=self.world.control_plane, timeout=120) as cp:
            self.tenant, self.key = self._tenant(cp)
            project = cp.get("/v1/projects/drill", headers={"authorization": f"Bearer {self.key}"}).json()
            self.scope, self.s3_prefixes = project["metadata_scope"], project["s3_prefixes"]
            self.online_prefix = project["redis_key_prefix"]
        fs = self.connect()
        group = fs.get_or_create_feature_group(
            name="spend", version=1, primary_key=["user"], event_time="ts", online_enabled=True
        )
        self.group_id = group.id
        self.processes = leaks.processes(self.world)
        try:
            return self._run(fs, group)
        finally:
            with contextlib.suppress(Exception):  # a failed drill still takes its tenant down
                self.leaks = self.tear_down()

    def _run(self, fs, group) -> Outcome:
        group.insert(rows(list(range(10))), wait=True)
        fs.create_feature_view(name="spend_view", version=1, query=group.select_all())
        regions = {url.rstrip("/"): name for name, url in self.world.planes.items()}
        workload = self.workload = Workload(self.connect, regions, self.clock).start()
        try:
            workload.wait_for_writes(20)
            started = self.clock()
            self.scenario.inject(self)
            time.sleep(self.window_s)
            if self.scenario.writes_continue:
                self.behind = self.not_yet_copied(workload.acknowledged())
            self.note("heal")
            self.scenario.heal(self)
            self.fault = (started, self.clock())
            workload.wait_for_writes(20)
        finally:
            ops = workload.stop()
            self.note("workload stopped")
        offline, online = self.settle(ops)
        self.leaks = self.tear_down()
        return self.check(ops, offline, online)

    def tear_down(self) -> list[str]:
        """Delete the drill's tenant (once): the control plane removes its project from
        the home and the standby, every copy of its topics included; and say what is left
        of it anywhere, or of the processes the drill found running."""
        if self.leaks is not None:
            return self.leaks
        held = {name: leaks.count_objects(self.world, name, self.s3_prefixes) for name in self.world.planes}
        with httpx.Client(base_url=self.world.control_plane, timeout=300) as cp:
            answer = cp.delete(f"/v1/admin/tenants/{self.tenant}", headers=self._admin())
        if answer.status_code != 204:
            return [f"deleting the drill's tenant answered {answer.status_code}: {answer.text[:300]}"]
        before = ", ".join(f"{name} {n}" for name, n in held.items())
        self.note(f"tenant deleted by the control plane in every region (objects it held before: {before})")
        return [
            *leaks.topics_left(self.world, self.group_id),
            *leaks.objects_left(self.world, self.s3_prefixes),
            *leaks.online_left(self.world, self.online_prefix),
            *leaks.processes_left(self.processes, leaks.processes(self.world)),
        ]

    def not_yet_copied(self, acknowledged: list[int]) -> int | None:
        """How many writes the home acknowledged the standby's offline store does not
        hold yet (None: it could not be read)."""
        try:
            fs = self.connect(self.world.planes[self.world.standby], self.scope)
            held = set(fs.get_feature_group("spend", 1).read()["user"].astype(int))
        except GranaryError:
            return None
        missing = len(set(acknowledged) - held)
        self.note(f"{missing} acknowledged writes not yet in {self.world.standby}")
        return missing

    def settle(self, ops: list[checks.Op]) -> tuple[dict, dict]:
        """Every region's offline rows and online answers, once each holds every
        acknowledged write, serves its newest rows online, and all regions agree
        (bounded: what they hold then is what the checks judge)."""
        acknowledged = {op.key for op in ops if op.kind == "write" and op.ok} | set(range(10))
        deadline = time.monotonic() + self.settle_s
        while True:
            offline: dict[str, dict[int, float]] = {}
            online: dict[str, dict[int, float | None]] = {}
            try:
                for region, plane in self.world.planes.items():
                    offline[region], online[region] = self._stores(plane)
            except GranaryError:  # a re-seeded catalog or a replaying store, not there yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
                continue
            settled = all(
                set(offline[r]) >= acknowledged and online[r] == offline[r] for r in offline
            ) and all(table == next(iter(offline.values())) for table in offline.values())
            if settled:
                self.note("every region holds every acknowledged write")
                self.converged = self.clock()
            if settled or time.monotonic() > deadline:
                return offline, online
            time.sleep(0.5)

    def _stores(self, plane: str) -> tuple[dict[int, float], dict[int, float | None]]:
        """One region's offline rows (user: spend) and what its online store serves for them."""
        fs = self.connect(plane, self.scope)
        group, view = fs.get_feature_group("spend", 1), fs.get_feature_view("spend_view", 1)
        view.init_serving()
        table = group.read()
        rows_ = dict(zip(table["user"].astype(int), table["spend"].astype(float), strict=True))
        keys = sorted(rows_)
        vectors = []
        for at in range(0, len(keys), 200):  # batches well inside the tenant's read burst
            entries = [{"user": k} for k in keys[at : at + 200]]
            read = lambda e=entries: view.get_feature_vectors(e, allow_missing=True)  # noqa: E731
            vectors += _retrying_rate_limits(read)
        served = {k: (v[-1] if v else None) for k, v in zip(keys, vectors, strict=True)}
        return rows_, served

    def check(self, ops: list[checks.Op], offline: dict, online: dict) -> Outcome:
        now_home = self.world.standby if self.failover or self.moved else self.world.home
        present = set(offline[now_home])
        bound = None
        if self.failover:
            copied = [ms for ms in (self.failover.get("copied_until_ms") or {}).values() if ms is not None]
            bound = self.clock.from_wall(min(copied) / 1000) if copied else self.fault[0]
        violations = [
            *checks.loss_violations(ops, present, bound),
            *checks.phantom_writes(ops, present),
            *checks.split_brain(ops),
            *checks.divergence(offline, online),
        ]
        allowed = self.scenario.online_gap_s
        if self.scenario.online_down_in_window and self.fault:
            allowed += self.fault[1] - self.fault[0]
        pauses = self.workload.pauses
        violations += checks.availability_violations(ops, "online", allowed, pauses)
        if self.scenario.writes_continue:
            violations += checks.availability_violations(ops, "write", self.scenario.write_gap_s, pauses)
        violations += [f"replication: {p}" for p in self.replication_problems()]
        violations += [f"left behind: {leak}" for leak in self.leaks]
        figures = self.figures(ops, present, bound)
        report = write_report(
            self.out_dir, self.scenario, figures, ops, self.timeline, self.fault, violations
        )
        return Outcome(self.scenario.name, figures, violations, report)

    def replication_problems(self, seconds: float = 60.0) -> list[str]:
        """What is wrong between the regions once their links had time to stream again
        (a killed publisher's subscribers reconnect within seconds)."""
        home, standby = self.databases()
        try:
            deadline = time.monotonic() + seconds
            while (
                problems := replication.check([home, standby], errors=False)
            ) and time.monotonic() < deadline:
                time.sleep(0.5)
            return problems
        finally:
            home.dispose()
            standby.dispose()

    def figures(self, ops: list[checks.Op], present: set[int], bound: float | None) -> Figures:
        writes = [op for op in ops if op.kind == "write"]
        fault_start = self.fault[0] if self.fault else 0.0
        after = [op.end for op in writes if op.ok and op.start >= fault_start]
        failed_during = [op for op in writes if not op.ok]
        rto = None
        if failed_during and after:
            rto = min(after) - fault_start
        return Figures(
            acknowledged=sum(op.ok for op in writes),
            lost=len(checks.lost_writes(ops, present)),
            rto_s=rto,
            write_gap_s=checks.longest_outage(ops, "write", self.workload.pauses),
            online_gap_s=checks.longest_outage(ops, "online", self.workload.pauses),
            offline_gap_s=checks.longest_outage(ops, "offline", self.workload.pauses),
            client_paused_s=max((b - a for a, b in self.workload.pauses), default=0.0),
            bound_s=bound,
            catalog_lag_ms=(self.failover or {}).get("lag_ms"),
            errors=dict(Counter(op.error for op in ops if not op.ok)),
            operations=dict(Counter(op.kind for op in ops)),
            catalog_rows_lost=self.catalog_lost,
            behind_at_heal=self.behind,
            converged_s=None if self.converged is None or not self.fault else self.converged - self.fault[1],
        )


def _retrying_rate_limits(call, attempts: int = 50):
    """The call, again after a pause while the tenant's rate quota refuses it."""
    for _ in range(attempts - 1):
        try:
            return call()
        except RateLimitExceeded:
            time.sleep(0.2)
    return call()


@contextlib.contextmanager
def replicated(world: World) -> Iterator[None]:
    """The world's two regions linked both ways for the drills, across the world's
    network: each subscribes to the other's catalog (re-seeded, whatever an earlier run
    left) and MirrorMaker copies each region's group topics into the other. Taken down
    after, whatever happened."""
    home, standby = (peered(world, region) for region in (world.home, world.standby))
    makers = []
    try:
        world.network.heal()
        replication.reseed(standby, home)
        replication.reseed(home, standby)
        for source, target in ((world.home, world.standby), (world.standby, world.home)):
            flow = MirrorFlow(
                source=Cluster(source, world.network.address(f"{source}-kafka")),
                target=Cluster(target, world.env[target]["GRANARY_KAFKA_BOOTSTRAP"]),
                topics=GROUP_TOPICS,
            )
            maker = MirrorMaker(target, [flow])
            maker.start()
            makers.append(maker)
        yield
    finally:
        with contextlib.suppress(Exception):
            world.network.heal()
        for region in world.planes:
            if (world.regions_dir / region / "data-plane.clock").exists():
                with contextlib.suppress(Exception):
                    world.skew_clock(region, None)
        for maker in makers:
            with contextlib.suppress(Exception):
                maker.stop()
        for target, source in ((standby, home), (home, standby)):
            with contextlib.suppress(Exception):
                replication.unsubscribe(target, source.region_id)
        home.dispose()
        standby.dispose()


def peered(world: World, region: str) -> RegionDatabase:
    """A region's metadata database, which other regions' subscriptions reach through the
    world's network (its ``REGION-postgres`` link)."""
    url = world.env[region]["GRANARY_PG_URL"]
    host, port = world.network.address(f"{region}-postgres").rsplit(":", 1)
    peer = make_url(url).set(host=host, port=int(port)).render_as_string(hide_password=False)
    return RegionDatabase(region, url, peer_url=peer)

"""Region moves under load: switchover and failover figures from one run.

Brings up two regions and a control plane (``ops/world``), links them both ways (catalog
subscriptions each way, a MirrorMaker 2 flow into each region), makes a tenant with one
project, and runs a writer (one row per insert, acknowledged by Kafka) and an online
reader (``get_feature_vector``) through the SDK logged in at the control plane. Then:

1. ``--switchovers`` planned moves back and forth (``POST /v1/admin/tenants/{t}/switchover``),
   ``--gap`` seconds apart: each move's drain, catch-up and writes-refused times, and
   after the last one the RPO (acknowledged inserts missing from the home: must be 0);
2. one failover: the home's data plane is killed (SIGKILL) and the tenant failed over at
   once: RTO (kill to the first insert accepted by the new home), how long online
   reads were unavailable, and the acknowledged inserts lost (the home's Kafka outlives
   its data plane here, so MirrorMaker still copies them: 0 expected).

The catalog lag the standby's ``/metrics`` reports is sampled throughout. Prints a
table, writes ``bench/results/region_moves.json``, and takes down what it brought up.

    .venv/bin/python bench/region_moves.py --switchovers 4
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import signal
import statistics
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pandas as pd

import granary
from data_plane.layout import Layout
from replication import catalog as replication
from replication.catalog import RegionDatabase
from replication.kafka_mirror import Cluster, MirrorFlow, MirrorMaker

REPO = Path(__file__).resolve().parent.parent
REGIONS = REPO / ".regions"
RESULTS = REPO / "bench" / "results" / "region_moves.json"
NAMESPACE = "granary"


def world(*args: str) -> None:
    result = subprocess.run(["bash", str(REPO / "ops" / "world"), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"ops/world {' '.join(args)} failed:\n{(result.stdout + result.stderr)[-3000:]}")


def env_of(region: str) -> dict[str, str]:
    values = {}
    for line in (REGIONS / region / "env").read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            values[key] = value
    return values


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def frame(user: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"user": [user], "ts": pd.to_datetime(["2026-01-01"], utc=True), "spend": [float(user)]}
    )


@dataclass
class Load:
    """A writer and a reader through the SDK; every operation logged with its times."""

    connect: object
    rate: float
    writes: list[tuple[float, float, bool, int]] = field(default_factory=list)  # start, end, ok, user
    reads: list[tuple[float, bool]] = field(default_factory=list)  # end, ok
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._write), threading.Thread(target=self._read)]
        for thread in threads:
            thread.start()
        return threads

    def _write(self) -> None:
        group = self.connect().get_feature_group("spend", 1)
        user = 1
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                group.insert(frame(user), wait=False)
                ok = True
            except Exception as exc:  # a failure is a finding: logged, the load goes on
                print(f"  write of user {user} failed: {exc!r}"[:300])
                ok = False
            self.writes.append((started, time.monotonic(), ok, user))
            user += 1
            time.sleep(max(0.0, 1 / self.rate - (time.monotonic() - started)))

    def _read(self) -> None:
        view = self.connect().get_feature_view("spend_view", 1)
        view.init_serving()
        while not self.stop.is_set():
            try:
                view.get_feature_vector({"user": 0})
                ok = True
            except Exception:
                ok = False
            self.reads.append((time.monotonic(), ok))
            time.sleep(0.02)

    def acknowledged(self) -> set[int]:
        return {user for _, _, ok, user in self.writes if ok}


def longest_gap(events: list[tuple[float, bool]], after: float) -> float:
    """Longest time between two successful events around and after ``after`` (seconds)."""
    times = [t for t, ok in events if ok]
    before = [t for t in times if t <= after]
    later = [t for t in times if t > after]
    if not before or not later:
        return float("inf")
    points = [before[-1], *later]
    return max(b - a for a, b in itertools.pairwise(points))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", default="rm1")
    parser.add_argument("--standby", default="rm2")
    parser.add_argument("--cp", default="rmcp")
    parser.add_argument("--switchovers", type=int, default=4)
    parser.add_argument("--gap", type=float, default=4.0, help="seconds of load between moves")
    parser.add_argument("--rate", type=float, default=20.0, help="inserts per second")
    args = parser.parse_args()
    regions = [args.home, args.standby]
    print(f"bringing up {regions} and control plane {args.cp} (ops/world)")
    world("up", "--cp", args.cp, *regions)
    secrets = dict(line.split("=", 1) for line in (REGIONS / args.cp / "world.secrets").read_text().split())
    lines = [line.split() for line in (REGIONS / args.cp / "world").read_text().splitlines()]
    planes = {name: url for kind, name, url in lines if kind == "region"}
    cp_url = next(url for kind, _, url in lines if kind == "control-plane")
    envs = {r: env_of(r) for r in regions}
    dbs = {r: RegionDatabase(r, envs[r]["GRANARY_PG_URL"]) for r in regions}
    mirrors = []
    try:
        for a, b in ((args.home, args.standby), (args.standby, args.home)):
            replication.reseed(dbs[b], dbs[a])  # a fresh copy, whatever an earlier run left
            flow = MirrorFlow(
                Cluster(a, envs[a]["GRANARY_KAFKA_BOOTSTRAP"]),
                Cluster(b, envs[b]["GRANARY_KAFKA_BOOTSTRAP"]),
                topics=Layout(NAMESPACE).group_topic_pattern,
            )
            mirrors.append(MirrorMaker(b, [flow]))
        print("starting MirrorMaker 2 in both regions")
        for mirror in mirrors:
            mirror.start()
        results = run(args, planes, cp_url, secrets, dbs)
    finally:
        for mirror in mirrors:
            mirror.stop()
        for a, b in ((args.home, args.standby), (args.standby, args.home)):
            replication.unsubscribe(dbs[b], a)
        for db in dbs.values():
            db.dispose()
        world("down", "--cp", args.cp, *regions)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(f"wrote {RESULTS.relative_to(REPO)}")


def run(args, planes: dict[str, str], cp_url: str, secrets: dict[str, str], dbs) -> dict:
    admin = {"authorization": f"Bearer {secrets['ADMIN_TOKEN']}"}
    cp = httpx.Client(base_url=cp_url, timeout=300)
    tenant = f"bench{uuid.uuid4().hex[:8]}"
    created = cp.post(
        "/v1/admin/tenants",
        json={
            "name": tenant,
            "plan": {"home_region": args.home, "allowed_regions": [args.home, args.standby]},
            "admin_email": f"admin@{tenant}.example.com",
        },
        headers=admin,
    )
    created.raise_for_status()
    key = created.json()["admin_key"]["api_key"]
    owner = {"authorization": f"Bearer {key}"}
    cp.post("/v1/projects", json={"name": "moves"}, headers=owner).raise_for_status()
    while cp.get("/v1/projects/moves", headers=owner).json()["status"] != "ready":
        time.sleep(0.2)

    def connect():
        return granary.login(host=cp_url, api_key=key, project="moves").get_feature_store()

    fs = connect()
    fg = fs.get_or_create_feature_group(
        name="spend", version=1, primary_key=["user"], event_time="ts", online_enabled=True
    )
    fg.insert(frame(0), wait=True)
    fs.create_feature_view(name="spend_view", version=1, query=fg.select_all())
    replication.wait_caught_up(dbs[args.standby], dbs[args.home])

    lags: list[float] = []
    sampling = threading.Event()

    def sample_lag() -> None:
        pattern = re.compile(r'granary_catalog_lag_ms\{source="([^"]+)"\} ([0-9.eE+-]+)')
        while not sampling.is_set():
            for region, url in planes.items():
                try:
                    text = httpx.get(f"{url}/metrics", timeout=2).text
                except httpx.HTTPError:
                    continue
                lags.extend(float(v) for source, v in pattern.findall(text) if source != region)
            sampling.wait(0.5)

    sampler = threading.Thread(target=sample_lag)
    sampler.start()
    load = Load(connect, args.rate)
    threads = load.run()
    moves = []
    home, other = args.home, args.standby
    try:
        time.sleep(args.gap)
        for n in range(args.switchovers):
            answer = cp.post(
                f"/v1/admin/tenants/{tenant}/switchover",
                json={"from_region": home, "to_region": other},
                headers=admin,
            )
            answer.raise_for_status()
            [move] = answer.json()["moved"]
            moves.append(move)
            print(
                f"switchover {n + 1}: {home} -> {other}, drain {move['drain_ms']:.0f} ms, "
                f"catch-up {move['catch_up_ms']:.0f} ms, writes refused {move['writes_refused_ms']:.0f} ms"
            )
            home, other = other, home
            time.sleep(args.gap)
        load.stop.set()
        for thread in threads:
            thread.join()
        last = connect().get_feature_group("spend", 1)
        last.insert(frame(10**9), wait=True)
        present = set(last.read()["user"])
        switchover_lost = sorted(load.acknowledged() - present)
        print(
            f"after {args.switchovers} switchovers: {len(load.acknowledged())} acknowledged, "
            f"lost {switchover_lost}"
        )

        sampling.set()  # the lag under steady load and moves; a dead home's only grows
        load = Load(connect, args.rate)
        threads = load.run()
        time.sleep(args.gap)
        pid = int((REGIONS / home / "data-plane" / "pid").read_text())
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        answer = cp.post(
            f"/v1/admin/tenants/{tenant}/failover",
            json={"from_region": home, "to_region": other},
            headers=admin,
        )
        answer.raise_for_status()
        [failover] = answer.json()["moved"]
        time.sleep(args.gap)
        load.stop.set()
        for thread in threads:
            thread.join()
        accepted_after = [end for start, end, ok, _ in load.writes if ok and start >= killed]
        in_flight = [end for start, end, ok, _ in load.writes if ok and start < killed < end]
        rto_s = min([*accepted_after, *in_flight], default=float("inf")) - killed
        reads_gap_s = longest_gap(load.reads, killed)
        new_home = connect().get_feature_group("spend", 1)
        new_home.insert(frame(10**9 + 1), wait=True)
        expected = load.acknowledged()
        deadline = time.monotonic() + 60
        while True:  # the old home's last records arrive through MirrorMaker
            missing = expected - set(new_home.read()["user"])
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        failover_lost = sorted(missing)
    finally:
        load.stop.set()
        sampling.set()
        sampler.join()
    world("up", "--cp", args.cp, args.home, args.standby)  # the killed data plane again
    scope = cp.get("/v1/projects/moves", headers=owner).json()["metadata_scope"]
    region = {"authorization": f"Bearer {secrets['REGION_ADMIN_TOKEN']}"}
    httpx.delete(f"{planes[home]}/admin/v1/projects/{scope}/home", headers=region, timeout=60)

    refused = [m["writes_refused_ms"] for m in moves]
    results = {
        "switchovers": len(moves),
        "switchover_writes_refused_ms": {"p50": statistics.median(refused), "max": max(refused)},
        "switchover_drain_ms_p50": statistics.median(m["drain_ms"] for m in moves),
        "switchover_catch_up_ms_p50": statistics.median(m["catch_up_ms"] for m in moves),
        "switchover_acknowledged_lost": len(switchover_lost),
        "failover_rto_s": rto_s,
        "failover_call_ms": failover["writes_refused_ms"],
        "failover_catalog_lag_ms": failover["lag_ms"],
        "failover_online_reads_unavailable_s": reads_gap_s,
        "failover_acknowledged_lost": len(failover_lost),
        "catalog_lag_ms": {
            "samples": len(lags),
            "p50": statistics.median(lags) if lags else None,
            "p99": percentile(lags, 0.99) if lags else None,
        },
    }
    print("\n| figure | value |\n|---|---|")
    print(f"| switchovers | {len(moves)} |")
    print(
        f"| writes refused per switchover, p50 / max | "
        f"{statistics.median(refused):.0f} / {max(refused):.0f} ms |"
    )
    print(
        f"| of which drain / catch-up, p50 | {results['switchover_drain_ms_p50']:.0f} / "
        f"{results['switchover_catch_up_ms_p50']:.0f} ms |"
    )
    print(f"| acknowledged inserts lost over the switchovers (RPO) | {len(switchover_lost)} |")
    print(f"| failover RTO: kill to first insert accepted by the new home | {rto_s:.2f} s |")
    print(f"| online reads unavailable around the kill | {reads_gap_s:.2f} s |")
    print(f"| acknowledged inserts lost in the failover | {len(failover_lost)} |")
    if lags:
        print(
            f"| catalog lag (heartbeat age, beats every 500 ms) p50 / p99, {len(lags)} samples | "
            f"{results['catalog_lag_ms']['p50']:.0f} / {results['catalog_lag_ms']['p99']:.0f} ms |"
        )
    return results


if __name__ == "__main__":
    main()

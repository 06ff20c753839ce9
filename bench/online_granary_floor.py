#!/usr/bin/env python3
"""The raw redis-py floor of Granary's own online layout, and a quick latency check.

Granary reads a batch of feature vectors as ONE ``MGET`` of ``entries x groups`` keys
(``{project}:{group}:{version}:{key}``), each value a packed row. The floor is that
same ``MGET`` with keys precomputed in wire form, sent and read on a plain redis-py
connection, replies left as bytes: the least any client of this layout pays.
``bench/online.py`` can time it beside ``granary-redis``::

    from online_granary_floor import floor_serving
    many = floor_serving(fv, users)   # fv: a FeatureView after fv.init_serving(), on Redis
    many([uid, ...])                  # one MGET, raw bytes, no decoding

Run as a script it is the quick local measurement: synthetic users x 30 features in
two groups (20 float activity features, 5 float + 3 int + 2 string profile features),
batch 1 and batch 500 p50/p99 for Granary on SQLite, Granary on Redis and the floor::

    .venv/bin/python bench/online_granary_floor.py [--users 100000] [--calls1 2000] [--calls500 200]

Redis comes from ``ops/redis.sh start online-floor PORT`` (stopped at the end if this
script started it).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
KEY = "user_id"


def lookup_keys(fv: Any, entries: list[dict[str, Any]]) -> list[str]:
    """The online-store keys Granary reads for these entries, in request order."""
    return list(fv._backend.serving.lookup_keys(fv.name, fv.version, entries))


def floor_serving(fv: Any, users: Iterable[int], key: str = KEY) -> Callable[[list[int]], list[Any]]:
    """``many(uids)``: one raw MGET of the keys Granary would read (keys precomputed).

    The keys are precomputed in wire form (RESP), so a call joins them, sends the
    command and reads the reply as bytes on one redis-py connection of its own: the
    bytes Granary sends and reads, with nothing of Granary's in the timed call, and
    without redis-py's command layer (packing argument by argument, pool and metrics
    bookkeeping), which Granary skips too.
    """
    import redis

    store = fv._backend.engine.online
    config = getattr(store, "config", None)
    if config is None:
        raise SystemExit("the floor needs a Redis online store (granary.login(online_store='redis://...'))")
    connection = redis.Connection(
        host=config.host, port=config.port, db=config.db, username=config.username, password=config.password
    )
    per_user = {
        u: [b"$%d\r\n%b\r\n" % (len(k.encode()), k.encode()) for k in lookup_keys(fv, [{key: int(u)}])]
        for u in set(int(u) for u in users)
    }
    groups = len(next(iter(per_user.values())))

    def many(uids: list[int]) -> list[Any]:
        # Granary's order: all entries of group 0, then of group 1, ...
        keys = [per_user[u][g] for g in range(groups) for u in uids]
        connection.send_packed_command([b"*%d\r\n$4\r\nMGET\r\n%b" % (len(keys) + 1, b"".join(keys))], False)
        return connection.read_response()

    return many


# --------------------------------------------------------------------------- quick check


def _frames(users: int, rows_per_user: int, seed: int = 1) -> tuple[Any, Any]:
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = users * rows_per_user
    start = pd.Timestamp("2025-01-01", tz="UTC")
    activity = pd.DataFrame(
        {
            KEY: np.tile(np.arange(users), rows_per_user),
            "event_timestamp": start + pd.to_timedelta(rng.integers(0, 150 * 86400, n), unit="s"),
        }
        | {f"a_f{i:02d}": rng.random(n) for i in range(20)}
    )
    profile = pd.DataFrame(
        {KEY: np.arange(users), "event_timestamp": start}
        | {f"p_f{i}": rng.random(users) for i in range(5)}
        | {
            "p_age": rng.integers(18, 90, users),
            "p_n_orders": rng.integers(0, 500, users),
            "p_tenure_days": rng.integers(0, 3000, users),
            "p_country": rng.choice(["US", "DE", "FR", "GB", "JP"], users),
            "p_segment": rng.choice(["free", "basic", "pro", "enterprise"], users),
        }
    )
    return activity, profile


def _summary(ns: list[int]) -> str:
    ms = np.asarray(ns, dtype=np.float64) / 1e6
    p50, p99 = np.percentile(ms, [50, 99])
    return f"p50 {p50:7.3f} ms   p99 {p99:7.3f} ms"


def _time(fn: Callable[[Any], Any], args: list[Any]) -> list[int]:
    out = []
    for arg in args:
        t0 = time.perf_counter_ns()
        fn(arg)
        out.append(time.perf_counter_ns() - t0)
    return out


def _granary(home: str, online_store: str | None, frames: tuple[Any, Any]) -> tuple[Any, float]:
    import granary

    fs = granary.login(home=home, online_store=online_store).get_feature_store()
    groups = []
    t0 = time.perf_counter()
    for name, frame in zip(("user_activity", "user_profile"), frames, strict=True):
        fg = fs.create_feature_group(
            name=name, version=1, primary_key=[KEY], event_time="event_timestamp", online_enabled=True
        )
        fg.insert(frame)
        groups.append(fg)
    seconds = time.perf_counter() - t0
    fv = fs.create_feature_view(
        name="bench",
        version=1,
        query=groups[0]
        .select_all(include_primary_key=False, include_event_time=False)
        .join(groups[1].select_all(include_primary_key=False, include_event_time=False), on=[KEY]),
    )
    fv.init_serving()
    return fv, seconds


def _answers(port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(port=port, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _measure(
    store: str, url: str | None, frames: Any, singles: list[list[int]], batches: list[list[int]], batch: int
) -> None:
    if url:
        import redis

        redis.Redis.from_url(url).flushdb()
    with tempfile.TemporaryDirectory(prefix="granary-floor-") as home:
        fv, ingest = _granary(home, url, frames)
        print(f"\n[{store}] ingest {sum(len(f) for f in frames):,} rows in {ingest:.1f} s")

        def one(uids: list[int]) -> Any:
            return fv.get_feature_vector({KEY: uids[0]})

        def many(uids: list[int]) -> Any:
            return fv.get_feature_vectors([{KEY: u} for u in uids])

        _time(one, singles[:200]), _time(many, batches[:20])  # warm-up
        if not url:
            print(f"  granary batch 1  : {_summary(_time(one, singles[200:]))}")
            print(f"  granary batch {batch}: {_summary(_time(many, batches[20:]))}")
            return
        floor = floor_serving(fv, {u for b in singles + batches for u in b})
        _time(floor, singles[:200])
        # Interleaved, so both see the same load on a shared machine; CPU time is this
        # process's own work (user + system), which other processes disturb less.
        for label, granary_call, args in (("1  ", one, singles[200:]), (str(batch), many, batches[20:])):
            timings: dict[str, list[int]] = {"granary": [], "floor": []}
            cpu = {"granary": 0.0, "floor": 0.0}
            for arg in args:
                for name, call in (("floor", floor), ("granary", granary_call)):
                    c0, t0 = time.process_time(), time.perf_counter_ns()
                    call(arg)
                    timings[name].append(time.perf_counter_ns() - t0)
                    cpu[name] += time.process_time() - c0
            for name in ("granary", "floor"):
                per_call = cpu[name] / len(args) * 1e3
                print(f"  {name:7s} batch {label}: {_summary(timings[name])}   cpu {per_call:6.3f} ms/call")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument(
        "--rows-per-user", type=int, default=3, help="activity rows per user (newest is served)"
    )
    parser.add_argument("--calls1", type=int, default=2000)
    parser.add_argument("--calls500", type=int, default=200)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--port", type=int, default=27479)
    parser.add_argument("--stores", default="sqlite,redis")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(2)
    singles = [[int(u)] for u in rng.integers(0, args.users, args.calls1 + 200)]
    batches = [rng.choice(args.users, args.batch, replace=False).tolist() for _ in range(args.calls500 + 20)]
    frames = _frames(args.users, args.rows_per_user)
    started = False
    if "redis" in args.stores and not _answers(args.port):
        subprocess.run(
            ["bash", str(REPO / "ops" / "redis.sh"), "start", "online-floor", str(args.port)], check=True
        )
        started = True
    print(f"{args.users:,} users x 30 features in 2 groups")
    print(f"batch 1 x {args.calls1} calls, batch {args.batch} x {args.calls500} calls")
    try:
        for store in args.stores.split(","):
            url = None if store == "sqlite" else f"redis://127.0.0.1:{args.port}/2"
            _measure(store, url, frames, singles, batches, args.batch)
    finally:
        if started:
            subprocess.run(
                ["bash", str(REPO / "ops" / "redis.sh"), "stop", "online-floor", str(args.port)], check=False
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

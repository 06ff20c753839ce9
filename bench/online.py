#!/usr/bin/env python3
"""FSB-1 online benchmark: feature-vector lookup latency.

The online store holds the newest row per user of both groups (100,000 users); a
feature vector is the 30 features of one user. Batch 1 = one user per call (>= 2,000
calls), batch 500 = 500 distinct random users per call (>= 300 calls), both after a
warm-up. Every system reads the same user sequence; latencies are p50/p95/p99/max ms.

Systems (each in its own worker process):

- ``redis-floor-feast-layout``  pipelined redis-py HMGETs of exactly the hashes and
  fields Feast reads (keys precomputed, raw bytes, no decoding): the floor.
- ``feast``           Feast ``get_online_features(...).to_dict()`` on the same Redis,
  after ``feast apply`` + ``feast materialize`` (DuckDB offline store as source).
- ``granary-sqlite``  Granary embedded, default (SQLite) online store.
- ``granary-redis``   Granary embedded, Redis online store (db 1 of the same server).

Adding a system is one function returning a ``Serving`` plus one ``SYSTEMS`` entry.
After timing, each worker reads a fixed set of check users and the driver compares
the values with the newest rows computed independently (DuckDB over the Parquet).

Redis runs via ``ops/redis.sh start bench PORT`` and is stopped at the end (unless
it was already running before the benchmark started).

Usage::

    .venv/bin/python bench/online.py [--calls1 2000] [--calls500 300] [--systems feast,...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import harness
import workload
from feast_repo import FEATURE_REFS, PROJECT, feast_cli, write_repo
from harness import FEAST_PY, PROJECT_PY, REPO, RESULTS_DIR, STATUS_OK, InterleavedWorker, Prepared, WorkerRun

KEY = workload.KEY
FEATURES = workload.FEATURES
REDIS_HOST = "127.0.0.1"
FEAST_DB = 0
GRANARY_DB = 1
GRANARY_FLOOR_DB = 2
GRANARY_REDISPY_FLOOR_DB = 3
SEED = 20250102


# ------------------------------------------------------------ worker side


@dataclass
class Serving:
    """One system's lookup calls. ``one``/``many`` are timed; ``names`` is not.

    ``names(result, uids)`` turns what ``many`` returned into one {feature: value}
    dict per user, only for the correctness check after timing.
    """

    one: Callable[[int], Any]
    many: Callable[[list[int]], Any]
    names: Callable[[Any, list[int]], list[dict[str, Any]]]
    info: dict[str, Any] = field(default_factory=dict)
    handle: Any = None  # the system's own object (e.g. Granary's FeatureView), for floors built on it


def _latency_summary(ns: list[int], batch: int) -> dict[str, Any]:
    """p50/p95/p99/max/mean in ms and vectors/s over the timed calls."""
    import numpy as np

    ms = np.asarray(ns, dtype=np.float64) / 1e6
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {
        "calls": len(ms),
        "batch": batch,
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "max_ms": float(ms.max()),
        "mean_ms": float(ms.mean()),
        "vectors_per_s": float(batch * len(ms) / (ms.sum() / 1e3)),
    }


def _time_calls(fn: Callable[[Any], Any], args: list[Any]) -> list[int]:
    out = []
    for arg in args:
        t0 = time.perf_counter_ns()
        fn(arg)
        out.append(time.perf_counter_ns() - t0)
    return out


def _jsonable(value: Any) -> Any:
    """numpy scalars and the like -> plain JSON values for the check report."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def prepare_serving(serving: Serving, plan: dict[str, Any], rounds: int) -> Prepared:
    """Warm up now; then each timed round reads its 1/rounds share of the plan.

    Round k takes batch-1 calls k, k+rounds, ... and batch-N calls likewise, so the
    driver can interleave systems round by round. ``finish`` summarizes the
    latencies and reads the check users (untimed).
    """
    for uid in plan["warmup1"]:
        serving.one(uid)
    for uids in plan["warmup_batches"]:
        serving.many(uids)
    lat1: list[int] = []
    latn: list[int] = []
    done = [0]

    def one_round() -> None:
        k = done[0]
        lat1.extend(_time_calls(serving.one, plan["calls1"][k::rounds]))
        latn.extend(_time_calls(serving.many, plan["batches"][k::rounds]))
        done[0] += 1

    def finish(_: Any) -> dict[str, Any]:
        check_users = plan["check_users"]
        vectors = serving.names(serving.many(check_users), check_users)
        singles = [serving.names(serving.one(u), [u])[0] for u in check_users[:20]]
        return {
            "batch1": _latency_summary(lat1, 1),
            "batchN": _latency_summary(latn, len(plan["batches"][0])),
            "check": {
                "many": _check_report(check_users, vectors),
                "one": _check_report(check_users[:20], singles),
            },
        }

    return Prepared(call=one_round, finish=finish, info=serving.info)


def _check_report(uids: list[int], vectors: list[dict[str, Any]]) -> dict[str, Any]:
    if len(uids) != len(vectors):
        raise ValueError(f"{len(vectors)} vectors returned for {len(uids)} users")
    return {str(u): {k: _jsonable(v) for k, v in vec.items()} for u, vec in zip(uids, vectors, strict=True)}


def _feast_hash_layout() -> dict[str, list[Any]]:
    """Feast's Redis hash fields per feature view: mmh3(fv:feature)... + _ts:fv."""
    from feast.infra.online_stores.helpers import _mmh3

    by_view: dict[str, list[str]] = {}
    for ref in FEATURE_REFS:
        view, feature = ref.split(":")
        by_view.setdefault(view, []).append(feature)
    return {v: [_mmh3(f"{v}:{f}") for f in feats] + [f"_ts:{v}"] for v, feats in by_view.items()}


def _feast_key(uid: int) -> bytes:
    """Feast's Redis key for a user: serialized EntityKey (v3) + project name."""
    from feast.infra.online_stores.helpers import _redis_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    entity = EntityKey(join_keys=[KEY], entity_values=[Value(int64_val=int(uid))])
    return _redis_key(PROJECT, entity, entity_key_serialization_version=3)


def redis_floor_feast_layout(params: dict[str, Any]) -> Serving:
    """The floor: the HMGETs Feast issues, one pipeline per call, no decoding.

    Keys are precomputed for every user the plan touches, so the timed part is
    only redis-py + the server: the least any client of this layout must pay.
    """
    import redis
    from feast.protos.feast.types.Value_pb2 import Value

    client = redis.Redis(host=REDIS_HOST, port=params["port"], db=FEAST_DB)
    layout = _feast_hash_layout()
    keys = {u: _feast_key(u) for u in _plan_users(params["plan"])}

    def many(uids: list[int]) -> list[Any]:
        with client.pipeline(transaction=False) as pipe:
            for uid in uids:
                for fields in layout.values():
                    pipe.hmget(keys[uid], fields)
            return pipe.execute()

    def names(replies: list[Any], uids: list[int]) -> list[dict[str, Any]]:
        features = [ref.split(":")[1] for ref in FEATURE_REFS]
        out = []
        for i in range(len(uids)):
            raw = [b for r in replies[i * len(layout) : (i + 1) * len(layout)] for b in r[:-1]]  # drop _ts
            values = [Value.FromString(b) if b is not None else None for b in raw]
            out.append({f: _decode(v) for f, v in zip(features, values, strict=True)})
        return out

    return Serving(one=lambda u: many([u]), many=many, names=names, info={"redis_py": redis.__version__})


def _decode(value: Any) -> Any:
    """Python value of a Feast ValueProto (None for a missing field)."""
    return getattr(value, value.WhichOneof("val")) if value is not None else None


def feast_online(params: dict[str, Any]) -> Serving:
    """Feast get_online_features with entity rows as a list of dicts (the documented form)."""
    from feast import FeatureStore

    store = FeatureStore(repo_path=params["feast_repo"])

    def many(uids: list[int]) -> dict[str, list[Any]]:
        rows = [{KEY: int(u)} for u in uids]
        return store.get_online_features(features=FEATURE_REFS, entity_rows=rows).to_dict()

    def names(result: dict[str, list[Any]], uids: list[int]) -> list[dict[str, Any]]:
        return [{f: result[f][i] for f in FEATURES} for i in range(len(uids))]

    return Serving(
        one=lambda u: many([u]),
        many=many,
        names=names,
        info={"versions": harness.package_versions(["feast", "redis", "hiredis", "protobuf"])},
    )


def _granary_serving(params: dict[str, Any], online_store: str | None) -> Serving:
    """Granary embedded: ingest both groups online-enabled, init_serving, look up."""
    import pyarrow.parquet as pq

    import granary

    data_dir = Path(params["data_dir"])
    home = tempfile.mkdtemp(prefix="granary-online-", dir=params["workdir"])
    login_args = {"online_store": online_store} if online_store else {}
    project = granary.login(home=home, **login_args)
    fs = project.get_feature_store()
    groups, ingest = {}, {}
    for name in ("user_profile", "user_activity"):
        fg = fs.create_feature_group(
            name=name, version=1, primary_key=[KEY], event_time=workload.EVENT_TIME, online_enabled=True
        )
        table = pq.read_table(data_dir / f"{name}.parquet")
        seconds, _ = harness.timed(lambda fg=fg, table=table: fg.insert(table))
        ingest[name] = {"rows": table.num_rows, "seconds": seconds, "rows_per_s": table.num_rows / seconds}
        groups[name] = fg
    query = (
        groups["user_activity"]
        .select_all(include_primary_key=False, include_event_time=False)
        .join(
            groups["user_profile"].select_all(include_primary_key=False, include_event_time=False), on=[KEY]
        )
    )
    fv = fs.create_feature_view(name="bench", version=1, query=query)
    missing = [m for m in ("init_serving", "get_feature_vector", "get_feature_vectors") if not hasattr(fv, m)]
    if missing:
        raise harness.Unavailable(f"FeatureView has no {', '.join(missing)} yet")
    fv.init_serving()

    def names(result: Any, uids: list[int]) -> list[dict[str, Any]]:
        vectors = [result] if len(uids) == 1 and not _is_batch(result) else list(_rows(result))
        return [_name_vector(v, fv) for v in vectors]

    return Serving(
        one=lambda u: fv.get_feature_vector({KEY: u}),
        many=lambda uids: fv.get_feature_vectors([{KEY: u} for u in uids]),
        names=names,
        info={"ingest": ingest, "home": home},
        handle=fv,
    )


def _is_batch(result: Any) -> bool:
    """True if a single-user result already is a batch (a frame, or a list of vectors)."""
    if hasattr(result, "columns"):
        return True
    return isinstance(result, list) and bool(result) and isinstance(result[0], (list, tuple, dict))


def _rows(result: Any) -> Iterator[Any]:
    """Vectors of a batch result: frame rows as dicts, else the items of the list."""
    if hasattr(result, "to_dicts"):  # polars
        yield from result.to_dicts()
    elif hasattr(result, "to_dict") and hasattr(result, "columns"):  # pandas
        yield from result.to_dict(orient="records")
    elif hasattr(result, "to_pylist"):  # pyarrow
        yield from result.to_pylist()
    else:
        yield from result


def _name_vector(vector: Any, fv: Any) -> dict[str, Any]:
    """A vector as {feature: value}; plain lists are named by the view's features."""
    if isinstance(vector, dict):
        return vector
    if hasattr(vector, "columns"):
        return next(_rows(vector))
    values = list(vector)
    names = [getattr(f, "name", f) for f in getattr(fv, "features", []) or []]
    if len(names) != len(values):
        names = FEATURES if len(values) == len(FEATURES) else [f"#{i}" for i in range(len(values))]
    return dict(zip(names, values, strict=True))


def granary_sqlite(params: dict[str, Any]) -> Serving:
    return _granary_serving(params, online_store=None)


def granary_redis(params: dict[str, Any], db: int = GRANARY_DB) -> Serving:
    """Granary on Redis, in its own database (workers run side by side)."""
    import redis

    redis.Redis(host=REDIS_HOST, port=params["port"], db=db).flushdb()
    return _granary_serving(params, online_store=f"redis://{REDIS_HOST}:{params['port']}/{db}")


def granary_redis_floor(params: dict[str, Any]) -> Serving:
    """Floor of Granary's own Redis layout: one raw MGET of the keys Granary reads.

    ``floor_serving`` (bench/online_granary_floor.py) precomputes the keys and leaves
    replies as bytes. Packed rows cannot be named without Granary, so the check
    asks that every key exists and lets Granary decode the same users.
    """
    from online_granary_floor import floor_serving

    base = granary_redis(params, db=GRANARY_FLOOR_DB)
    many = floor_serving(base.handle, _plan_users(params["plan"]))

    def names(replies: list[Any], uids: list[int]) -> list[dict[str, Any]]:
        if any(reply is None for reply in replies):
            return [{} for _ in uids]
        return base.names(base.many(uids), uids)

    return Serving(one=lambda u: many([u]), many=many, names=names, info=base.info)


def granary_redis_floor_redispy(params: dict[str, Any]) -> Serving:
    """The everyday redis-py floor: ``client.mget`` of the keys Granary reads, keys
    precomputed, replies left as bytes. redis-py packs each argument and goes through
    its pool and command layer, which ``granary-redis-floor`` skips (as Granary does), so
    this floor is the weaker of the two; both are reported."""
    import redis
    from online_granary_floor import lookup_keys

    base = granary_redis(params, db=GRANARY_REDISPY_FLOOR_DB)
    client = redis.Redis(host=REDIS_HOST, port=params["port"], db=GRANARY_REDISPY_FLOOR_DB)
    per_user = {u: lookup_keys(base.handle, [{KEY: u}]) for u in _plan_users(params["plan"])}
    groups = len(next(iter(per_user.values())))

    def many(uids: list[int]) -> list[Any]:
        return client.mget([per_user[u][g] for g in range(groups) for u in uids])

    def names(replies: list[Any], uids: list[int]) -> list[dict[str, Any]]:
        if any(reply is None for reply in replies):
            return [{} for _ in uids]
        return base.names(base.many(uids), uids)

    return Serving(one=lambda u: many([u]), many=many, names=names, info=base.info)


@dataclass(frozen=True)
class System:
    """A system under test: its Serving factory, interpreter, and Feast needs.

    ``floor`` names the raw read of the same storage layout that this system's
    latency is divided by ("vs floor" column); a floor names itself.
    """

    serving: Callable[[dict[str, Any]], Serving]
    python: Path
    needs_feast_repo: bool = False
    floor: str | None = None


SYSTEMS: dict[str, System] = {
    "redis-floor-feast-layout": System(
        redis_floor_feast_layout, FEAST_PY, needs_feast_repo=True, floor="redis-floor-feast-layout"
    ),
    "feast": System(feast_online, FEAST_PY, needs_feast_repo=True, floor="redis-floor-feast-layout"),
    "granary-sqlite": System(granary_sqlite, PROJECT_PY),
    "granary-redis": System(granary_redis, PROJECT_PY, floor="granary-redis-floor"),
    "granary-redis-floor": System(granary_redis_floor, PROJECT_PY, floor="granary-redis-floor"),
    "granary-redis-floor-redispy": System(
        granary_redis_floor_redispy, PROJECT_PY, floor="granary-redis-floor-redispy"
    ),
}


def _factory(name: str) -> Callable[[dict[str, Any]], Prepared]:
    def prepare(params: dict[str, Any]) -> Prepared:
        plan = json.loads(Path(params["plan"]).read_text())
        return prepare_serving(SYSTEMS[name].serving(params), plan, params["rounds"])

    return prepare


def _plan_users(plan_path: str) -> set[int]:
    plan = json.loads(Path(plan_path).read_text())
    users = set(plan["warmup1"]) | set(plan["calls1"]) | set(plan["check_users"])
    for batch in plan["warmup_batches"] + plan["batches"]:
        users.update(batch)
    return users


# ------------------------------------------------------------------ driver


@contextmanager
def redis_server(port: int) -> Iterator[bool]:
    """A Redis on 127.0.0.1:port via ops/redis.sh; stopped on exit if we started it.

    The ops script caps memory at 256 MiB with noeviction (a dev cache tier); the
    benchmark holds Feast's and Granary's copies of 100k users, so it lifts the cap
    on its own instance instead of failing writes half-way.
    """
    import redis

    client = redis.Redis(host=REDIS_HOST, port=port)
    already = _pings(client)
    if not already:
        subprocess.run(["bash", str(REPO / "ops" / "redis.sh"), "start", "bench", str(port)], check=True)
        client.config_set("maxmemory", "4gb")
    try:
        yield not already
    finally:
        if not already:
            subprocess.run(["bash", str(REPO / "ops" / "redis.sh"), "stop", "bench", str(port)], check=False)


def _pings(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # any connection failure means "not running"
        return False


def make_plan(args: argparse.Namespace, path: Path) -> dict[str, Any]:
    """The user ids every system reads, in order (fixed seed, same for all)."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    users = workload.load("entities")[KEY].to_numpy()
    singles = rng.choice(users, args.warmup1 + args.calls1, replace=False).tolist()
    n_batches = args.warmup_n + args.callsN
    batches = [rng.choice(users, args.batch, replace=False).tolist() for _ in range(n_batches)]
    plan = {
        "warmup1": singles[: args.warmup1],
        "calls1": singles[args.warmup1 :],
        "warmup_batches": batches[: args.warmup_n],
        "batches": batches[args.warmup_n :],
        "check_users": rng.choice(users, args.check_users, replace=False).tolist(),
    }
    path.write_text(json.dumps(plan))
    return plan


def expected_vectors(users: list[int]) -> dict[int, dict[str, Any]]:
    """Newest activity + newest profile row of each user, computed by DuckDB."""
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    con.register("wanted", pa.table({KEY: pa.array(users, pa.int64())}))
    newest = "QUALIFY row_number() OVER (PARTITION BY {k} ORDER BY event_timestamp DESC) = 1"
    sql = f"""
        WITH a AS (SELECT * FROM read_parquet('{workload.path("user_activity")}') {newest.format(k=KEY)}),
             p AS (SELECT * FROM read_parquet('{workload.path("user_profile")}') {newest.format(k=KEY)})
        SELECT w.{KEY}, {", ".join(FEATURES)} FROM wanted w JOIN a USING ({KEY}) JOIN p USING ({KEY})
    """
    rows = con.sql(sql).to_arrow_table().to_pylist()
    return {r[KEY]: {f: r[f] for f in FEATURES} for r in rows}


def check(report: dict[str, Any], expected: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Count check vectors that differ from the newest rows (batch and single reads)."""
    result = {}
    for mode, vectors in report.get("check", {}).items():
        missing = wrong = 0
        bad_features: set[str] = set()
        for uid, vec in vectors.items():
            want = expected[int(uid)]
            diffs = [f for f in FEATURES if not _same(vec.get(f, "<missing>"), want[f])]
            if all(f not in vec for f in FEATURES):
                missing += 1
            elif diffs:
                wrong += 1
                bad_features.update(diffs)
        result[mode] = {
            "checked": len(vectors),
            "unnamed_or_missing": missing,
            "wrong": wrong,
            "wrong_features": sorted(bad_features)[:10],
        }
    return result


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, float) or isinstance(got, float):
        try:
            return float(got) == float(want)
        except (TypeError, ValueError):
            return False
    return got == want


def setup_feast(workdir: Path, port: int) -> tuple[Path, dict[str, float]]:
    """feast apply + feast materialize into Redis db 0 (flushed first)."""
    import redis

    redis.Redis(host=REDIS_HOST, port=port, db=FEAST_DB).flushdb()
    repo = write_repo(
        workdir / "feast-online",
        workload.ensure(),
        offline="duckdb",
        redis_url=f"{REDIS_HOST}:{port},db={FEAST_DB}",
    )
    timings = {"feast_apply_s": feast_cli(repo, "apply")}
    # The window covers every event time in FSB-1, so this loads the newest row
    # per user of both views (1.1M source rows -> 200k hashes).
    window = ("2024-12-31T00:00:00", "2025-06-02T00:00:00")
    timings["feast_materialize_s"] = feast_cli(repo, "materialize", *window)
    info = redis.Redis(host=REDIS_HOST, port=port, db=FEAST_DB).info("memory")
    timings["redis_used_memory_mib_after_materialize"] = info["used_memory"] / 2**20
    return repo, timings


def table(results: dict[str, dict[str, Any]]) -> str:
    headers = ["system", "batch", "calls", "p50 ms", "p95 ms", "p99 ms", "max ms", "vectors/s"]
    headers += ["p50 vs its floor", "check"]
    rows = []
    for name, res in results.items():
        floor = results.get(SYSTEMS[name].floor or "", {})
        if res["status"] != STATUS_OK:
            rows.append([name, f"{res['status']} ({res['error']})"] + [""] * (len(headers) - 2))
            continue
        checks = res.get("checks", {})
        ok = all(c["wrong"] == 0 and c["unnamed_or_missing"] == 0 for c in checks.values())
        summary = "ok" if ok and checks else json.dumps(checks)
        for part in ("batch1", "batchN"):
            lat = res[part]
            base = floor.get(part, {}).get("p50_ms") if floor.get("status") == STATUS_OK else None
            base = base if name != SYSTEMS[name].floor else None  # a floor's own ratio says nothing
            ratio = f"{lat['p50_ms'] / base:.1f}x" if base else "-"
            pct = [lat["p50_ms"], lat["p95_ms"], lat["p99_ms"], lat["max_ms"]]
            rows.append([name, lat["batch"], lat["calls"], *pct, int(lat["vectors_per_s"]), ratio, summary])
    return harness.markdown_table(headers, rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="FSB-1 online feature-vector benchmark")
    parser.add_argument("--calls1", type=int, default=2000, help="timed batch-1 calls")
    parser.add_argument("--callsN", type=int, default=300, help="timed batch-N calls")
    parser.add_argument("--batch", type=int, default=500, help="users per batch call")
    parser.add_argument("--warmup1", type=int, default=200)
    parser.add_argument("--warmup-n", type=int, default=20)
    parser.add_argument("--check-users", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=10, help="interleaving rounds the calls are split into")
    parser.add_argument("--port", type=int, default=26379)
    parser.add_argument("--systems", help=f"comma list from {','.join(SYSTEMS)} (default all)")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "online.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--params", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--reply-fd", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run_interleaved(
    names: list[str], params: dict[str, Any], workdir: Path, args: argparse.Namespace
) -> dict[str, WorkerRun]:
    """Start every system's worker (ingest/warm-up), then run the rounds round-robin.

    Interleaving spreads each system's calls over the same stretch of time, so a
    busy neighbour on a shared machine hits all systems alike.
    """
    workers: dict[str, InterleavedWorker] = {}
    runs: dict[str, WorkerRun] = {}
    for name in names:
        system = SYSTEMS[name]
        if system.needs_feast_repo and "feast_repo" not in params:
            runs[name] = WorkerRun(name, harness.STATUS_UNAVAILABLE, error=params.get("feast_error", ""))
            continue
        print(f"[online] {name}: setting up", file=sys.stderr, flush=True)
        workers[name] = InterleavedWorker(name, system.python, Path(__file__), params, workdir, args.timeout)
        workers[name].ready()
    live = [n for n, w in workers.items() if w.alive]
    for k in range(args.rounds):
        print(f"[online] round {k + 1}/{args.rounds}", file=sys.stderr, flush=True)
        shift = k % max(len(live), 1)
        for name in live[shift:] + live[:shift]:
            workers[name].run_once()
    runs.update({name: worker.finish() for name, worker in workers.items()})
    return {n: runs[n] for n in names}


def run_all(
    args: argparse.Namespace, names: list[str], workdir: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start Redis, set up Feast if needed, run each system's worker, check values."""
    plan_path = workdir / "plan.json"
    plan = make_plan(args, plan_path)
    expected = expected_vectors(plan["check_users"])
    params: dict[str, Any] = {
        "data_dir": str(workload.ensure()),
        "plan": str(plan_path),
        "port": args.port,
        "workdir": str(workdir),
        "rounds": args.rounds,
    }
    results: dict[str, Any] = {}
    setup: dict[str, Any] = {}
    with redis_server(args.port) as started:
        setup["redis_started_by_benchmark"] = started
        if any(SYSTEMS[n].needs_feast_repo for n in names):
            print("[online] feast apply + materialize", file=sys.stderr, flush=True)
            try:
                repo, setup["feast"] = setup_feast(workdir, args.port)
                params["feast_repo"] = str(repo)
            except (FileNotFoundError, RuntimeError) as exc:
                setup["feast_error"] = params["feast_error"] = str(exc)
        runs = run_interleaved(names, params, workdir, args)
    for name, run in runs.items():
        if run.status != STATUS_OK:
            print(f"{name}: {run.status} ({run.error})", file=sys.stderr)
            results[name] = {"status": run.status, "error": run.error}
            continue
        data = run.data
        data["checks"] = check(data, expected)
        data.pop("check", None)
        data.pop("times", None)  # per-round wall times; the latencies are what count
        results[name] = {
            "status": run.status,
            "process_peak_rss_mib": run.process_peak_rss_mib,
            "loadavg_1m_before_after": run.loadavg,
            **data,
        }
    return results, setup


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        factories = {n: _factory(n) for n in SYSTEMS}
        return harness.interleaved_worker_main(factories, args.worker, args.params, args.out, args.reply_fd)
    names = [s.strip() for s in args.systems.split(",")] if args.systems else list(SYSTEMS)
    unknown = set(names) - set(SYSTEMS)
    if unknown:
        sys.exit(f"unknown systems: {sorted(unknown)}")
    with tempfile.TemporaryDirectory(prefix="fsb-online-") as tmp:
        results, setup = run_all(args, names, Path(tmp))
    print(f"\nFSB-1 online: {args.calls1:,d} calls of batch 1, {args.callsN:,d} of batch {args.batch}\n")
    print(table(results))
    harness.write_json(
        args.out,
        {
            "benchmark": "FSB-1 online feature vectors",
            "params": {k: v for k, v in vars(args).items() if k not in {"worker", "params", "out"}},
            "machine": harness.machine_info(),
            "setup": setup,
            "systems": results,
        },
    )
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

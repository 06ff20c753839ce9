#!/usr/bin/env python3
"""FSB-1 reference workload: deterministic synthetic feature-store data as Parquet.

Every Granary benchmark that compares with another system reads this data, so the
numbers stay comparable across issues and over time (see WORKLOAD.md in the shared
bench folder). The random draws follow the reference generator ``gen_workload.py``
call for call, so with the same seed the files hold the same values as its output.

Tables (all timestamps ``timestamp[us, tz=UTC]``, ``(user_id, event_timestamp)``
unique in each):

- ``user_profile``  100,000 rows, one per user, 10 features
- ``user_activity`` 1,000,000 rows, 10 per user, shuffled, 20 float64 features
- ``spine``         1,000,000 rows: user_id, event_timestamp, label (0/1)
- ``spine_100k``    the first 100,000 rows of ``spine`` (the small variant)
- ``entities``      the 100,000 user ids

FSB-K (``--scale K`` or ``$WORKLOAD_SCALE``) multiplies users, activity rows and spine
rows by K with the same seed and the same draws in the same order, for curves of cost
against size; K = 1 is FSB-1 exactly. Each K has its own cache dir (``workload-kK``).

Usage::

    python bench/workload.py [--dir DIR] [--scale K] [--force]

    import workload
    workload.ensure()                 # generate once into the cache dir
    workload.ensure(scale=5)          # FSB-5, in its own cache dir
    table = workload.load("spine")    # -> pyarrow.Table
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

SEED = 20250101
N_USERS = 100_000
N_ACT_PER_USER = 10
N_SPINE = 1_000_000
N_SPINE_SMALL = 100_000
FORMAT_VERSION = 1  # bump when the shape changes so stale caches are regenerated

PROFILE_FLOAT = [f"p_f{i}" for i in range(5)]
PROFILE_INT = ["p_age", "p_n_orders", "p_tenure_days"]
PROFILE_STR = ["p_country", "p_segment"]
PROFILE_FEATURES = PROFILE_FLOAT + PROFILE_INT + PROFILE_STR
ACTIVITY_FEATURES = [f"a_f{i:02d}" for i in range(20)]
FEATURES = ACTIVITY_FEATURES + PROFILE_FEATURES  # the 30 features of a vector
KEY = "user_id"
EVENT_TIME = "event_timestamp"
LABEL = "label"

COUNTRIES = ["US", "DE", "FR", "GB", "JP", "BR", "IN", "CA", "ES", "IT"]
SEGMENTS = ["free", "basic", "pro", "enterprise"]


def expected_rows(scale: int = 1) -> dict[str, int]:
    """Rows of every table of FSB-``scale`` (the small spine stays a 100k prefix)."""
    return {
        "entities": N_USERS * scale,
        "user_profile": N_USERS * scale,
        "user_activity": N_USERS * scale * N_ACT_PER_USER,
        "spine": N_SPINE * scale,
        "spine_100k": N_SPINE_SMALL,
    }


EXPECTED_ROWS = expected_rows(1)
TS_TYPE = pa.timestamp("us", tz="UTC")
MANIFEST = "manifest.json"

REPO = Path(__file__).resolve().parent.parent


def default_scale() -> int:
    """K of FSB-K: $WORKLOAD_SCALE (as the shared reference generator reads it), else 1."""
    scale = int(os.environ.get("WORKLOAD_SCALE", "1"))
    if scale < 1:
        raise ValueError(f"WORKLOAD_SCALE={scale}: the scale factor must be a positive integer")
    return scale


def default_dir(scale: int = 1) -> Path:
    """Cache dir: $FSB_WORKLOAD_DIR, else $REPO/.cache/workload (git-ignored); FSB-K
    for K > 1 in a sibling ``workload-kK``, so every K stays cached beside the others."""
    env = os.environ.get("FSB_WORKLOAD_DIR")
    base = Path(env) if env else REPO / ".cache" / "workload"
    return base if scale == 1 else base.with_name(f"{base.name}-k{scale}")


def _us(ts: str) -> int:
    """Microseconds since the epoch of a UTC timestamp string."""
    return pd.Timestamp(ts, tz="UTC").value // 1000


def _ts_array(us: np.ndarray) -> pa.Array:
    return pa.array(us.astype(np.int64), type=pa.int64()).cast(TS_TYPE)


def _unique_times(rng: np.random.Generator, users: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Uniform microsecond times in [lo, hi), redrawn until (user, time) is unique.

    Redraws only the later duplicates, in row order, exactly as the reference does,
    so the random stream (and hence every later table) matches it.
    """
    ts = rng.integers(lo, hi, size=len(users), dtype=np.int64)
    while True:
        dup = pd.DataFrame({"u": users, "t": ts}).duplicated(["u", "t"]).to_numpy()
        if not dup.any():
            return ts
        ts[dup] = rng.integers(lo, hi, size=int(dup.sum()), dtype=np.int64)


def _profile(rng: np.random.Generator, user_ids: np.ndarray) -> pa.Table:
    n = len(user_ids)
    cols: dict[str, pa.Array] = {
        KEY: pa.array(user_ids),
        EVENT_TIME: _ts_array(_unique_times(rng, user_ids, _us("2025-01-01"), _us("2025-03-01"))),
    }
    for c in PROFILE_FLOAT:
        cols[c] = pa.array(rng.normal(0.0, 1.0, n))
    cols["p_age"] = pa.array(rng.integers(18, 90, n, dtype=np.int64))
    cols["p_n_orders"] = pa.array(rng.poisson(12, n).astype(np.int64))
    cols["p_tenure_days"] = pa.array(rng.integers(0, 3650, n, dtype=np.int64))
    countries, segments = np.array(COUNTRIES), np.array(SEGMENTS)
    cols["p_country"] = pa.array(countries[rng.integers(0, len(countries), n)].tolist(), type=pa.string())
    cols["p_segment"] = pa.array(segments[rng.integers(0, len(segments), n)].tolist(), type=pa.string())
    return pa.table(cols)


def _activity(rng: np.random.Generator, user_ids: np.ndarray) -> pa.Table:
    users = np.repeat(user_ids, N_ACT_PER_USER)
    users = users[rng.permutation(len(users))]  # shuffled: not sorted by user or time
    n = len(users)
    cols: dict[str, pa.Array] = {
        KEY: pa.array(users),
        EVENT_TIME: _ts_array(_unique_times(rng, users, _us("2025-01-01"), _us("2025-06-01"))),
    }
    for c in ACTIVITY_FEATURES:
        cols[c] = pa.array(rng.normal(0.0, 1.0, n))
    return pa.table(cols)


def _spine(rng: np.random.Generator, user_ids: np.ndarray, scale: int) -> pa.Table:
    n = N_SPINE * scale
    users = user_ids[rng.integers(0, len(user_ids), n)]
    ts = _unique_times(rng, users, _us("2025-02-01"), _us("2025-06-01"))
    label = rng.integers(0, 2, n, dtype=np.int64)
    return pa.table({KEY: pa.array(users), EVENT_TIME: _ts_array(ts), LABEL: pa.array(label)})


def generate(scale: int = 1) -> dict[str, pa.Table]:
    """All FSB-``scale`` tables, in the reference generator's draw order."""
    rng = np.random.default_rng(SEED)
    user_ids = np.sort(rng.choice(10**9, size=N_USERS * scale, replace=False).astype(np.int64))
    tables = {"entities": pa.table({KEY: user_ids})}
    tables["user_profile"] = _profile(rng, user_ids)
    tables["user_activity"] = _activity(rng, user_ids)
    tables["spine"] = _spine(rng, user_ids, scale)
    tables["spine_100k"] = tables["spine"].slice(0, N_SPINE_SMALL)
    return tables


def check(name: str, table: pa.Table, scale: int = 1) -> None:
    """Fail loudly if a table breaks the FSB-K contract (rows, types, uniqueness)."""
    expected = expected_rows(scale)[name]
    if table.num_rows != expected:
        raise ValueError(f"{name}: {table.num_rows} rows, expected {expected}")
    if table.schema.field(KEY).type != pa.int64():
        raise ValueError(f"{name}: {KEY} is {table.schema.field(KEY).type}, expected int64")
    if name == "entities":
        unique = pc.count_distinct(table[KEY]).as_py()
        if unique != table.num_rows:
            raise ValueError(f"entities: {unique} distinct ids in {table.num_rows} rows")
        return
    if table.schema.field(EVENT_TIME).type != TS_TYPE:
        raise ValueError(f"{name}: {EVENT_TIME} is {table.schema.field(EVENT_TIME).type}")
    pairs = table.select([KEY, EVENT_TIME]).group_by([KEY, EVENT_TIME]).aggregate([])
    if pairs.num_rows != table.num_rows:
        raise ValueError(f"{name}: ({KEY}, {EVENT_TIME}) not unique")


def _manifest_ok(directory: Path, scale: int) -> bool:
    """True when a finished generation of this format, seed and scale is in directory."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("format") != FORMAT_VERSION or manifest.get("seed") != SEED:
        return False
    if manifest.get("scale", 1) != scale:
        return False
    for name, rows in expected_rows(scale).items():
        path = directory / f"{name}.parquet"
        if not path.exists() or pq.read_metadata(path).num_rows != rows:
            return False
    return True


def ensure(directory: Path | None = None, force: bool = False, scale: int = 1) -> Path:
    """Generate FSB-``scale`` into directory unless a complete copy is there.

    Writes into a sibling temp dir and renames it into place, so an interrupted run
    never leaves a half-written cache that looks complete.
    """
    directory = Path(directory) if directory else default_dir(scale)
    if not force and _manifest_ok(directory, scale):
        return directory
    t0 = time.perf_counter()
    tables = generate(scale)
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, table in tables.items():
        check(name, table, scale)
        pq.write_table(table, tmp / f"{name}.parquet")
    del tables
    manifest = {"format": FORMAT_VERSION, "seed": SEED, "scale": scale, "rows": expected_rows(scale)}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(directory, ignore_errors=True)
    tmp.rename(directory)
    print(f"workload: generated {directory} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return directory


def path(name: str, directory: Path | None = None, scale: int = 1) -> Path:
    """Parquet path of one table (generating the workload first if needed)."""
    if name not in EXPECTED_ROWS:
        raise KeyError(f"unknown table {name!r}; one of {sorted(EXPECTED_ROWS)}")
    return ensure(directory, scale=scale) / f"{name}.parquet"


def load(name: str, directory: Path | None = None, scale: int = 1) -> pa.Table:
    """One FSB-``scale`` table as a pyarrow Table."""
    return pq.read_table(path(name, directory, scale))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="cache dir (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="regenerate even if complete")
    parser.add_argument(
        "--scale", type=int, default=None, help="K of FSB-K (default $WORKLOAD_SCALE, else 1)"
    )
    args = parser.parse_args(argv)
    scale = args.scale or default_scale()
    directory = ensure(args.dir, force=args.force, scale=scale)
    for name in EXPECTED_ROWS:
        p = directory / f"{name}.parquet"
        md = pq.read_metadata(p)
        size = p.stat().st_size
        print(f"  {p.name:24s} rows={md.num_rows:>9,d} cols={md.num_columns:>3d} bytes={size:>12,d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

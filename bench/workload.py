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

Usage::

    python bench/workload.py [--dir DIR] [--force]

    import workload
    workload.ensure()                 # generate once into the cache dir
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

EXPECTED_ROWS = {
    "entities": N_USERS,
    "user_profile": N_USERS,
    "user_activity": N_USERS * N_ACT_PER_USER,
    "spine": N_SPINE,
    "spine_100k": N_SPINE_SMALL,
}
TS_TYPE = pa.timestamp("us", tz="UTC")
MANIFEST = "manifest.json"

REPO = Path(__file__).resolve().parent.parent


def default_dir() -> Path:
    """Cache dir: $FSB_WORKLOAD_DIR, else $REPO/.cache/workload (git-ignored)."""
    env = os.environ.get("FSB_WORKLOAD_DIR")
    return Path(env) if env else REPO / ".cache" / "workload"


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


def _spine(rng: np.random.Generator, user_ids: np.ndarray) -> pa.Table:
    users = user_ids[rng.integers(0, N_USERS, N_SPINE)]
    ts = _unique_times(rng, users, _us("2025-02-01"), _us("2025-06-01"))
    label = rng.integers(0, 2, N_SPINE, dtype=np.int64)
    return pa.table({KEY: pa.array(users), EVENT_TIME: _ts_array(ts), LABEL: pa.array(label)})


def generate() -> dict[str, pa.Table]:
    """All FSB-1 tables, in the reference generator's draw order."""
    rng = np.random.default_rng(SEED)
    user_ids = np.sort(rng.choice(10**9, size=N_USERS, replace=False).astype(np.int64))
    tables = {"entities": pa.table({KEY: user_ids})}
    tables["user_profile"] = _profile(rng, user_ids)
    tables["user_activity"] = _activity(rng, user_ids)
    tables["spine"] = _spine(rng, user_ids)
    tables["spine_100k"] = tables["spine"].slice(0, N_SPINE_SMALL)
    return tables


def check(name: str, table: pa.Table) -> None:
    """Fail loudly if a table breaks the FSB-1 contract (rows, types, uniqueness)."""
    if table.num_rows != EXPECTED_ROWS[name]:
        raise ValueError(f"{name}: {table.num_rows} rows, expected {EXPECTED_ROWS[name]}")
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


def _manifest_ok(directory: Path) -> bool:
    """True when a finished generation of this format and seed is in directory."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("format") != FORMAT_VERSION or manifest.get("seed") != SEED:
        return False
    for name, rows in EXPECTED_ROWS.items():
        path = directory / f"{name}.parquet"
        if not path.exists() or pq.read_metadata(path).num_rows != rows:
            return False
    return True


def ensure(directory: Path | None = None, force: bool = False) -> Path:
    """Generate the workload into directory unless a complete copy is there.

    Writes into a sibling temp dir and renames it into place, so an interrupted run
    never leaves a half-written cache that looks complete.
    """
    directory = Path(directory) if directory else default_dir()
    if not force and _manifest_ok(directory):
        return directory
    t0 = time.perf_counter()
    tables = generate()
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, table in tables.items():
        check(name, table)
        pq.write_table(table, tmp / f"{name}.parquet")
    manifest = {"format": FORMAT_VERSION, "seed": SEED, "rows": EXPECTED_ROWS}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(directory, ignore_errors=True)
    tmp.rename(directory)
    print(f"workload: generated {directory} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return directory


def path(name: str, directory: Path | None = None) -> Path:
    """Parquet path of one table (generating the workload first if needed)."""
    if name not in EXPECTED_ROWS:
        raise KeyError(f"unknown table {name!r}; one of {sorted(EXPECTED_ROWS)}")
    return ensure(directory) / f"{name}.parquet"


def load(name: str, directory: Path | None = None) -> pa.Table:
    """One FSB-1 table as a pyarrow Table."""
    return pq.read_table(path(name, directory))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="cache dir (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="regenerate even if complete")
    args = parser.parse_args(argv)
    directory = ensure(args.dir, force=args.force)
    for name in EXPECTED_ROWS:
        p = directory / f"{name}.parquet"
        md = pq.read_metadata(p)
        size = p.stat().st_size
        print(f"  {p.name:24s} rows={md.num_rows:>9,d} cols={md.num_columns:>3d} bytes={size:>12,d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

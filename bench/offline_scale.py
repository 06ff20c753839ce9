#!/usr/bin/env python3
"""FSB-K offline curve: the point-in-time read of Granary and of the DuckDB floor as
users, activity rows and spine rows all grow K-fold (``workload.ensure(scale=K)``).

For every K the driver first builds a Granary project holding both groups (once, in a
process of its own, untimed). Then it measures in rounds: each round runs every
(K, system) pair once, the systems of a K one after the other in an order that rotates
from round to round, so every pair samples the same stretch of a shared machine's load.
**Each measurement is a fresh process**: it opens the data, loads the spine, resets its
peak RSS (VmHWM) and times one call, so the peak is that call's alone and no allocator
state carries over from the one before.

- ``duckdb-floor``: ``offline_pit.floor_sql`` (two ``ASOF LEFT JOIN`` over the Parquet
  files) ``.to_arrow_table().to_pandas()``.
- ``granary``: ``fv.training_data(spine=spine, primary_key=True, event_time=True)`` on
  the embedded project (pandas X and y).
- ``granary-spark`` (with ``--systems``): the same read with ``engine="spark"`` on a
  local Spark session (``local[2]``, a 6 GiB driver heap: ``BENCH_SPARK_DRIVER_MEMORY``),
  X collected with ``toPandas()``. The session's
  start and the spine's load into Spark are before the clock; its peak RSS is the Python
  driver's only (the JVM is a process of its own).

Reported per K: median seconds, spine rows/s, microseconds per spine row, ratio to the
floor and median peak RSS. Each result's rows and a checksum of two feature columns (sum
and nulls) are compared with the floor's, so a fast wrong answer does not pass.

Usage::

    .venv/bin/python bench/offline_scale.py [--scales 1,5,10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import harness
import workload
from harness import PROJECT_PY, REPO, RESULTS_DIR

FLOOR, GRANARY, SPARK = "duckdb-floor", "granary", "granary-spark"
SYSTEMS = (FLOOR, GRANARY)
ALL_SYSTEMS = (FLOOR, GRANARY, SPARK)
CHECKED = (workload.ACTIVITY_FEATURES[0], workload.PROFILE_FEATURES[0])  # a_f00, p_f0


# ---------------------------------------------------------------- measurement side


def _checksum(frame: Any) -> dict[str, Any]:
    """Rows, and per checked column its sum and nulls: equal answers give equal sums
    up to float rounding in summation order."""
    out: dict[str, Any] = {"rows": len(frame)}
    for column in CHECKED:
        out[column] = {"sum": float(frame[column].sum()), "nulls": int(frame[column].isna().sum())}
    return out


def _floor_call(data_dir: Path, spine: Any) -> Any:
    import duckdb
    import offline_pit

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.register("spine", spine)
    sql = offline_pit.floor_sql(data_dir)
    return lambda: con.sql(sql).to_arrow_table().to_pandas()


def _granary_call(home: Path, spine: Any) -> Any:
    import granary

    fv = granary.login(home=home).get_feature_store().get_feature_view("bench", 1)
    return lambda: fv.training_data(spine=spine, primary_key=True, event_time=True)


def _spark_call(home: Path, spine: Any) -> Any:
    import granary
    from granary.spark import session

    fv = granary.login(home=home).get_feature_store().get_feature_view("bench", 1)
    # The driver holds the collected answer: 1 GiB, Spark's default heap, is too little.
    spark = session(conf={"spark.driver.memory": os.environ.get("BENCH_SPARK_DRIVER_MEMORY", "6g")})
    frame = spark.createDataFrame(spine.to_pandas()).cache()
    frame.count()  # the spine is in Spark before the clock starts
    return lambda: fv.training_data(spine=frame, primary_key=True, event_time=True, engine="spark")[
        0
    ].toPandas()


def measure(system: str, data_dir: Path, home: Path) -> dict[str, Any]:
    """One timed call in this (fresh) process: seconds, peak RSS of the call, checksum."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    spine = pq.read_table(data_dir / "spine.parquet")
    if system == FLOOR:
        spine = spine.append_column("row_id", pa.array(np.arange(spine.num_rows, dtype=np.int64)))
        call = _floor_call(data_dir, spine)
    elif system == SPARK:
        call = _spark_call(home, spine)
    else:
        call = _granary_call(home, spine)
    gc.collect()
    before = harness.current_rss_mib()
    harness.reset_peak_rss()
    seconds, result = harness.timed(call)
    peak = harness.peak_rss_mib()
    frame = result[0] if system == GRANARY else result
    return {
        "seconds": seconds,
        "peak_rss_mib": peak,
        "rss_before_mib": before,
        "spine_rows": spine.num_rows,
        **_checksum(frame),
    }


def build_home(data_dir: Path, home: Path) -> dict[str, float]:
    """Ingest FSB-K into a fresh embedded project at ``home`` (the driver's setup)."""
    import offline_pit

    shutil.rmtree(home, ignore_errors=True)
    _, ingest_s = offline_pit.ingest_granary(data_dir, home)
    return ingest_s


# ------------------------------------------------------------------------ driver


def _run_self(args: list[str], timeout: float) -> dict[str, Any]:
    """This script in a fresh process (source tree on the path, as the tests see it)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        out = Path(tmp.name)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    try:
        done = subprocess.run(
            [str(PROJECT_PY), str(Path(__file__)), *args, "--out", str(out)],
            cwd=REPO,
            env=env,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0 or out.stat().st_size == 0:
            return {"error": f"exited {done.returncode}"}
        return json.loads(out.read_text())
    except subprocess.TimeoutExpired:
        return {"error": f"no answer within {timeout:.0f}s"}
    finally:
        out.unlink(missing_ok=True)


def _same(floor: dict[str, Any], other: dict[str, Any]) -> bool:
    """The checksums agree (rows and nulls exactly, sums to 1e-9 relative)."""
    if floor.get("rows") != other.get("rows"):
        return False
    for column in CHECKED:
        f, o = floor[column], other[column]
        if f["nulls"] != o["nulls"] or abs(f["sum"] - o["sum"]) > 1e-9 * max(1.0, abs(f["sum"])):
            return False
    return True


def run(
    scales: list[int], repeat: int, homes: Path, timeout: float, systems: tuple[str, ...] = SYSTEMS
) -> dict[str, Any]:
    data = {k: workload.ensure(scale=k) for k in scales}
    setup = {}
    for k in scales:
        print(f"[scale] K={k}: ingesting into Granary", file=sys.stderr, flush=True)
        setup[k] = _run_self(["--build", str(data[k]), "--home", str(homes / f"k{k}")], timeout)
    samples: dict[tuple[int, str], list[dict[str, Any]]] = {(k, s): [] for k in scales for s in systems}
    for rep in range(repeat):
        for k in scales:
            order = systems[rep % len(systems) :] + systems[: rep % len(systems)]
            for system in order:
                print(f"[scale] round {rep + 1}/{repeat}: K={k} {system}", file=sys.stderr, flush=True)
                args = ["--measure", system, "--data", str(data[k]), "--home", str(homes / f"k{k}")]
                samples[k, system].append(_run_self(args, timeout))
    return {"setup": setup, "samples": samples}


def summarize(
    scales: list[int],
    samples: dict[tuple[int, str], list[dict[str, Any]]],
    systems: tuple[str, ...] = SYSTEMS,
) -> list[dict[str, Any]]:
    rows = []
    for k in scales:
        floor_ok = [m for m in samples[k, FLOOR] if "error" not in m]
        floor_s = harness.median([m["seconds"] for m in floor_ok])
        for system in systems:
            ok = [m for m in samples[k, system] if "error" not in m]
            errors = [m["error"] for m in samples[k, system] if "error" in m]
            if not ok:
                rows.append({"scale": k, "system": system, "errors": errors})
                continue
            seconds = harness.median([m["seconds"] for m in ok])
            spine_rows = ok[0]["spine_rows"]
            rows.append(
                {
                    "scale": k,
                    "system": system,
                    "spine_rows": spine_rows,
                    "median_s": seconds,
                    "times": [m["seconds"] for m in ok],
                    "rows_per_s": spine_rows / seconds,
                    "us_per_row": 1e6 * seconds / spine_rows,
                    "vs_floor": seconds / floor_s if floor_ok else None,
                    "peak_rss_mib": harness.median([m["peak_rss_mib"] for m in ok]),
                    "rss_before_mib": harness.median([m["rss_before_mib"] for m in ok]),
                    "matches_floor": bool(floor_ok) and all(_same(floor_ok[0], m) for m in ok),
                    "errors": errors,
                }
            )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    headers = [
        "K",
        "spine rows",
        "system",
        "median s",
        "rows/s",
        "µs per row",
        "vs floor",
        "peak RSS MiB",
        "= floor",
    ]
    cells = []
    for r in rows:
        if "median_s" not in r:
            cells.append([r["scale"], "", r["system"], f"failed: {r['errors']}", "", "", "", "", ""])
            continue
        cells.append(
            [
                r["scale"],
                r["spine_rows"],
                r["system"],
                r["median_s"],
                int(r["rows_per_s"]),
                r["us_per_row"],
                f"{r['vs_floor']:.2f}x" if r["vs_floor"] is not None else "-",
                int(r["peak_rss_mib"]),
                "yes" if r["matches_floor"] else "NO",
            ]
        )
    return harness.markdown_table(headers, cells)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="FSB-K offline point-in-time curve")
    parser.add_argument("--scales", default="1,5,10", help="comma list of K (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="measurements per (K, system); median reported")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per process before it is killed")
    parser.add_argument("--homes", type=Path, help="where the Granary projects go (default: a temp dir)")
    parser.add_argument("--out", type=Path, help="JSON path (default results/offline_scale.json)")
    parser.add_argument(
        "--systems",
        default=",".join(SYSTEMS),
        help=f"comma list of {', '.join(ALL_SYSTEMS)} (default %(default)s)",
    )
    parser.add_argument("--measure", choices=ALL_SYSTEMS, help=argparse.SUPPRESS)
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        args.out.write_text(json.dumps(measure(args.measure, args.data, args.home)))
        return 0
    if args.build:
        args.out.write_text(json.dumps(build_home(args.build, args.home)))
        return 0
    scales = [int(k) for k in args.scales.split(",")]
    with tempfile.TemporaryDirectory(prefix="fsb-scale-") as tmp:
        homes = args.homes or Path(tmp)
        systems = tuple(args.systems.split(","))
        found = run(scales, args.repeat, homes, args.timeout, systems)
    rows = summarize(scales, found["samples"], systems)
    print(f"\nFSB-K offline PIT, median of {args.repeat}, each measurement a fresh process\n")
    print(table(rows))
    out = args.out or RESULTS_DIR / "offline_scale.json"
    harness.write_json(
        out,
        {
            "benchmark": "FSB-K offline point-in-time join",
            "repeat": args.repeat,
            "machine": harness.machine_info(),
            "versions": harness.package_versions(["granary", "duckdb", "pyarrow", "pandas"]),
            "ingest_s": {str(k): v for k, v in found["setup"].items()},
            "results": rows,
        },
    )
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

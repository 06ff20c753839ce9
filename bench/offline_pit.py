#!/usr/bin/env python3
"""FSB-1 offline benchmark: point-in-time (as-of) join of a spine with two groups.

For every spine row (user_id, event_timestamp, label) each system returns the
newest ``user_activity`` row and the newest ``user_profile`` row of the same user
with event time <= the spine's (an ASOF LEFT JOIN: no match -> nulls, the spine row
is kept), i.e. 30 features + label, as a pandas DataFrame.

Systems (each in its own worker process, so peak RSS is per system):

- ``duckdb-floor``  raw DuckDB ``ASOF LEFT JOIN`` over the same Parquet files: the
  floor. Also reports time to Arrow (the cost of the pandas conversion).
- ``feast-duckdb``  Feast ``get_historical_features(...).to_df()``, DuckDB (ibis)
  offline store, run in .bench-venv.
- ``feast-file``    same with Feast's file (dask) offline store; slow, opt-in with
  ``--with-feast-file``.
- ``granary``       ``fv.training_data(spine=...)`` of the Granary embedded API.

Only the retrieval call is timed; ingestion (Granary) and ``feast apply`` happen
before. Every result is compared row by row with the floor, aligned on a row id,
and the floor itself is checked against an independent ``pandas.merge_asof``.

Usage (project venv; Feast systems need ``bash bench/setup_env.sh`` once)::

    .venv/bin/python bench/offline_pit.py [--small] [--repeat 3] [--with-feast-file]
                                          [--systems duckdb-floor,granary]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import harness
import workload
from feast_repo import FEATURE_REFS, feast_cli, write_repo
from harness import FEAST_PY, PROJECT_PY, RESULTS_DIR, STATUS_OK, InterleavedWorker, Prepared, WorkerRun

KEY, TS, LABEL, ROW_ID = workload.KEY, workload.EVENT_TIME, workload.LABEL, "row_id"
OUTPUT_COLUMNS = [*workload.FEATURES, LABEL]  # what is compared, per spine row
VARIANT_ARROW, VARIANT_DF = "to Arrow only", "DuckDB .df()"  # extra floor timings


# ----------------------------------------------------------------- worker side


def _spine(params: dict[str, Any], with_row_id: bool) -> Any:
    """The spine prefix as a pyarrow Table (user_id, event_timestamp, label[, row_id])."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(Path(params["data_dir"]) / "spine.parquet").slice(0, params["spine_rows"])
    if with_row_id:
        table = table.append_column(ROW_ID, pa.array(np.arange(table.num_rows, dtype=np.int64)))
    return table


def _as_pandas(obj: Any) -> Any:
    """pandas DataFrame from a pandas/pyarrow/polars frame or a pandas Series."""
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        return obj
    if isinstance(obj, pd.Series):
        return obj.to_frame(name=obj.name or LABEL)
    if hasattr(obj, "to_pandas"):
        return obj.to_pandas()
    return pd.DataFrame(obj)


def _saver(params: dict[str, Any], to_frame: Callable[[Any], Any] = _as_pandas) -> Callable[[Any], dict]:
    """Untimed end of a worker: save the last result for the driver's check."""

    def finish(result: Any) -> dict[str, Any]:
        df = to_frame(result)
        df.to_parquet(params["result_path"])
        return {"rows": len(df), "columns": list(df.columns)}

    return finish


def floor_sql(data_dir: Path) -> str:
    """The floor query: two chained ASOF LEFT JOINs straight over the Parquet files."""
    act = data_dir / "user_activity.parquet"
    prof = data_dir / "user_profile.parquet"
    a_cols = ", ".join(f"a.{c}" for c in workload.ACTIVITY_FEATURES)
    p_cols = ", ".join(f"p.{c}" for c in workload.PROFILE_FEATURES)
    return f"""
        SELECT s.{ROW_ID}, s.{KEY}, s.{TS}, s.{LABEL}, {a_cols}, {p_cols}
        FROM spine s
        ASOF LEFT JOIN read_parquet('{act}') a
            ON s.{KEY} = a.{KEY} AND s.{TS} >= a.{TS}
        ASOF LEFT JOIN read_parquet('{prof}') p
            ON s.{KEY} = p.{KEY} AND s.{TS} >= p.{TS}
    """


def prepare_duckdb_floor(params: dict[str, Any]) -> Prepared:
    """Raw DuckDB over the Parquet files, to pandas via Arrow.

    Arrow then ``to_pandas()`` is the fastest way to pandas we found; DuckDB's own
    ``.df()`` (slower with pandas 3) and the time to Arrow alone are timed beside it.
    """
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # keep worker logs clean
    con.register("spine", _spine(params, with_row_id=True))
    sql = floor_sql(Path(params["data_dir"]))
    return Prepared(
        call=lambda: con.sql(sql).to_arrow_table().to_pandas(),
        variants={
            VARIANT_ARROW: lambda: con.sql(sql).to_arrow_table(),
            VARIANT_DF: lambda: con.sql(sql).df(),
        },
        finish=_saver(params),
        info={"versions": harness.package_versions(["duckdb", "pyarrow", "pandas"])},
    )


def prepare_feast(params: dict[str, Any]) -> Prepared:
    """Feast get_historical_features(...).to_df() on an applied repo."""
    from feast import FeatureStore

    store = FeatureStore(repo_path=params["repo"])
    entity_df = _spine(params, with_row_id=True).to_pandas()
    # Feast may rewrite the entity frame in place (UTC casts, sorting): hand each
    # call its own copy, made outside the timed region.
    copies = iter([entity_df.copy() for _ in range(params["repeat"])])

    def call() -> Any:
        frame = next(copies, None)
        return store.get_historical_features(
            entity_df=entity_df.copy() if frame is None else frame, features=FEATURE_REFS
        ).to_df()

    versions = harness.package_versions(["feast", "ibis-framework", "duckdb", "dask", "pyarrow", "pandas"])
    return Prepared(call=call, finish=_saver(params), info={"versions": versions})


def ingest_granary(data_dir: Path, home: Path) -> tuple[Any, dict[str, float]]:
    """An embedded project at ``home`` holding both groups and the view ``bench`` v1:
    (the view, seconds each group's insert took)."""
    import pyarrow.parquet as pq

    import granary

    fs = granary.login(home=home).get_feature_store()
    ingest_s, groups = {}, {}
    for name in ("user_profile", "user_activity"):
        fg = fs.create_feature_group(name=name, version=1, primary_key=[KEY], event_time=TS)
        table = pq.read_table(data_dir / f"{name}.parquet")
        ingest_s[name], _ = harness.timed(lambda fg=fg, table=table: fg.insert(table))
        groups[name] = fg
        del table
    query = (
        groups["user_activity"]
        .select_all(include_primary_key=False, include_event_time=False)
        .join(
            groups["user_profile"].select_all(include_primary_key=False, include_event_time=False), on=[KEY]
        )
    )
    return fs.create_feature_view(name="bench", version=1, query=query, labels=[LABEL]), ingest_s


def prepare_granary(params: dict[str, Any]) -> Prepared:
    """Granary embedded: ingest both groups (untimed), then time training_data."""
    home = Path(tempfile.mkdtemp(prefix="granary-", dir=params["workdir"]))
    fv, ingest_s = ingest_granary(Path(params["data_dir"]), home)
    spine = _spine(params, with_row_id=False)
    versions = harness.package_versions(["granary", "duckdb", "pyarrow", "pandas", "polars"])
    return Prepared(
        # Keys and event time are asked for so every row can be matched to its
        # spine row: X alone does not keep the spine's order.
        call=lambda: fv.training_data(spine=spine, primary_key=True, event_time=True),
        finish=_saver(params, to_frame=lambda xy: _join_xy(_as_pandas(xy[0]), _as_pandas(xy[1]))),
        info={"ingest_s": ingest_s, "versions": versions},
    )


def _join_xy(x: Any, y: Any) -> Any:
    """One frame from training_data's (X, y), keeping X's row order."""
    import pandas as pd

    y = y.rename(columns={y.columns[0]: LABEL}) if LABEL not in y.columns and y.shape[1] == 1 else y
    return pd.concat([x.reset_index(drop=True), y.reset_index(drop=True)], axis=1)


@dataclass(frozen=True)
class System:
    """One system under test: the worker function and the interpreter it needs."""

    prepare: Callable[[dict[str, Any]], Prepared]
    python: Path
    feast_offline: str | None = None  # Feast offline store type to `feast apply` first
    opt_in: bool = False


SYSTEMS: dict[str, System] = {
    "duckdb-floor": System(prepare_duckdb_floor, PROJECT_PY),
    "feast-duckdb": System(prepare_feast, FEAST_PY, feast_offline="duckdb"),
    "feast-file": System(prepare_feast, FEAST_PY, feast_offline="file", opt_in=True),
    "granary": System(prepare_granary, PROJECT_PY),
}
FLOOR = "duckdb-floor"


# -------------------------------------------------------------- correctness


def _ts_us(series: Any) -> Any:
    """Timestamps (any unit, naive=UTC) as int64 microseconds, for exact matching."""
    import pandas as pd

    ts = pd.to_datetime(series, utc=True).dt.tz_convert(None)
    return ts.to_numpy(dtype="datetime64[us]").astype("int64")


def align(result: Any, spine: Any) -> tuple[Any, str]:
    """Index a system's result by spine row id, or (None, "multiset") if impossible.

    Uses the row_id column if the system carried it through, else the (user_id,
    event_timestamp) pair (unique in the spine). A result with neither can only be
    compared as a multiset of rows (``compare_unordered``).
    """
    import pandas as pd

    if ROW_ID in result.columns:
        return result.set_index(ROW_ID), "row_id"
    if {KEY, TS} <= set(result.columns):
        keys = pd.DataFrame(
            {KEY: spine[KEY].to_numpy(), "_ts": _ts_us(spine[TS]), ROW_ID: spine[ROW_ID].to_numpy()}
        )
        res = result.assign(_ts=_ts_us(result[TS]))
        merged = res.merge(keys, on=[KEY, "_ts"], how="left", validate="many_to_one")
        merged = merged[merged[ROW_ID].notna()].astype({ROW_ID: "int64"})
        return merged.set_index(ROW_ID), "user_id+event_timestamp"
    return None, "multiset"


def compare_unordered(floor: Any, result: Any) -> dict[str, Any]:
    """Compare a key-less result with the floor as multisets of (features, label) rows.

    Both are sorted by every compared column; equal sorted frames mean the same
    rows up to order. Rows cannot be attributed to spine rows, so a row-count
    difference is reported but per-row mismatches are not.
    """
    cols = [c for c in OUTPUT_COLUMNS if c in result.columns]
    base = {"missing_columns": [c for c in OUTPUT_COLUMNS if c not in cols], "order_preserved": None}
    if len(result) != len(floor):
        return {**base, "rows_dropped": len(floor) - len(result), "mismatched_rows": None}
    f = floor[cols].sort_values(cols, na_position="last", ignore_index=True)
    o = result[cols].sort_values(cols, na_position="last", ignore_index=True)
    per_column = {c: int((~_equal(f[c], o[c])).sum()) for c in cols}
    bad = sum(~_equal(f[c], o[c]) for c in cols).astype(bool)  # rows with any difference
    return {
        **base,
        "rows_dropped": 0,
        "mismatched_rows": int(bad.sum()),
        "mismatches_per_column": {c: n for c, n in per_column.items() if n},
    }


def _equal(a: Any, b: Any) -> Any:
    """Element-wise equality of two aligned columns, with null == null."""
    import numpy as np
    import pandas as pd

    na_a, na_b = a.isna().to_numpy(), b.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
        same = a.to_numpy(dtype="float64", na_value=np.nan) == b.to_numpy(dtype="float64", na_value=np.nan)
    else:
        same = a.astype(object).to_numpy() == b.astype(object).to_numpy()
    return (na_a & na_b) | (~na_a & ~na_b & same)


def compare(floor: Any, other: Any) -> dict[str, Any]:
    """Rows dropped/extra/duplicated and rows whose values differ from the floor."""
    import numpy as np

    duplicated = int(other.index.duplicated().sum())
    other = other[~other.index.duplicated()]
    common = floor.index.intersection(other.index)
    missing_cols = [c for c in OUTPUT_COLUMNS if c not in other.columns]
    f, o = floor.loc[common], other.loc[common]
    bad = np.zeros(len(common), dtype=bool)
    per_column = {}
    for col in OUTPUT_COLUMNS:
        if col in missing_cols:
            continue
        diff = ~_equal(f[col], o[col])
        per_column[col] = int(diff.sum())
        bad |= diff
    dropped_ids = floor.index.difference(other.index)
    dropped = floor.loc[dropped_ids]
    no_match = dropped[workload.ACTIVITY_FEATURES[0]].isna() | dropped[workload.PROFILE_FEATURES[0]].isna()
    return {
        "rows_dropped": len(dropped_ids),
        "rows_dropped_pct": round(100 * len(dropped_ids) / max(len(floor), 1), 2),
        "rows_dropped_without_match_in_a_group": int(no_match.sum()),
        "rows_extra": int(len(other) - len(common)),
        "rows_duplicated": duplicated,
        "mismatched_rows": int(bad.sum()),
        "mismatches_per_column": {c: n for c, n in per_column.items() if n},
        "missing_columns": missing_cols,
        # Does the result list rows in spine order? (Not required, but a caller
        # holding X without keys can only match rows back to the spine if so.)
        "order_preserved": bool(other.index.is_monotonic_increasing),
    }


def reference_check(floor: Any, spine: Any, data_dir: Path) -> dict[str, Any]:
    """Check the floor against pandas.merge_asof, an independent as-of join."""
    import pandas as pd

    left = spine.to_pandas().sort_values(TS)
    for name in ("user_activity", "user_profile"):
        right = pd.read_parquet(data_dir / f"{name}.parquet").sort_values(TS)
        left = pd.merge_asof(left, right, on=TS, by=KEY, direction="backward", allow_exact_matches=True)
    return compare(floor, left.set_index(ROW_ID))


# ------------------------------------------------------------------ driver


def _setup_feast(system: System, workdir: Path, data_dir: Path) -> tuple[Path, float]:
    """Write a Feast repo for this offline store and `feast apply` it (untimed)."""
    repo = write_repo(workdir / f"feast-{system.feast_offline}", data_dir, offline=system.feast_offline or "")
    return repo, feast_cli(repo, "apply")


def start_system(
    name: str, system: System, params: dict[str, Any], workdir: Path, timeout: float
) -> tuple[InterleavedWorker | None, dict[str, Any]]:
    """Feast apply if needed, then start the worker and wait until it is set up."""
    params = {**params, "result_path": str(workdir / f"{name}.result.parquet"), "workdir": str(workdir)}
    setup: dict[str, Any] = {}
    if system.feast_offline:
        try:
            repo, setup["feast_apply_s"] = _setup_feast(system, workdir, Path(params["data_dir"]))
        except FileNotFoundError as exc:
            setup["error"] = str(exc)
            return None, setup
        params["repo"] = str(repo)
    worker = InterleavedWorker(name, system.python, Path(__file__), params, workdir, timeout)
    worker.ready()
    return worker, setup


def run_interleaved(
    names: list[str], params: dict[str, Any], workdir: Path, args: argparse.Namespace
) -> dict:
    """Set every system up, then time them round-robin, one repetition each per round.

    The starting system rotates each round, so none is always first after an idle
    stretch (or always last, after the others warmed the page cache).
    """
    workers: dict[str, InterleavedWorker | None] = {}
    setups: dict[str, dict[str, Any]] = {}
    for name in names:
        print(f"[offline] {name}: setting up", file=sys.stderr, flush=True)
        workers[name], setups[name] = start_system(name, SYSTEMS[name], params, workdir, args.timeout)
    live = [n for n in names if workers[n] is not None and workers[n].alive]
    for rep in range(args.repeat):
        shift = rep % max(len(live), 1)
        for name in live[shift:] + live[:shift]:
            print(f"[offline] round {rep + 1}/{args.repeat}: {name}", file=sys.stderr, flush=True)
            workers[name].run_once()
    runs = {}
    for name in names:
        worker = workers[name]
        if worker is None:
            runs[name] = WorkerRun(name, harness.STATUS_UNAVAILABLE, error=setups[name].get("error", ""))
            continue
        runs[name] = worker.finish()
        runs[name].data.update(setups[name])
    return runs


def summarize(run: WorkerRun, spine_rows: int, floor_median: float) -> dict[str, Any]:
    """Medians, throughput and ratio of one run, as stored in the JSON."""
    out: dict[str, Any] = {"status": run.status, "error": run.error or None}
    if run.status != STATUS_OK:
        return out
    med = harness.median(run.data["times"])
    out.update(
        median_s=med,
        rows_per_s=spine_rows / med,
        vs_floor=med / floor_median if floor_median == floor_median else None,
        rows=run.data["rows"],
        peak_rss_mib=run.data["peak_rss_mib"],
        process_peak_rss_mib=run.process_peak_rss_mib,
        loadavg_1m_before_after=run.loadavg,
        **{k: v for k, v in run.data.items() if k not in {"rows", "peak_rss_mib"}},
    )
    variants = {label: harness.median(t) for label, t in run.data.get("variant_times", {}).items()}
    if variants:
        out["variant_median_s"] = variants
    return out


def check_all(
    results: dict[str, dict[str, Any]], workdir: Path, spine: Any, data_dir: Path
) -> dict[str, Any]:
    """Compare every successful system with the floor; check the floor itself."""
    import pandas as pd

    if results.get(FLOOR, {}).get("status") != STATUS_OK:
        return {"error": "floor did not run; nothing to compare with"}
    spine_pd = spine.to_pandas()
    floor = pd.read_parquet(workdir / f"{FLOOR}.result.parquet").set_index(ROW_ID)
    checks = {"floor_vs_pandas_merge_asof": reference_check(floor, spine, data_dir)}
    for name, res in results.items():
        if name == FLOOR or res.get("status") != STATUS_OK:
            continue
        result = pd.read_parquet(workdir / f"{name}.result.parquet")
        other, how = align(result, spine_pd)
        found = compare(floor, other) if other is not None else compare_unordered(floor, result)
        checks[name] = {"aligned_by": how, **found}
    return checks


def table(results: dict[str, dict[str, Any]], checks: dict[str, Any]) -> str:
    """The markdown summary printed at the end and pasted into the README."""
    headers = ["system", "median s", "rows/s", "vs floor", "peak RSS MiB", "rows", "dropped", "mismatches"]
    rows = []
    floor_s = results.get(FLOOR, {}).get("median_s", float("nan"))
    for name, res in results.items():
        if res["status"] != STATUS_OK:
            rows.append([name, f"{res['status']} ({res['error']})", "", "", "", "", "", ""])
            continue
        chk = checks.get("floor_vs_pandas_merge_asof" if name == FLOOR else name, {})
        dropped = chk.get("rows_dropped", 0)
        drop_cell = f"{dropped:,d} ({chk.get('rows_dropped_pct', 0)}%)" if dropped else 0
        mism = chk.get("mismatched_rows", 0)
        rows.append(
            [
                name,
                res["median_s"],
                int(res["rows_per_s"]),
                f"{res['vs_floor']:.2f}x",
                int(res["peak_rss_mib"]),
                res["rows"],
                drop_cell,
                mism,
            ]
        )
        for label, seconds in res.get("variant_median_s", {}).items():
            speed = int(res["rows_per_s"] * res["median_s"] / seconds)
            rows.append([f"{name} ({label})", seconds, speed, f"{seconds / floor_s:.2f}x", "", "", "", ""])
    return harness.markdown_table(headers, rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="FSB-1 offline point-in-time benchmark")
    parser.add_argument("--small", action="store_true", help="100k-row spine prefix instead of 1M")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per system (median reported)")
    parser.add_argument(
        "--with-feast-file", action="store_true", help="also run Feast's slow file (dask) store"
    )
    parser.add_argument("--systems", help=f"comma list, default all but opt-in; from {','.join(SYSTEMS)}")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per system before it is killed")
    parser.add_argument("--out", type=Path, help="JSON path (default results/offline_pit[_small].json)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--params", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--reply-fd", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def selected(args: argparse.Namespace) -> list[str]:
    """Systems to run, floor first (everything is compared with it)."""
    if args.systems:
        names = [s.strip() for s in args.systems.split(",") if s.strip()]
        unknown = set(names) - set(SYSTEMS)
        if unknown:
            sys.exit(f"unknown systems: {sorted(unknown)}")
    else:
        wanted = {"feast-file"} if args.with_feast_file else set()
        names = [n for n, s in SYSTEMS.items() if not s.opt_in or n in wanted]
    return sorted(names, key=lambda n: n != FLOOR)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        factories = {n: s.prepare for n, s in SYSTEMS.items()}
        return harness.interleaved_worker_main(factories, args.worker, args.params, args.out, args.reply_fd)
    data_dir = workload.ensure()
    spine_rows = workload.N_SPINE_SMALL if args.small else workload.N_SPINE
    params = {"data_dir": str(data_dir), "spine_rows": spine_rows, "repeat": args.repeat}
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="fsb-offline-") as tmp:
        workdir = Path(tmp)
        runs = run_interleaved(selected(args), params, workdir, args)
        floor = runs.get(FLOOR)
        floor_median = (
            harness.median(floor.data["times"]) if floor and floor.status == STATUS_OK else float("nan")
        )
        for name, run in runs.items():
            if run.status != STATUS_OK:
                print(f"{name}: {run.status} ({run.error})", file=sys.stderr)
            results[name] = summarize(run, spine_rows, floor_median)
        print("[offline] checking results against the floor ...", file=sys.stderr, flush=True)
        checks = check_all(results, workdir, _spine({**params}, with_row_id=True), data_dir)
    print(f"\nFSB-1 offline PIT, spine {spine_rows:,d} rows, median of {args.repeat}\n")
    print(table(results, checks))
    out = args.out or RESULTS_DIR / ("offline_pit_small.json" if args.small else "offline_pit.json")
    harness.write_json(
        out,
        {
            "benchmark": "FSB-1 offline point-in-time join",
            "spine_rows": spine_rows,
            "repeat": args.repeat,
            "machine": harness.machine_info(),
            "systems": results,
            "checks": checks,
        },
    )
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Data plane benchmark: training data over Arrow Flight, against embedded.

The FSB-1 point-in-time query (``spine_100k`` as the spine, ASOF-joined with
``user_activity`` (1M rows) and ``user_profile`` (100k rows), 30 features) is read
with ``fv.training_data(spine=...)``: once embedded (local Delta + DuckDB in
process), once remote (DuckDB in the Flight server over Delta/Parquet in S3,
streamed as Arrow to the client). Rows/s = result rows / wall time of the call,
best and median of ``--repeat`` runs. Target (issue 4): remote within 1.5x of
embedded.

Usage::

    .venv/bin/python bench/dataplane_training.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dataplane_services as dps
import workload

RESULTS = Path(__file__).resolve().parent / "results" / "dataplane_training.json"
KEY = workload.KEY


def build(project: Any) -> Any:
    fs = project.get_feature_store()
    groups = {}
    for name in ("user_profile", "user_activity"):
        fg = fs.create_feature_group(name, version=1, primary_key=[KEY], event_time=workload.EVENT_TIME)
        table = workload.load(name)
        for offset in range(0, table.num_rows, 200_000):
            fg.insert(table.slice(offset, 200_000))
        groups[name] = fg
    query = (
        groups["user_activity"]
        .select_all(include_primary_key=False, include_event_time=False)
        .join(
            groups["user_profile"].select_all(include_primary_key=False, include_event_time=False), on=[KEY]
        )
    )
    return fs.create_feature_view("pit", version=1, query=query, labels=[workload.LABEL])


def measure(view: Any, spine: Any, repeat: int) -> dict[str, Any]:
    times = []
    rows = 0
    for _ in range(repeat):
        started = time.perf_counter()
        x, _ = view.training_data(spine=spine, dataframe_type="pyarrow")
        times.append(time.perf_counter() - started)
        rows = x.num_rows
    return {
        "rows": rows,
        "best_s": round(min(times), 3),
        "median_s": round(statistics.median(times), 3),
        "rows_per_s_best": int(rows / min(times)),
        "rows_per_s_median": int(rows / statistics.median(times)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--region", default="dpbench")
    args = parser.parse_args(argv)
    import granary

    spine = workload.load("spine_100k")
    workdir = Path(tempfile.mkdtemp(prefix="dp-training-"))
    results: dict[str, Any] = {"spine_rows": spine.num_rows}
    embedded = build(granary.login(home=workdir / "embedded"))
    results["embedded"] = measure(embedded, spine, args.repeat)
    with dps.region(args.region) as env, dps.services(env, workdir / "logs") as services:
        _, key = services.new_key()
        remote = build(granary.login(host=services.api_url, api_key=key))
        results["remote_flight"] = measure(remote, spine, args.repeat)
        results["service_rss_mib"] = services.rss_mib()
    results["remote_over_embedded_median"] = round(
        results["remote_flight"]["median_s"] / results["embedded"]["median_s"], 2
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

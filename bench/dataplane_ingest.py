#!/usr/bin/env python3
"""Data plane benchmark: ingestion through Kafka, and freshness.

Throughput: the FSB-1 ``user_activity`` table (1,000,000 rows, 22 columns) is sent
in 50,000-row inserts through the remote SDK (REST -> Kafka, acks=all); all but the
last with ``wait=False``, the last with ``wait=True``, so the clock stops when every
row is visible offline (Delta on S3) and online (Redis). Rows/s = rows / that time.

Freshness: single-row inserts with ``wait=False``; from the moment the insert is
acknowledged, the online vector of that key is polled over REST until the new value
is served. Target (issue 4): p99 <= 1 s.

Usage::

    .venv/bin/python bench/dataplane_ingest.py [--rows 1000000] [--fresh 300]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dataplane_services as dps
import workload

RESULTS = Path(__file__).resolve().parent / "results" / "dataplane_ingest.json"
KEY = workload.KEY


def throughput(fs: Any, rows: int, chunk: int) -> dict[str, Any]:
    table = workload.load("user_activity").slice(0, rows)
    fg = fs.create_feature_group(
        "activity", version=1, primary_key=[KEY], event_time=workload.EVENT_TIME, online_enabled=True
    )
    started = time.perf_counter()
    offsets = list(range(0, table.num_rows, chunk))
    for offset in offsets[:-1]:
        fg.insert(table.slice(offset, chunk), wait=False)
    acked = time.perf_counter() - started
    fg.insert(table.slice(offsets[-1], chunk), wait=True)
    visible = time.perf_counter() - started
    commits = fg.commit_details()
    stored = sum(c["rows_inserted"] for c in commits.values())
    return {
        "rows": table.num_rows,
        "insert_rows": chunk,
        "acknowledged_s": round(acked, 2),
        "visible_s": round(visible, 2),
        "acked_rows_per_s": int(table.num_rows * (len(offsets) - 1) / len(offsets) / acked),
        "rows_per_s_offline_and_online": int(table.num_rows / visible),
        "commits": len(commits),
        "rows_in_commits": stored,
    }


def freshness(fs: Any, services: dps.Services, project: str, key: str, n: int) -> dict[str, Any]:
    fg = fs.create_feature_group("fresh", version=1, primary_key=[KEY], event_time="ts", online_enabled=True)
    first = pd.DataFrame({KEY: [0], "ts": pd.to_datetime(["2025-01-01"], utc=True), "v": [0.0]})
    fg.insert(first)
    fs.create_feature_view("fresh", version=1, query=fg.select_all())
    base = f"{services.api_url}/api/v1/projects/{project}/feature-views/fresh/versions/1"
    samples = []
    with httpx.Client(headers={"authorization": f"Bearer {key}"}, timeout=30) as client:
        client.post(f"{base}/serving").raise_for_status()
        for i in range(1, n + 1):
            row = pa.table(
                {
                    KEY: [i],
                    "ts": pa.array([pd.Timestamp("2025-01-01", tz="UTC")], pa.timestamp("us", "UTC")),
                    "v": [float(i)],
                }
            )
            fg.insert(row, wait=False)
            acked = time.perf_counter()
            while True:
                got = client.post(
                    f"{base}/vectors", json={"entries": [{KEY: i}], "allow_missing": True}
                ).json()
                vector = got["vectors"][0]
                if vector.get("v") == float(i):
                    break
                if time.perf_counter() - acked > 30:
                    raise RuntimeError(f"row {i} not visible online after 30 s")
                time.sleep(0.002)
            samples.append(time.perf_counter() - acked)
    return dps.percentiles(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--fresh", type=int, default=300)
    parser.add_argument("--region", default="dpbench")
    args = parser.parse_args(argv)
    import granary

    workdir = Path(tempfile.mkdtemp(prefix="dp-ingest-"))
    results: dict[str, Any] = {}
    with dps.region(args.region) as env, dps.services(env, workdir / "logs") as services:
        project, key = services.new_key()
        fs = granary.login(host=services.api_url, api_key=key).get_feature_store()
        results["throughput"] = throughput(fs, args.rows, args.chunk)
        results["freshness_insert_ack_to_online"] = freshness(fs, services, project, key, args.fresh)
        results["service_rss_mib"] = services.rss_mib()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Data plane benchmark: online feature vectors over REST, against Feast's HTTP server.

One region (``ops/region up dpbench``), the data plane services as separate
processes, and the FSB-1 workload (100,000 users; a vector is 30 features of two
groups). Granary's data is ingested the remote way (SDK -> REST -> Kafka ->
materializer -> S3 + Redis db 1); Feast's comes from ``feast apply`` + ``feast
materialize`` into Redis db 0 of the same server, served by ``feast serve``.

Both are timed with the same keep-alive HTTP client on the same user sequence:
batch 1 (one user per request) and batch 500 (500 distinct users per request),
JSON in and out for both, after a warm-up. Each call is timed to the parsed response,
and also to the read body (``*_until_body_read``: the client's JSON parsing left out).
Targets (issue 4): REST p99 <= 3 ms at batch 1 and <= 20 ms at batch 500.

Usage::

    .venv/bin/python bench/dataplane_online.py [--calls1 2000] [--calls500 300] [--no-feast]
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dataplane_services as dps
import workload

RESULTS = Path(__file__).resolve().parent / "results" / "dataplane_online.json"
KEY = workload.KEY
SEED = 20250104


def ingest_granary(services: dps.Services) -> tuple[str, str, dict[str, Any]]:
    """Create both groups online-enabled and insert the workload through Kafka."""
    import granary

    project, key = services.new_key()
    fs = granary.login(host=services.api_url, api_key=key).get_feature_store()
    data_dir = workload.ensure()
    timings: dict[str, Any] = {}
    groups = {}
    for name in ("user_profile", "user_activity"):
        fg = fs.create_feature_group(
            name, version=1, primary_key=[KEY], event_time=workload.EVENT_TIME, online_enabled=True
        )
        table = pq.read_table(data_dir / f"{name}.parquet")
        started = time.perf_counter()
        for offset in range(0, table.num_rows, 100_000):  # 100k rows ~ 18 MB per request
            fg.insert(table.slice(offset, 100_000))
        seconds = time.perf_counter() - started
        timings[name] = {
            "rows": table.num_rows,
            "seconds": round(seconds, 2),
            "rows_per_s": int(table.num_rows / seconds),
        }
        groups[name] = fg
    query = (
        groups["user_activity"]
        .select_all(include_primary_key=False, include_event_time=False)
        .join(
            groups["user_profile"].select_all(include_primary_key=False, include_event_time=False), on=[KEY]
        )
    )
    fs.create_feature_view("bench", version=1, query=query)
    return project, key, timings


class Client:
    """A keep-alive JSON client on ``http.client``: ~0.25 ms per call on loopback here,
    against ~1 ms for httpx, so the numbers are the servers', not the client's. Both
    systems are timed with it."""

    def __init__(self, base: str, headers: dict[str, str] | None = None) -> None:
        url = urllib.parse.urlsplit(base)
        self._conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        self._headers = {"content-type": "application/json", **(headers or {})}

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return json.loads(self.post_raw(path, body))

    def post_raw(self, path: str, body: dict[str, Any]) -> bytes:
        """The response body, unparsed."""
        self._conn.request("POST", path, body=json.dumps(body).encode(), headers=self._headers)
        response = self._conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"POST {path}: {response.status} {data[:300]!r}")
        return data

    def close(self) -> None:
        self._conn.close()


RECEIVED: dict[str, list[float]] = {}  # (system batch) -> seconds until the body was read


def time_calls(
    client: Client,
    path: str,
    bodies: list[dict[str, Any]],
    warmup: int,
    label: str = "",
    parse: Any = json.loads,
) -> list[float]:
    """Seconds per call (request sent -> JSON response parsed), after ``warmup`` calls.

    With ``label``, the seconds until the response body was read (before parsing it) go
    to ``RECEIVED[label]``: at batch 500 the client's ``json.loads`` of ~420 KB is about
    half of the total, and the same for both systems.
    """
    for body in bodies[:warmup]:
        parse(client.post_raw(path, body))
    samples, received = [], []
    for body in bodies[warmup:]:
        started = time.perf_counter()
        data = client.post_raw(path, body)
        received.append(time.perf_counter() - started)
        parse(data)
        samples.append(time.perf_counter() - started)
    if label:
        RECEIVED[label] = received
    return samples


def start_feast(workdir: Path, redis_port: int) -> tuple[subprocess.Popen, str, dict[str, float]]:
    import online  # bench/online.py: the same Feast repo set-up as the embedded benchmark

    repo, timings = online.setup_feast(workdir, redis_port)
    port = dps.free_port()
    log = open(workdir / "feast-serve.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [
            str(dps.REPO / ".bench-venv" / "bin" / "feast"),
            "-c",
            str(repo),
            "serve",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "--no-access-log",
            # gunicorn recycles a worker every ~1,000 requests by default: not in a benchmark
            "--max-requests",
            "100000000",
            "--max-requests-jitter",
            "0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"feast serve did not start; see {workdir / 'feast-serve.log'}")
        time.sleep(0.5)
    return process, url, timings


ARROW_STREAM = "application/vnd.apache.arrow.stream"


def _arrow(data: bytes) -> Any:
    return pa.ipc.open_stream(data).read_all()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls1", type=int, default=2000)
    parser.add_argument("--calls500", type=int, default=300)
    parser.add_argument("--region", default="dpbench")
    parser.add_argument("--no-feast", action="store_true")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(SEED)
    users = workload.load("entities")[KEY].to_numpy()
    singles = [int(u) for u in rng.choice(users, args.calls1 + 200)]
    batches = [[int(u) for u in rng.choice(users, 500, replace=False)] for _ in range(args.calls500 + 20)]
    results: dict[str, Any] = {"calls1": args.calls1, "calls500": args.calls500}

    workdir = Path(tempfile.mkdtemp(prefix="dp-online-"))
    with dps.region(args.region) as env:
        redis_port = int(env["GRANARY_REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
        env = {**env, "GRANARY_REDIS_URL": env["GRANARY_REDIS_URL"].rsplit("/", 1)[0] + "/1"}
        with dps.services(env, workdir / "logs") as services:
            project, key, ingest = ingest_granary(services)
            results["granary_ingest"] = ingest
            base = f"/api/v1/projects/{project}/feature-views/bench/versions/1"
            client = Client(services.api_url, {"authorization": f"Bearer {key}"})
            client.post(f"{base}/serving", {})
            one = [{"entries": [{KEY: u}]} for u in singles]
            many = [{"entries": [{KEY: u} for u in b]} for b in batches]
            results["granary_rest"] = {
                "batch1": dps.percentiles(time_calls(client, f"{base}/vectors", one, 200, "g1")),
                "batch500": dps.percentiles(time_calls(client, f"{base}/vectors", many, 20, "g500")),
            }
            results["granary_rest_until_body_read"] = {
                "batch1": dps.percentiles(RECEIVED["g1"]),
                "batch500": dps.percentiles(RECEIVED["g500"]),
            }
            sample = client.post(f"{base}/vectors", {"entries": [{KEY: u} for u in singles[:20]]})["vectors"]
            client.close()
            # the SDK's own wire format: an Arrow IPC stream, read into a table
            arrow = Client(services.api_url, {"authorization": f"Bearer {key}", "accept": ARROW_STREAM})
            results["granary_rest_arrow"] = {
                "batch1": dps.percentiles(time_calls(arrow, f"{base}/vectors", one, 200, parse=_arrow)),
                "batch500": dps.percentiles(time_calls(arrow, f"{base}/vectors", many, 20, parse=_arrow)),
            }
            arrow.close()
            results["service_rss_mib"] = services.rss_mib()

            if not args.no_feast:
                process, feast_url, timings = start_feast(workdir, redis_port)
                try:
                    results["feast_setup"] = timings
                    refs = __import__("feast_repo").FEATURE_REFS
                    client = Client(feast_url)
                    one = [{"features": refs, "entities": {KEY: [u]}} for u in singles]
                    many = [{"features": refs, "entities": {KEY: b}} for b in batches]
                    results["feast_http"] = {
                        "batch1": dps.percentiles(time_calls(client, "/get-online-features", one, 200, "f1")),
                        "batch500": dps.percentiles(
                            time_calls(client, "/get-online-features", many, 20, "f500")
                        ),
                    }
                    results["feast_http_until_body_read"] = {
                        "batch1": dps.percentiles(RECEIVED["f1"]),
                        "batch500": dps.percentiles(RECEIVED["f500"]),
                    }
                    check = {"features": refs, "entities": {KEY: singles[:20]}}
                    got = client.post("/get-online-features", check)
                    client.close()
                    names = got["metadata"]["feature_names"]
                    column = {n: r["values"] for n, r in zip(names, got["results"], strict=True)}
                    mismatches = sum(
                        1
                        for i, vector in enumerate(sample)
                        for feature in workload.FEATURES
                        if feature in column
                        and vector[feature] != column[feature][i]
                        and not (
                            isinstance(vector[feature], float)
                            and abs(vector[feature] - column[feature][i]) < 1e-9
                        )
                    )
                    results["granary_vs_feast_value_mismatches_20_users"] = mismatches
                finally:
                    process.terminate()
                    process.wait(15)

    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

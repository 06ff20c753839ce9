#!/usr/bin/env python3
"""Model deployment benchmark: predict over the data plane's REST API against a bare floor.

One region (``ops/region up predbench``) and the data plane services as separate
processes (``bench/dataplane_services.py``). A small feature group (10,000 users x 10
float features, online-enabled, inserted the remote way: REST -> Kafka -> materializer
-> Redis) and a view on it; a scikit-learn ``LogisticRegression`` saved in the model
registry and deployed with a predictor that, as a Hopsworks user writes one, calls
``fv.init_serving()`` in ``__init__`` and ``fv.get_feature_vector(s)`` per request.

Systems, each its own process, timed with the same keep-alive ``http.client`` client
(``dataplane_online.Client``) on the same user sequence, interleaved in rounds:

- ``deployment``: ``POST /api/v1/projects/{p}/deployments/bench/predict`` with a key:
  the API checks the key, passes the request to the predictor process, whose
  ``fv.get_feature_vector(s)`` asks the data plane for the vectors (which reads Redis).
- ``predictor-direct``: the deployment's own process on its loopback port (no key
  check, no proxy hop in the API): where the time of ``deployment`` goes.
- ``floor``: the same model and the same Redis read (the data plane's own
  ``FeatureServer.get_feature_vector_rows`` of the view, in process) in a raw ASGI
  app served by uvicorn, as the predictor host is: no key, no hop.

Batch 1 (one user per request) and batch 100 (100 distinct users). Target (issue 14):
p99 <= 5 ms at batch 1 and <= 1.5x the floor.

Usage::

    .venv/bin/python bench/deploy_predict.py [--calls1 1000] [--calls100 200] [--rounds 10]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dataplane_services as dps
from dataplane_online import Client

RESULTS = Path(__file__).resolve().parent / "results" / "deploy_predict.json"
KEY = "user_id"
USERS = 10_000
FEATURES = [f"f{i}" for i in range(10)]
VIEW = ("bench", 1)
SEED = 20261203

PREDICTOR = '''
"""The benchmark's predictor: Hopsworks-style, the vectors come from the feature view."""

import os

import joblib
import numpy as np

import granary


class Predict:
    def __init__(self):
        self.fv = granary.login().get_feature_store().get_feature_view("bench", 1)
        self.fv.init_serving()
        self.model = joblib.load(os.path.join(os.environ["MODEL_FILES_PATH"], "model.pkl"))

    def predict(self, inputs):
        if len(inputs) == 1:
            x = np.array([self.fv.get_feature_vector({"user_id": inputs[0]})], dtype=float)
        else:
            x = np.array(self.fv.get_feature_vectors([{"user_id": u} for u in inputs]), dtype=float)
        return self.model.predict_proba(x)[:, 1].tolist()
'''


def floor_app(project: str, model_path: str) -> Any:
    """A raw ASGI app: JSON ``{"instances": [uid, ...]}`` -> the model's scores of the
    vectors read from Redis by the data plane's own feature server, in process."""
    import joblib

    from data_plane.region import Region
    from data_plane.settings import DataPlaneSettings

    region = Region(DataPlaneSettings(), migrate=False)
    server = region.serving(region.engine(project))
    model = joblib.load(model_path)
    names = server.plan(*VIEW).schema.names
    columns = [names.index(f) for f in FEATURES]  # the model's inputs: no key, no event time

    def scores(users: list[int]) -> list[float]:
        rows = server.get_feature_vector_rows(*VIEW, [{KEY: u} for u in users], columns=columns)
        return model.predict_proba(np.array(rows, dtype=float))[:, 1].tolist()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, payload = 200, b'{"status": "ok"}'
        if scope["method"] == "POST":
            payload = json.dumps({"predictions": scores(json.loads(body)["instances"])}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    return app


def floor_worker(port: int, project: str, model_path: str) -> None:
    import uvicorn

    uvicorn.run(floor_app(project, model_path), host="127.0.0.1", port=port, log_level="warning")


def setup(services: dps.Services, workdir: Path) -> tuple[str, str, Path, Any]:
    """The group, view, model and a started deployment; returns project, key, model file,
    deployment."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    import granary

    rng = np.random.default_rng(SEED)
    frame = pd.DataFrame(rng.normal(size=(USERS, len(FEATURES))), columns=FEATURES)
    frame.insert(0, KEY, np.arange(USERS))
    frame.insert(1, "ts", pd.Timestamp("2026-01-01", tz="UTC"))
    project_name, key = services.new_key()
    project = granary.login(host=services.api_url, api_key=key)
    fs = project.get_feature_store()
    group = fs.create_feature_group(
        "users", version=1, primary_key=[KEY], event_time="ts", online_enabled=True
    )
    group.insert(frame, wait=True)
    view = fs.create_feature_view(
        VIEW[0], version=VIEW[1], query=group.select_all(include_primary_key=False, include_event_time=False)
    )
    view.init_serving()
    deadline = time.monotonic() + 60  # the online store is written by the materializer
    while view.get_feature_vector({KEY: USERS - 1}, allow_missing=True)[0] is None:
        if time.monotonic() > deadline:
            raise RuntimeError("the online store did not receive the rows in 60 s")
        time.sleep(0.5)

    labels = (frame[FEATURES].to_numpy() @ rng.normal(size=len(FEATURES)) > 0).astype(int)
    model_dir = workdir / "model"
    model_dir.mkdir()
    joblib.dump(LogisticRegression().fit(frame[FEATURES].to_numpy(), labels), model_dir / "model.pkl")
    model = project.get_model_registry().sklearn.create_model("bench_model").save(model_dir)
    script = workdir / "predictor.py"
    script.write_text(PREDICTOR)
    deployment = model.deploy(name="bench", script_file=script).start()
    return project_name, key, model_dir / "model.pkl", deployment


def start_floor(services: dps.Services, project: str, model_path: Path, logs: Path) -> tuple[Any, str]:
    port = dps.free_port()
    process = subprocess.Popen(
        [str(dps.PY), __file__, "--floor-worker", str(port), project, str(model_path)],
        env=services.env,
        cwd=dps.REPO,
        stdout=subprocess.DEVNULL,
        stderr=open(logs / "floor.log", "w"),  # noqa: SIM115
    )
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the floor did not start; see {logs / 'floor.log'}")
        time.sleep(0.2)


def _predictor_url(deployment: Any) -> str:
    """The deployment process's own loopback address, from its log line."""
    line = next(x for x in deployment.get_logs().splitlines() if "listening on" in x)
    return "http://" + line.rsplit(" ", 1)[1]


def timed(client: Client, path: str, bodies: list[dict[str, Any]]) -> list[float]:
    samples = []
    for body in bodies:
        started = time.perf_counter()
        json.loads(client.post_raw(path, body))
        samples.append(time.perf_counter() - started)
    return samples


def table(results: dict[str, Any]) -> str:
    lines = [
        "| system | batch | calls | p50 ms | p95 ms | p99 ms | max ms | p50 vs floor | p99 vs floor |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for batch in ("batch1", "batch100"):
        floor = results["floor"][batch]
        for system in ("deployment", "predictor-direct", "floor"):
            row = results[system][batch]
            lines.append(
                f"| {system} | {batch[5:]} | {row['n']:,} | {row['p50_ms']:.2f} | {row['p95_ms']:.2f} | "
                f"{row['p99_ms']:.2f} | {row['max_ms']:.2f} | {row['p50_ms'] / floor['p50_ms']:.2f}x | "
                f"{row['p99_ms'] / floor['p99_ms']:.2f}x |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls1", type=int, default=1000)
    parser.add_argument("--calls100", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--region", default="predbench")
    parser.add_argument("--floor-worker", nargs=3, metavar=("PORT", "PROJECT", "MODEL"))
    args = parser.parse_args(argv)
    if args.floor_worker:
        floor_worker(int(args.floor_worker[0]), *args.floor_worker[1:])
        return 0

    rng = np.random.default_rng(SEED + 1)
    singles = [{"instances": [int(u)]} for u in rng.integers(0, USERS, args.calls1 + args.warmup)]
    batches = [
        {"instances": [int(u) for u in rng.choice(USERS, 100, replace=False)]}
        for _ in range(args.calls100 + args.warmup // 5)
    ]
    workdir = Path(tempfile.mkdtemp(prefix="deploy-predict-"))
    results: dict[str, Any] = {
        "users": USERS,
        "features": len(FEATURES),
        "calls1": args.calls1,
        "calls100": args.calls100,
        "rounds": args.rounds,
    }
    with dps.region(args.region) as env, dps.services(env, workdir / "logs") as services:
        project, key, model_path, deployment = setup(services, workdir)
        floor, floor_url = start_floor(services, project, model_path, workdir / "logs")
        try:
            clients = {
                "deployment": (
                    Client(services.api_url, {"authorization": f"Bearer {key}"}),
                    f"/api/v1/projects/{project}/deployments/bench/predict",
                ),
                "predictor-direct": (Client(_predictor_url(deployment)), "/predict"),
                "floor": (Client(floor_url), "/predict"),
            }
            for client, path in clients.values():  # warm-up, untimed
                timed(client, path, singles[: args.warmup] + batches[: args.warmup // 5])
            samples: dict[str, dict[str, list[float]]] = {s: {"batch1": [], "batch100": []} for s in clients}
            ones, hundreds = singles[args.warmup :], batches[args.warmup // 5 :]
            for r in range(args.rounds):
                order = list(clients)[r % len(clients) :] + list(clients)[: r % len(clients)]
                for system in order:
                    client, path = clients[system]
                    part1 = ones[r * len(ones) // args.rounds : (r + 1) * len(ones) // args.rounds]
                    part100 = hundreds[
                        r * len(hundreds) // args.rounds : (r + 1) * len(hundreds) // args.rounds
                    ]
                    samples[system]["batch1"] += timed(client, path, part1)
                    samples[system]["batch100"] += timed(client, path, part100)
            for system, by_batch in samples.items():
                results[system] = {b: dps.percentiles(s) for b, s in by_batch.items()}
            check = batches[0]
            answers = [json.loads(c.post_raw(p, check))["predictions"] for c, p in clients.values()]
            results["check_100_users_max_abs_diff"] = float(np.ptp(np.array(answers), axis=0).max())
            results["service_rss_mib"] = services.rss_mib()
            for client, _ in clients.values():
                client.close()
        finally:
            floor.terminate()
            floor.wait(15)
            deployment.stop()
            deployment.delete()

    batch1 = results["deployment"]["batch1"]
    results["target_batch1_p99_le_5ms"] = batch1["p99_ms"] <= 5.0
    results["target_le_1_5x_floor_p99"] = {
        b: results["deployment"][b]["p99_ms"] <= 1.5 * results["floor"][b]["p99_ms"]
        for b in ("batch1", "batch100")
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(
        json.dumps(
            {k: v for k, v in results.items() if k not in ("deployment", "predictor-direct", "floor")},
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

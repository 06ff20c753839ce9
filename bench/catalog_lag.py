"""Catalog replication lag between two regions' PostgreSQL clusters, under steady writes.

Two clusters on this machine (``ops/postgres.sh``, regions ``bench-cat-a`` and
``bench-cat-b``), linked both ways as ``replication.catalog`` links regions; a writer
thread keeps changing feature groups of a project homed in ``a`` at a steady rate while
the probe, ``--samples`` times, creates a group in ``a`` and times how long until ``b``
has it (polled every millisecond). Prints p50/p95/p99/max and writes
``bench/results/catalog_lag.json``.

    .venv/bin/python bench/catalog_lag.py [--samples 300] [--rate 50]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import threading
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from data_plane import publication
from data_plane.catalog import Catalog
from data_plane.metadata.db import upgrade
from data_plane.metadata.models import ProjectRecord
from granary_core.ids import new_id
from replication import catalog as replication
from replication.catalog import RegionDatabase

REPO = Path(__file__).resolve().parent.parent
#: Ports outside every region base (ops/regions.conf and the hashed 28000-39000 range).
CLUSTERS = {"ra": ("bench-cat-a", 41532), "rb": ("bench-cat-b", 41534)}


def _cluster(action: str, name: str, port: int) -> None:
    subprocess.run(
        ["bash", str(REPO / "ops" / "postgres.sh"), action, name, str(port)], check=True, capture_output=True
    )


def _database(region_id: str) -> RegionDatabase:
    name, port = CLUSTERS[region_id]
    _cluster("start", name, port)
    database = f"lag_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(
        f"postgresql+psycopg://granary:granary@127.0.0.1:{port}/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    db = RegionDatabase(region_id, f"postgresql+psycopg://granary:granary@127.0.0.1:{port}/{database}")
    upgrade(db.engine)
    return db


def _teardown(dbs: list[RegionDatabase]) -> None:
    for db in dbs:
        for source in dbs:
            if source is not db:
                replication.unsubscribe(db, source.region_id)
    for db in dbs:
        database = sa.make_url(db.url).database
        db.dispose()
        name, port = CLUSTERS[db.region_id]
        admin = sa.create_engine(
            f"postgresql+psycopg://granary:granary@127.0.0.1:{port}/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE "{database}" WITH (FORCE)'))
        admin.dispose()
        _cluster("stop", name, port)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--rate", type=float, default=50.0, help="background changes per second")
    args = parser.parse_args()

    a, b = _database("ra"), _database("rb")
    try:
        project_id = new_id()
        with a.engine.begin() as c:
            publication.home(c, a.region_id, [project_id])
            c.execute(sa.insert(ProjectRecord).values(id=project_id, name="bench"))
        replication.subscribe(b, a)
        replication.subscribe(a, b)
        replication.wait_caught_up(b, a)
        cat = Catalog(a.engine, "bench")
        busy = cat.create_group(name="busy", version=1, primary_key=["k"], location="bench/busy_v1")
        stop = threading.Event()

        def write() -> None:  # the steady load: a description change at --rate per second
            n = 0
            while not stop.wait(1 / args.rate):
                n += 1
                with a.engine.begin() as c:
                    c.execute(
                        sa.text("UPDATE feature_groups SET description = :d WHERE id = :i"),
                        {"d": str(n), "i": busy.id},
                    )

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        lags = []
        with b.engine.connect() as probe:
            for i in range(args.samples):
                info = cat.create_group(name=f"g{i}", version=1, primary_key=["k"], location=f"bench/g{i}")
                committed = time.perf_counter()
                while not probe.execute(
                    sa.text("SELECT 1 FROM feature_groups WHERE id = :i"), {"i": info.id}
                ).first():
                    probe.commit()
                    time.sleep(0.001)
                lags.append((time.perf_counter() - committed) * 1000)
                probe.commit()
        stop.set()
        writer.join()
    finally:
        _teardown([a, b])
    lags.sort()
    q = statistics.quantiles(lags, n=100)
    result = {
        "samples": len(lags),
        "background_rate": args.rate,
        "p50_ms": round(q[49], 1),
        "p95_ms": round(q[94], 1),
        "p99_ms": round(q[98], 1),
        "max_ms": round(lags[-1], 1),
    }
    print("catalog lag a -> b (commit in a until visible in b)")
    print(" | ".join(f"{k} {v}" for k, v in result.items()))
    out = REPO / "bench" / "results" / "catalog_lag.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""``python -m replication catalog ACTION``: the operator's commands for catalog replication.

Regions are named as ``ops/region`` and ``ops/world`` name them; each one's PostgreSQL
URL is read from ``.regions/NAME/env`` (``GRANARY_PG_URL``), or given as ``NAME=URL``.

    link REGION...                     subscribe every region to every other (idempotent)
    status REGION...                   each region's links: flowing, errors, lag
    check REGION...                    what is wrong; exit 1 if anything
    switchover PROJECT --from A --to B planned move of a project's home (writes stopped)
    failover PROJECT --from A --to B   A is gone: B homes the project from now
    failback A REGION...               A returns as a standby; prints the writes it lost
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from replication import catalog
from replication.catalog import RegionDatabase

REPO = Path(__file__).resolve().parent.parent


def region(spec: str) -> RegionDatabase:
    """``NAME=URL``, or ``NAME`` with its URL from ``.regions/NAME/env``."""
    name, _, url = spec.partition("=")
    if not url:
        env = REPO / ".regions" / name / "env"
        if not env.exists():
            raise SystemExit(f"region {name}: no {env}; is it up (ops/region up {name})? or give NAME=URL")
        values = dict(
            line.removeprefix("export ").split("=", 1)
            for line in env.read_text().splitlines()
            if line.startswith("export ")
        )
        url = values["GRANARY_PG_URL"]
    return RegionDatabase(name, url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m replication catalog",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", choices=["catalog"])
    actions = parser.add_subparsers(dest="action", required=True)
    for name in ("link", "status", "check"):
        actions.add_parser(name).add_argument("regions", nargs="+", type=region)
    for name in ("switchover", "failover"):
        move = actions.add_parser(name)
        move.add_argument("project")
        move.add_argument("--from", dest="source", required=True, type=region)
        move.add_argument("--to", dest="target", required=True, type=region)
    back = actions.add_parser("failback")
    back.add_argument("old", type=region)
    back.add_argument("regions", nargs="+", type=region)
    args = parser.parse_args(argv)

    started = time.monotonic()
    if args.action == "link":
        for target in args.regions:
            for source in args.regions:
                if source is not target:
                    catalog.subscribe(target, source)
                    print(f"{target.region_id} <- {source.region_id}")
    elif args.action == "status":
        for db in args.regions:
            for link in catalog.links(db):
                lag = "-" if link.lag_ms is None else f"{link.lag_ms:.0f} ms"
                state = "flowing" if link.enabled and link.streaming else "stopped"
                print(
                    f"{db.region_id} <- {link.source}: {state}, lag {lag}, "
                    f"{link.apply_errors} apply / {link.sync_errors} sync errors"
                )
    elif args.action == "check":
        problems = catalog.check(args.regions)
        print("\n".join(problems) or "no problems")
        return 1 if problems else 0
    elif args.action == "switchover":
        catalog.switchover([args.project], old=args.source, new=args.target)
        print(
            f"{args.project}: home {args.source.region_id} -> {args.target.region_id}, nothing lost "
            f"({time.monotonic() - started:.2f} s)"
        )
    elif args.action == "failover":
        catalog.failover([args.project], lost=args.source, new=args.target)
        print(
            f"{args.project}: home {args.target.region_id} ({args.source.region_id} lost; "
            f"{time.monotonic() - started:.2f} s). Writes {args.source.region_id} made after the "
            f"last beat {args.target.region_id} saw are lost; `failback` lists them."
        )
    else:
        lost = catalog.failback(args.old, args.regions)
        total = sum(len(ids) for ids in lost.values())
        print(f"{args.old.region_id} is a standby again; {total} rows only it had were discarded")
        for table, ids in lost.items():
            for row_id in ids:
                print(f"  lost {table} {row_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

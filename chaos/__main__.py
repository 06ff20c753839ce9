"""``python -m chaos list|run|report``: region failover drills (``granary drill`` runs this).

  list                       the scenarios
  run SCENARIO... | all      run drills on the world ``ops/world`` has up (or brings up):
                             --cp NAME (default cp), --regions HOME STANDBY (default w1 w2),
                             --window SECONDS the fault lasts (default 3; a soak: 60),
                             --out DIR for the reports (default drills/)
  report DIR                 the summary line of every report in DIR

Exit status 1 when any drill found a violation.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chaos.scenarios import SCENARIOS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__.split("\n")[0])
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("list")
    run = actions.add_parser("run")
    run.add_argument("scenarios", nargs="+", help=f"'all' or any of: {', '.join(SCENARIOS)}")
    run.add_argument("--cp", default="cp")
    run.add_argument("--regions", nargs=2, default=["w1", "w2"], metavar=("HOME", "STANDBY"))
    run.add_argument("--window", type=float, default=3.0, help="seconds the fault lasts")
    run.add_argument("--out", type=Path, default=Path("drills"))
    report = actions.add_parser("report")
    report.add_argument("dir", type=Path)
    args = parser.parse_args(argv)

    if args.action == "list":
        for scenario in SCENARIOS.values():
            print(f"{scenario.name:26} {scenario.summary}")
        return 0
    if args.action == "report":
        found = sorted(args.dir.glob("*.json"))
        for path in found:
            body = json.loads(path.read_text())
            verdict = "PASS" if not body["violations"] else f"FAIL ({len(body['violations'])})"
            f = body["figures"]
            print(
                f"{path.stem}: {verdict}; {f['acknowledged']} acknowledged, {f['lost']} lost, "
                f"RTO {f['rto_s']}"
            )
        return 0 if found else 1

    from chaos.drill import Drill, replicated
    from chaos.world import World

    names = list(SCENARIOS) if args.scenarios == ["all"] else args.scenarios
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    print(f"bringing up the world ({args.cp}: {' '.join(args.regions)}) ...", flush=True)
    world = World.up(args.cp, args.regions)
    failed = 0
    with replicated(world):
        for name in names:
            print(f"drill {name}: running (fault window {args.window:.0f} s) ...", flush=True)
            outcome = Drill(world, SCENARIOS[name], args.out, window_s=args.window).run()
            print(outcome.summary(), flush=True)
            failed += not outcome.passed
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``granary`` command: run the demo and look inside a project from a terminal."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

import granary
from granary import cli_cloud
from granary_core.errors import GranaryError

console = Console()


def _project(args: argparse.Namespace) -> granary.Project:
    return granary.login(home=args.home)


def _fg_list(args: argparse.Namespace) -> None:
    table = Table(
        Column("name", no_wrap=True), "version", "primary key", "event time", "online", "features", "commits"
    )
    fs = _project(args).get_feature_store()
    for fg in fs.get_feature_groups(args.name):
        table.add_row(
            fg.name,
            str(fg.version),
            ", ".join(fg.primary_key),
            fg.event_time or "-",
            "yes" if fg.online_enabled else "no",
            str(len(fg.features)),
            str(len(fg.commit_details())),
        )
    console.print(table)


def _fg_show(args: argparse.Namespace) -> None:
    fg = _project(args).get_feature_store().get_feature_group(args.name, args.version)
    console.print(f"[bold]{fg.name}[/] v{fg.version}  {fg.description}")
    features = Table(Column("feature", no_wrap=True), Column("type", no_wrap=True), "role")
    for f in fg.features:
        role = "primary key" if f.primary else "event time" if f.event_time else ""
        features.add_row(f.name, escape(f.type), role)
    console.print(features)
    commits = Table("commit", "committed at (UTC)", "operation", "inserted", "updated", "deleted")
    for commit_id, c in fg.commit_details(limit=args.commits).items():
        commits.add_row(
            str(commit_id),
            c["committed_on"].strftime("%Y-%m-%d %H:%M:%S"),
            c["operation"],
            str(c["rows_inserted"]),
            str(c["rows_updated"]),
            str(c["rows_deleted"]),
        )
    console.print(commits)


def _fv_list(args: argparse.Namespace) -> None:
    table = Table(Column("name", no_wrap=True), "version", "labels", "description")
    for fv in _project(args).get_feature_store().get_feature_views(args.name):
        table.add_row(fv.name, str(fv.version), ", ".join(fv.labels), fv.description)
    console.print(table)


def _fv_show(args: argparse.Namespace) -> None:
    fv = _project(args).get_feature_store().get_feature_view(args.name, args.version)
    console.print(f"[bold]{fv.name}[/] v{fv.version}  labels: {', '.join(fv.labels) or '-'}")
    features = Table("feature", "type", "label")
    for name, typ in fv.schema:
        features.add_row(name, escape(typ), "yes" if name in fv.labels else "")
    console.print(features)
    datasets = Table("training dataset", "format", "rows", "created (UTC)")
    for td in fv.get_training_datasets():
        rows = ", ".join(f"{k}={v}" for k, v in td.options["rows"].items())
        datasets.add_row(str(td.version), td.data_format, rows, td.created_at.strftime("%Y-%m-%d %H:%M:%S"))
    console.print(datasets)
    console.print("[dim]SQL:[/]")
    console.print(fv.query.to_string(), markup=False)


def _demo(args: argparse.Namespace) -> None:
    repo = Path(__file__).resolve().parents[1]
    if not (repo / "examples" / "fraud" / "run_all.py").exists():
        raise GranaryError("granary demo runs the examples/ of a source checkout; none was found")
    sys.path.insert(0, str(repo))
    from examples.fraud import run_all

    home = Path(args.home or os.environ.get("GRANARY_HOME") or "granary-data")
    console.print(f"[bold]Fraud detection FTI example[/] in {home.resolve()}")
    summary = run_all.main(home)
    table = Table("pipeline", "result")
    for step, result in summary.items():
        table.add_row(step, ", ".join(f"{k}={v}" for k, v in result.items()))
    console.print(table)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="granary", description="Granary feature store")
    root.add_argument("--home", help="embedded project folder (default: $GRANARY_HOME or ./granary-data)")
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the fraud FTI example end to end").set_defaults(run=_demo)

    for noun, list_fn, show_fn in [("fg", _fg_list, _fg_show), ("fv", _fv_list, _fv_show)]:
        what = "feature groups" if noun == "fg" else "feature views"
        group = commands.add_parser(noun, help=f"inspect {what}").add_subparsers(dest="action", required=True)
        listing = group.add_parser("list", help=f"list {what}")
        listing.add_argument("name", nargs="?")
        listing.set_defaults(run=list_fn)
        show = group.add_parser("show", help=f"describe one of the {what}")
        show.add_argument("name")
        show.add_argument("--version", type=int, default=None, help="default: the latest")
        if noun == "fg":
            show.add_argument("--commits", type=int, default=10, help="how many recent commits to list")
        show.set_defaults(run=show_fn)
    cli_cloud.add_commands(commands)  # signup, verify, login, password-reset, project, key
    drill = commands.add_parser(
        "drill",
        help="region failover drills (operators): list | run SCENARIO... | report DIR",
        add_help=False,
    )
    drill.add_argument("drill_args", nargs=argparse.REMAINDER)
    drill.set_defaults(run=_drill)
    return root


def _drill(args: argparse.Namespace) -> None:
    """The drills live with the operator's tools (``python -m chaos``), not in the SDK."""
    import subprocess

    status = subprocess.call([sys.executable, "-m", "chaos", *args.drill_args])
    if status:
        raise SystemExit(status)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except GranaryError as exc:
        console.print(f"[red]error:[/] {exc.message}", markup=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

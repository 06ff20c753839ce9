"""Import every module of Granary's packages alone, each in a fresh interpreter state.

A module that imports only because something else was imported first hides a cycle
(``import data_plane.schema`` used to fail with a partially initialised module and
worked only through ``granary/__init__``'s import order). A plain loop of imports in
one process cannot see that, and one interpreter per module costs ~1 s each.

So this process imports only the heavy third-party libraries, then forks one child
per module; each child starts with none of Granary's modules loaded, imports its
module and exits 0, or prints the traceback and exits 1. Run it as a script:
``python tests/import_alone.py [package ...]``; it prints ``modules=N failed=F`` and
one block per failure, and exits 1 if any failed.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("granary_core", "granary", "data_plane", "tenancy", "control_plane", "replication", "chaos")
# Third-party libraries worth loading once in the parent: each costs 0.1-1 s to import.
THIRD_PARTY = (
    "alembic",
    "alembic.command",
    "alembic.runtime.migration",
    "argon2",
    "boto3",
    "deltalake",
    "duckdb",
    "fastapi",
    "httpx",
    "kafka",
    "numpy",
    "orjson",
    "pandas",
    "polars",
    "prometheus_client",
    "psycopg",
    "pyarrow",
    "pyarrow.compute",
    "pyarrow.dataset",
    "pyarrow.flight",
    "pyarrow.ipc",
    "pyarrow.parquet",
    "pydantic",
    "pydantic.v1",
    "pydantic_settings",
    "redis",
    "rich",
    "sqlalchemy",
    "sqlalchemy.orm",
    "sqlite3",
    "starlette",
    "tenacity",
    "uvicorn",
)


def modules_of(package: str) -> list[str]:
    """Every module of ``package`` on disk: folders without ``__init__.py`` (Alembic
    migration scripts) are not packages and are left out."""
    names = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        folders = [ROOT.joinpath(*parts[:depth]) for depth in range(1, len(parts))]
        if all((folder / "__init__.py").exists() for folder in folders):
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def fork_import(module: str, report: Path) -> int:
    """Fork a child that imports ``module``, writing its traceback to ``report`` if it fails."""
    pid = os.fork()
    if pid == 0:  # the child: whatever happens, it ends here and never runs the parent's code
        status = 1
        try:
            importlib.import_module(module)
            status = 0
        except BaseException:
            report.write_text(traceback.format_exc())
        finally:
            os._exit(status)
    return pid


def import_each(modules: list[str], workers: int) -> dict[str, str]:
    """Import each module in its own child, ``workers`` at a time; give the failures."""
    failures: dict[str, str] = {}
    pending = list(reversed(modules))
    running: dict[int, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        while pending or running:
            while pending and len(running) < workers:
                module = pending.pop()
                running[fork_import(module, Path(tmp, module))] = module
            pid, wait_status = os.wait()
            module = running.pop(pid)
            status = os.waitstatus_to_exitcode(wait_status)
            if status != 0:
                report = Path(tmp, module)
                failures[module] = report.read_text() if report.exists() else f"exit status {status}\n"
    return failures


def main(packages: list[str]) -> int:
    for name in THIRD_PARTY:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:  # an optional extra not installed: its importers say so
            if exc.name != name.split(".")[0]:
                raise
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in PACKAGES)
    if leaked:
        print(f"the parent already holds Granary modules, the check would be blind: {leaked}")
        return 1
    modules = [m for package in packages for m in modules_of(package)]
    failures = import_each(modules, workers=os.cpu_count() or 1)
    for module, report in sorted(failures.items()):
        print(f"--- import {module} alone failed:\n{report}")
    print(f"modules={len(modules)} failed={len(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:] or list(PACKAGES)))

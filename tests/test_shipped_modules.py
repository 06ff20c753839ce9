"""What the distribution ships: packages that exist, and no fault hooks in them.

Fault injection for crash tests lives in ``tests/faults/``; a production module that
can pause or break itself on a setting is one misconfiguration away from an outage.
"""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import control_plane
import data_plane
import tenancy
from data_plane.settings import DataPlaneSettings

REPO = Path(__file__).resolve().parent.parent
SHIPPED = [data_plane, control_plane, tenancy]


def test_every_packaged_name_is_a_package_in_the_repository():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    missing = [p for p in patterns if not (REPO / p.rstrip("*") / "__init__.py").exists()]
    print(f"patterns={len(patterns)} missing={missing}")
    assert not missing, f"pyproject.toml packages names that do not exist: {missing}"


def test_production_modules_carry_no_fault_hooks():
    modules = [
        info.name
        for package in SHIPPED
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
    ]
    hooks = [name for name in modules if "fault" in name.rsplit(".", 1)[-1]]
    settings = [name for name in DataPlaneSettings.model_fields if "fault" in name]
    print(f"modules={len(modules)} fault_modules={hooks} fault_settings={settings}")
    assert not hooks and not settings

"""`pip install granary` is the SDK and the embedded store, nothing of the services.

A fresh venv gets the package without the service extras, then runs the fraud example on
the embedded store and checks that no service framework or driver was installed or
imported. The services' packages come with ``granary[data-plane]`` and
``granary[control-plane]``; ``make test`` installs everything.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Distributions only the services need, by their import names.
SERVICE_MODULES = [
    "argon2",
    "boto3",
    "fastapi",
    "kafka",
    "kubernetes",
    "orjson",
    "prometheus_client",
    "psycopg",
    "pydantic_settings",
    "redis",
    "starlette",
    "uvicorn",
]

RUN_EXAMPLE = """
import importlib.util, json, sys
from pathlib import Path
from examples.fraud import run_all
import granary

summary = run_all.main(Path(sys.argv[1]))
installed = [m for m in {modules!r} if importlib.util.find_spec(m) is not None]
imported = sorted({{m.split(".")[0] for m in sys.modules}} & set({modules!r}))
redis_error = None
try:
    granary.login(home=sys.argv[1], online_store="redis://127.0.0.1:1/0")
except granary.errors.NotSupported as exc:
    redis_error = str(exc)
print(json.dumps({{"summary": summary, "installed": installed, "imported": imported,
                  "redis_error": redis_error}}, default=str))
"""


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory) -> Path:
    """A venv with `granary[examples]` only (scikit-learn for the example's model)."""
    root = tmp_path_factory.mktemp("bare-venv")
    # A copy of the sources, so the build's own files never land in the checkout.
    source = shutil.copytree(
        REPO,
        root / "source",
        ignore=shutil.ignore_patterns(".*", "build", "granary-data", "__pycache__", "*.egg-info"),
    )
    venv.create(root / "venv", with_pip=True)
    python = root / "venv" / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"{source}[examples]"],
        check=True,
        timeout=900,
    )
    return python


def test_the_bare_package_runs_the_embedded_example_without_service_packages(bare_venv, tmp_path):
    # Run outside the checkout's import path except for examples/: the package under
    # test is the installed one.
    (tmp_path / "examples").symlink_to(REPO / "examples")
    script = RUN_EXAMPLE.format(modules=SERVICE_MODULES)
    result = subprocess.run(
        [bare_venv, "-c", script, str(tmp_path / "home")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["installed"] == [], f"service packages installed by `pip install granary`: {report}"
    assert report["imported"] == []
    assert report["summary"]["training pipeline"]["roc_auc"] > 0.75
    assert report["summary"]["online inference"]["requests"] == 200
    assert "granary[redis]" in report["redis_error"]


def test_the_installed_package_is_the_one_under_test(bare_venv, tmp_path):
    where = subprocess.run(
        [bare_venv, "-c", "import granary, data_plane; print(granary.__file__); print(data_plane.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all("site-packages" in path for path in where), where
    assert sys.prefix not in where[0]

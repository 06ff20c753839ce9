"""The notebook-shaped example written with Hopsworks' calls and imports runs end to end,
in a fresh interpreter as a notebook kernel would, on each backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).parent.parent / "examples" / "hopsworks_notebook" / "loan_approval.py"


def run_notebook(env: dict[str, str]) -> dict:
    code = f"import json, runpy; print(json.dumps(runpy.run_path({str(NOTEBOOK)!r})['summary']))"
    done = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("backend", ["embedded", "remote"])
def test_hopsworks_notebook_runs_with_one_line_changed(request, tmp_path, backend):
    if backend == "embedded":
        env = {"GRANARY_HOME": str(tmp_path)}
    else:
        plane = request.getfixturevalue("data_plane")
        _, key = plane.new_key()
        env = {"GRANARY_HOST": plane.api_url, "GRANARY_API_KEY": key}
    summary = run_notebook(env)
    assert summary["applicants"] == 400
    assert summary["train_rows"] + summary["test_rows"] == 400
    assert summary["accuracy"] > 0.8
    assert summary["batch_rows"] == 400
    assert summary["online_prediction"] in (0, 1)
    assert summary["training_datasets"] == [1]
    assert "min_max_scaler_income_" in summary["view_features"] or "income" in summary["view_features"]
    assert "scheduler" in summary["jobs"] and summary["missing_group_caught"]

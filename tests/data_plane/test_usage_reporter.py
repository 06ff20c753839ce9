"""Which projects the usage reporter reports, read from a real metadata database.

The control plane writes a new project into the region's metadata before it commits its
own record, so the reporter can meet a project the control plane does not know yet. It
must ask again once the project changes, or that project's sizes are never reported and
its size quotas never bite. The control plane here is a recorder of what it is sent.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import granary
from data_plane.metadata.db import open_metadata
from data_plane.usage import UsageReporter
from tests.conftest import ts

ECHO = Path(__file__).parent.parent / "predictors" / "echo_predictor.py"


class Recorder:
    """What the control plane answers: known projects take reports, others are 404."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.reports: list[tuple[str, dict[str, Any]]] = []

    def report_usage(self, project_id: str, **gauges: float) -> bool:
        if project_id not in self.known:
            return False
        self.reports.append((project_id, gauges))
        return True


class MetadataOnly(UsageReporter):
    """Sizes from metadata only: S3 and Redis are not what this test is about."""

    def measure(self, project: str, feature_groups: int) -> dict[str, int]:
        return {"feature_groups": feature_groups}


def test_a_project_unknown_at_first_is_reported_once_it_changes(tmp_path):
    home = tmp_path / "home"
    project = granary.login(home=home)
    control_plane = Recorder()
    region = SimpleNamespace(
        control_plane=control_plane,
        metadata=open_metadata(f"sqlite:///{home / 'metadata.db'}"),
        settings=SimpleNamespace(redis_url=None),
    )
    reporter = MetadataOnly(region)

    assert reporter.report_once() == 0  # not known to the control plane (not committed yet)
    control_plane.known.add(project.name)
    assert reporter.report_once() == 0  # unchanged since: not asked again
    fg = project.get_feature_store().create_feature_group("g", version=1, primary_key=["k"], event_time="ts")
    assert reporter.report_once() == 1
    assert control_plane.reports[-1] == (project.name, {"feature_groups": 1, "model_deployments": 0})

    fg.insert({"k": [1], "ts": ts("2025-01-01")})
    assert reporter.report_once() == 1  # a commit changes it again
    assert reporter.report_once() == 0  # and nothing since


def test_running_deployments_are_reported_as_they_start_and_stop(tmp_path):
    """``model_deployments``: what the quota counts where deployments start, reported
    when it changes, so the control plane's usage shows the tenant's running ones."""
    home = tmp_path / "home"
    project = granary.login(home=home)
    control_plane = Recorder()
    control_plane.known.add(project.name)
    region = SimpleNamespace(
        control_plane=control_plane,
        metadata=open_metadata(f"sqlite:///{home / 'metadata.db'}"),
        settings=SimpleNamespace(redis_url=None),
    )
    reporter = MetadataOnly(region)
    (tmp_path / "offset.txt").write_text("1")
    model = project.get_model_registry().python.create_model("echo").save(tmp_path / "offset.txt")
    deployment = model.deploy(name="echo", script_file=ECHO)
    assert reporter.report_once() == 1
    assert control_plane.reports[-1][1]["model_deployments"] == 0

    deployment.start()
    assert reporter.report_once() == 1  # starting one is a change
    assert control_plane.reports[-1][1]["model_deployments"] == 1
    deployment.stop()
    assert reporter.report_once() == 1
    assert control_plane.reports[-1][1]["model_deployments"] == 0

"""Shared fixtures: every feature-store test runs on each backend.

``project`` (and ``fs``) are parametrized: ``embedded`` opens a project in a temporary
folder; ``remote`` logs into the data plane services running against a real region
(see tests/remote_stack.py) with a fresh API key bound to a fresh project. Select one
with ``-k embedded`` or ``-k remote``.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import granary

BACKENDS = ["embedded", "remote"]


@pytest.fixture(scope="session")
def region_env():
    """The test region's variables; a region this fixture started is stopped after the run."""
    from tests.remote_stack import region_down, region_is_up, test_region
    from tests.remote_stack import region_env as bring_up

    name = test_region()
    started_here = not region_is_up(name)
    try:
        env = bring_up(name)
    except Exception as exc:  # a missing service is a failure with its reason, never a skip
        pytest.fail(str(exc), pytrace=False)
    yield env
    if started_here:
        region_down(name)


@pytest.fixture(scope="session")
def data_plane(region_env):
    from tests.remote_stack import start_data_plane

    plane = start_data_plane(region_env)
    yield plane
    plane.stop()


@pytest.fixture(params=BACKENDS)
def project(request, tmp_path):
    if request.param == "embedded":
        return granary.login(home=tmp_path / "home")
    return request.getfixturevalue("data_plane").login()


@pytest.fixture
def fs(project):
    return project.get_feature_store()


def ts(*values: str) -> pd.Series:
    return pd.to_datetime(list(values), utc=True)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)

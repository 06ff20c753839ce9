"""Two regions side by side and the control plane (``ops/world``), shared by every test here.

The home region is the test region (``$GRANARY_TEST_REGION``, which ``make test`` has
already brought up); the standby is ``$GRANARY_TEST_STANDBY_REGION`` (default ``test2``)
and the control plane ``$GRANARY_TEST_WORLD_CP`` (default ``testcp``: not ``cp``, whose
PostgreSQL the control plane tests start on a port of their own choosing). What this session
started it stops; a region that was already up stays up.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from chaos.world import World
from tests.remote_stack import REPO, region_is_up, test_region

WORLD = REPO / "ops" / "world"


def _world(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(WORLD), *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def world():
    regions = [test_region(), os.environ.get("GRANARY_TEST_STANDBY_REGION", "test2")]
    cp = os.environ.get("GRANARY_TEST_WORLD_CP", "testcp")
    already_up = {name for name in regions if region_is_up(name)}
    result = _world("up", "--cp", cp, *regions, timeout=1500)
    if result.returncode != 0:  # a missing service fails with its reason, never a skip
        _world("stop", "--cp", cp, *regions, timeout=300)
        output = (result.stdout + result.stderr)[-4000:]
        pytest.fail(f"ops/world up failed (exit {result.returncode}):\n{output}", pytrace=False)
    yield World.running(cp, regions)
    _world("stop", "--cp", cp, *regions, timeout=300)
    for name in set(regions) - already_up:
        subprocess.run(["bash", str(REPO / "ops" / "region"), "down", name], capture_output=True, timeout=300)

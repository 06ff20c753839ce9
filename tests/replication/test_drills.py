"""Every drill scenario, short, on two real regions and the control plane (``ops/world``):
the workload runs through the fault and the heal, and every invariant holds. The soak is
``python -m chaos run all --window 60`` (README, "Drills")."""

from __future__ import annotations

import pytest

from chaos.drill import Drill, replicated
from chaos.scenarios import SCENARIOS
from chaos.world import World


@pytest.fixture(scope="module")
def drill_world(world):
    """The test world linked both ways for the drills; unlinked after. The drills' tenant
    is homed in the standby region, so the faults never touch the test region's services
    that other tests' data planes hold connections to."""
    running = World.running(world.cp, [world.standby, world.home])
    with replicated(running):
        yield running
    running.restore()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_drill(drill_world, name, tmp_path):
    outcome = Drill(drill_world, SCENARIOS[name], tmp_path, window_s=2.0).run()
    print(outcome.summary())
    print(outcome.report.read_text())
    assert outcome.passed, "\n".join(outcome.violations)
    assert outcome.figures.acknowledged > 0
    assert (tmp_path / f"{name}.png").exists()

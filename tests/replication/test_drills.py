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
    """The test world linked both ways for the drills; unlinked after."""
    running = World.running(world.cp, list(world.planes))
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

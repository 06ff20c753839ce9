"""Every drill scenario, short, on two real regions and the control plane (``ops/world``):
the workload runs through the fault and the heal, and every invariant holds. The soak is
``python -m chaos run all --window 60`` (README, "Drills").

And the checkers can fail on a live run: with the standby's data plane deliberately
broken (``GRANARY_TEST_ONLY_BREAK``), a switchover without fencing is split brain, and
writes acknowledged but never produced are lost; and what a tenant leaves in a region
is found."""

from __future__ import annotations

import gc

import pytest
import redis

from chaos import leaks
from chaos.drill import Drill, replicated
from chaos.scenarios import SCENARIOS
from chaos.world import World


@pytest.fixture(scope="module")
def drill_world(world):
    """The test world linked both ways for the drills; unlinked after. The drills' tenant
    is homed in the standby region, so the faults never touch the test region's services
    that other tests' data planes hold connections to."""
    running = World.running(world.cp, [world.standby, world.home])
    # what the session built up so far is left out of the collector's passes: a full
    # pass over it stalls the drill's clients for seconds, which reads as an outage
    gc.collect()
    gc.freeze()
    try:
        with replicated(running):
            yield running
        running.restore()
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_drill(drill_world, name, tmp_path):
    scenario = SCENARIOS[name]
    # where writes must go on, a window longer than the stretch they may go without
    window = 2 * scenario.write_gap_s if scenario.writes_continue else 2.0
    outcome = Drill(drill_world, scenario, tmp_path, window_s=window).run()
    print(outcome.summary())
    print(outcome.report.read_text())
    assert outcome.passed, "\n".join(outcome.violations)
    assert outcome.figures.acknowledged > 0
    assert (tmp_path / f"{name}.png").exists()


@pytest.fixture
def broken(drill_world):
    """Break the drill home's data plane in the way asked; whole again after, whatever
    happened."""
    region = drill_world.home

    def breaking(how: str) -> None:
        drill_world.break_data_plane(region, how)

    yield breaking
    drill_world.break_data_plane(region, None)


def test_an_unfenced_old_home_is_caught_as_split_brain(drill_world, broken, tmp_path):
    broken("no-fencing")
    outcome = Drill(drill_world, SCENARIOS["switchover"], tmp_path, window_s=2.0).run()
    print(outcome.summary())
    split = [v for v in outcome.violations if "under the newer epoch" in v]
    assert split, "\n".join(outcome.violations)
    assert f"{drill_world.home} acknowledged write" in split[0]


def test_writes_acknowledged_but_dropped_are_caught_as_lost(drill_world, broken, tmp_path):
    broken("drop-writes")
    # the dropped writes never arrive: no need to wait the usual 180 s for them to
    outcome = Drill(drill_world, SCENARIOS["slow-link"], tmp_path, window_s=2.0, settle_s=20.0).run()
    print(outcome.summary())
    lost = [v for v in outcome.violations if v.startswith("acknowledged write") and v.endswith("is lost")]
    assert lost, "\n".join(outcome.violations)
    assert outcome.figures.lost == len(lost) > 0


def test_what_a_tenant_leaves_in_any_region_is_found(drill_world):
    """The leak checks look where the stores keep a project's data: an object under its
    prefix in the standby's bucket and an online key under its key prefix are reported."""
    region, scope = drill_world.standby, "p_leakcheck0000000"
    s3, bucket = leaks.s3_client(drill_world, region)
    online = redis.Redis.from_url(drill_world.env[region]["GRANARY_REDIS_URL"])
    prefix, key_prefix = f"granary/offline/{scope}/", f"granary.{scope}:"
    assert leaks.objects_left(drill_world, [prefix]) == []
    assert leaks.online_left(drill_world, key_prefix) == []
    s3.put_object(Bucket=bucket, Key=f"{prefix}g_v1/part-0.parquet", Body=b"x")
    online.set(f"{key_prefix}g:1", b"x")
    try:
        assert leaks.objects_left(drill_world, [prefix]) == [
            f"object {bucket}/{prefix}g_v1/part-0.parquet in {region}"
        ]
        assert leaks.online_left(drill_world, key_prefix) == [f"1 online keys under {key_prefix} in {region}"]
    finally:
        s3.delete_object(Bucket=bucket, Key=f"{prefix}g_v1/part-0.parquet")
        online.delete(f"{key_prefix}g:1")
        online.close()

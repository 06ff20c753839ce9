"""The drill checkers can fail: each is shown a history that breaks its invariant (a
dropped acknowledged write, two regions acknowledging under one epoch or an old home
after the move, a read outage or stall, diverged stores) and one that keeps it."""

from __future__ import annotations

import pytest

from chaos import checks
from chaos.checks import Op


def _write(
    key: int, end: float, ok: bool = True, region: str = "a", epoch: int = 0, unknown: bool = False
) -> Op:
    return Op(
        "write", end - 0.01, end, ok, key, region if ok else None, epoch if ok else None, unknown=unknown
    )


HISTORY = [_write(1, 1.0), _write(2, 2.0), _write(3, 3.0, ok=False, unknown=True), _write(4, 4.0, ok=False)]


def test_a_dropped_acknowledged_write_is_found_and_an_unknown_one_is_not():
    assert checks.loss_violations(HISTORY, present={1, 2}, bound=None) == []
    assert checks.loss_violations(HISTORY, present={1, 2, 3}, bound=None) == []  # unknown: either way
    dropped = checks.loss_violations(HISTORY, present={1}, bound=None)
    assert dropped == ["acknowledged write 2 is lost"]


def test_after_a_failover_only_writes_acknowledged_after_the_bound_may_be_lost():
    assert checks.loss_violations(HISTORY, present={1}, bound=1.5) == []  # 2 came after the bound
    [violation] = checks.loss_violations(HISTORY, present={2}, bound=1.5)
    assert "acknowledged write 1 is lost" in violation and "before the reported bound" in violation


def test_a_refused_write_whose_row_appears_is_a_phantom():
    assert checks.phantom_writes(HISTORY, present={1, 2, 3}) == []
    assert checks.phantom_writes(HISTORY, present={1, 2, 4}) == ["write 4 was refused, yet its row is stored"]


def test_two_regions_acknowledging_under_one_epoch_is_split_brain():
    moved = [*HISTORY, _write(5, 5.0, region="b", epoch=1), _write(6, 6.0, region="b", epoch=1)]
    assert checks.split_brain(moved) == []
    broken = [*moved, _write(7, 5.5, region="a", epoch=1)]
    assert checks.split_brain(broken) == ["epoch 1: writes acknowledged by 2 regions (a, b)"]


def test_an_old_home_acknowledging_after_the_move_is_split_brain():
    moved = [*HISTORY, _write(5, 5.0, region="b", epoch=1)]
    overlapping = [*moved, _write(6, 5.005, region="a", epoch=0)]  # began before 5 was acknowledged
    assert checks.split_brain(overlapping) == []
    stale = [*moved, _write(6, 6.0, region="a", epoch=0), _write(7, 7.0, region="a", epoch=0)]
    [violation] = checks.split_brain(stale)
    assert violation.startswith("a acknowledged write 6 under epoch 0 at 6.000 s, after b acknowledged")
    assert "(2 such writes)" in violation


def test_the_longest_read_outage_is_measured_between_successes():
    reads = [
        Op("online", 0.0, 0.1, True),
        Op("online", 0.2, 0.3, False),
        Op("online", 1.0, 1.1, False),
        Op("online", 2.0, 2.1, True),
        Op("online", 2.2, 2.3, True),
    ]
    assert checks.longest_outage(reads, "online") == 2.0  # from 0.1 to 2.1
    assert checks.availability_violations(reads, "online", 2.5) == []
    [violation] = checks.availability_violations(reads, "online", 1.0)
    assert "online operations went 2.00 s at a stretch without a success" in violation


def test_a_read_that_hangs_is_an_outage_too():
    reads = [Op("online", 0.0, 0.1, True), Op("online", 0.2, 3.2, True), Op("online", 3.3, 3.4, True)]
    assert checks.longest_outage(reads, "online") == 3.0


def test_time_the_clients_stood_still_is_not_counted_against_the_service():
    reads = [Op("online", 0.0, 0.1, True), Op("online", 0.2, 3.2, True), Op("online", 3.3, 3.4, True)]
    assert checks.longest_outage(reads, "online", pauses=[(1.0, 3.0)]) == pytest.approx(1.0)
    # a pause outside the stretch changes nothing
    assert checks.longest_outage(reads, "online", pauses=[(5.0, 9.0)]) == 3.0
    assert checks.availability_violations(reads, "online", 2.0, pauses=[(1.0, 3.0)]) == []


def test_diverged_stores_are_found():
    offline = {"a": {1: 1.0, 2: 2.0}, "b": {1: 1.0, 2: 2.0}}
    assert checks.divergence(offline, {"a": {1: 1.0, 2: 2.0}, "b": {1: 1.0, 2: 2.0}}) == []
    problems = checks.divergence(
        {"a": {1: 1.0, 2: 2.0}, "b": {1: 1.0}}, {"a": {1: 1.0, 2: 2.0}, "b": {1: 1.0}}
    )
    assert problems == ["offline tables of a and b differ in 1 rows: only in a [(2, 2.0)], only in b []"]
    stale = checks.divergence(offline, {"a": {1: 1.0, 2: 2.0}, "b": {1: 1.0, 2: None}})
    assert len(stale) == 1 and "b's online store does not serve the newest offline row of 1 keys" in stale[0]

"""The invariants a drill checks after the heal, over what the clients logged and what
the stores hold. Each check returns the violations it found, one sentence each (empty:
it holds), so a report can list them and a test can show a check can fail."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Op:
    """One operation a client made: when (seconds on the drill's clock), what, and how it
    ended. ``ok`` False with ``unknown`` True: cut mid-way, it may or may not have
    taken effect."""

    kind: str  # "write", "online", "offline"
    start: float
    end: float
    ok: bool
    key: int | None = None
    region: str | None = None
    epoch: int | None = None
    error: str | None = None
    unknown: bool = False


def lost_writes(ops: Iterable[Op], present: set[int]) -> list[int]:
    """Keys of acknowledged writes the stores do not hold."""
    return sorted(op.key for op in ops if op.kind == "write" and op.ok and op.key not in present)


def loss_violations(ops: Iterable[Op], present: set[int], bound: float | None) -> list[str]:
    """Nothing acknowledged may be lost; after a failover, only writes acknowledged after
    ``bound`` (the drill clock's time until which the lost region's data was copied)."""
    ops = list(ops)
    acknowledged_at = {op.key: op.end for op in ops if op.kind == "write" and op.ok}
    lost = lost_writes(ops, present)
    if bound is None:
        return [f"acknowledged write {key} is lost" for key in lost]
    return [
        f"acknowledged write {key} is lost although it was acknowledged at {acknowledged_at[key]:.3f} s, "
        f"before the reported bound {bound:.3f} s"
        for key in lost
        if acknowledged_at[key] <= bound
    ]


def phantom_writes(ops: Iterable[Op], present: set[int]) -> list[str]:
    """Rows no client wrote (or that were refused for sure) must not appear."""
    ops = list(ops)
    maybe = {op.key for op in ops if op.kind == "write" and (op.ok or op.unknown)}
    refused = {op.key for op in ops if op.kind == "write" and not op.ok and not op.unknown} - maybe
    return [f"write {key} was refused, yet its row is stored" for key in sorted(present & refused)]


def split_brain(ops: Iterable[Op]) -> list[str]:
    """No two regions may acknowledge writes of one tenant under one routing epoch, and
    once a write was acknowledged under an epoch, no write that started after it may be
    acknowledged under an older one (an old home still writing after the move)."""
    ops = sorted(
        (op for op in ops if op.kind == "write" and op.ok and op.epoch is not None and op.region),
        key=lambda op: op.end,
    )
    regions: dict[int, set[str]] = defaultdict(set)
    for op in ops:
        regions[op.epoch].add(op.region)
    problems = [
        f"epoch {epoch}: writes acknowledged by {len(names)} regions ({', '.join(sorted(names))})"
        for epoch, names in sorted(regions.items())
        if len(names) > 1
    ]
    for newer in ops:
        stale = [
            op for op in ops if op.epoch < newer.epoch and op.start > newer.end and op.region != newer.region
        ]
        if stale:
            first = min(stale, key=lambda op: op.start)
            problems.append(
                f"{first.region} acknowledged write {first.key} under epoch {first.epoch} at "
                f"{first.end:.3f} s, after {newer.region} acknowledged write {newer.key} under the newer "
                f"epoch {newer.epoch} at {newer.end:.3f} s ({len(stale)} such writes)"
            )
            break
    return problems


def longest_outage(ops: Iterable[Op], kind: str, pauses: Iterable[tuple[float, float]] = ()) -> float:
    """The longest time (seconds) the clients went without a success of ``kind``: between
    two successes with only failures in between, or one success that took that long (a
    request that hangs is as unavailable as one that fails). Time the clients' own process
    stood still (``pauses``: a collector, a starved machine) is not the service's and is
    taken out."""
    pauses = list(pauses)

    def span(start: float, end: float) -> float:
        stood_still = sum(max(0.0, min(end, b) - max(start, a)) for a, b in pauses)
        return end - start - stood_still

    longest, last_ok, failed_since = 0.0, None, False
    for op in sorted((op for op in ops if op.kind == kind), key=lambda op: op.start):
        if op.ok:
            if failed_since and last_ok is not None:
                longest = max(longest, span(last_ok, op.end))
            longest = max(longest, span(op.start, op.end))
            last_ok, failed_since = op.end, False
        else:
            failed_since = True
    return longest


def availability_violations(
    ops: Iterable[Op], kind: str, allowed_s: float, pauses: Iterable[tuple[float, float]] = ()
) -> list[str]:
    outage = longest_outage(ops, kind, pauses)
    if outage > allowed_s:
        return [
            f"{kind} operations went {outage:.2f} s at a stretch without a success, more than the "
            f"{allowed_s:.2f} s allowed"
        ]
    return []


def divergence(
    offline: Mapping[str, Mapping[int, float]], online: Mapping[str, Mapping[int, float | None]]
) -> list[str]:
    """Stores converge: every region's offline table is the same, and its online store
    serves the newest offline row of each key."""
    problems = []
    regions = sorted(offline)
    first = regions[0]
    for region in regions[1:]:
        if offline[region] != offline[first]:
            ours, theirs = set(offline[region].items()), set(offline[first].items())
            problems.append(
                f"offline tables of {first} and {region} differ in {len(ours ^ theirs)} rows: "
                f"only in {first} {sorted(theirs - ours)[:5]}, only in {region} {sorted(ours - theirs)[:5]}"
            )
    for region in regions:
        served = online.get(region, {})
        wrong = {k: (v, served.get(k)) for k, v in offline[region].items() if served.get(k) != v}
        if wrong:
            problems.append(
                f"{region}'s online store does not serve the newest offline row of {len(wrong)} keys "
                f"(key: (offline, online) e.g. {dict(list(wrong.items())[:3])})"
            )
    return problems

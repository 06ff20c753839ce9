"""Moving a project's home between regions: planned switchover and unplanned failover.

The control plane owns each project's routing: the region that takes its writes
(``projects.region``) and the epoch it takes them under (``projects.epoch``). A move
raises the epoch by one; the new home refuses writes carrying an older one and the old
home takes none (:mod:`data_plane.routing`), so no two regions accept a write of a
project under one epoch.

- **Switchover** (both regions up): the old home stops taking writes, answering once
  none is under way; the new home waits until it has applied everything the old one
  wrote (catalog by its heartbeat, feature data by its topics' end offsets); the old
  home waits until it has what the new one published (so no row the new home applied is
  still undecoded when its publication changes); the new home takes the writes under
  the next epoch. Nothing acknowledged is lost. If any step fails, the old home takes
  the writes again under its epoch and nothing has moved.
- **Failover** (the old home is gone): the new home stops receiving the old one's
  catalog (so nothing a cut-off old home still commits arrives, and no project is
  published from two regions) and takes the writes under the next epoch at once. What
  the old home acknowledged but had not replicated is lost; the new region's catalog
  lag at that moment (reported as ``lag_ms``) bounds the catalog's part, MirrorMaker's
  lag the feature data's.

The database transaction of the caller holds the project's row for the whole move, so
two moves of one project never interleave; the tenant's other rows are not held.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from control_plane.regions import Handoff, Regions
from granary_core.errors import GranaryError

#: Longest wait of one region for another's handoff, in seconds.
CATCH_UP_SECONDS = 60.0


@dataclass(frozen=True)
class Move:
    """What one move did, with how long each phase took (milliseconds)."""

    project: str
    kind: str
    source: str
    target: str
    epoch: int
    #: From asking the old home to stop until it answered that no write is under way.
    drain_ms: float
    #: Until both regions had applied each other's handoff (0 for a failover).
    catch_up_ms: float
    #: From the first step until the new home took the writes: how long writes were refused.
    writes_refused_ms: float
    #: Failover: how far behind the old home the new one's catalog was when it took over
    #: (what the old home committed in that window may be lost); None when unknown.
    lag_ms: float | None = None
    #: Failover: per group topic, the time (epoch ms) of the newest record copied from
    #: the old home; feature rows it acknowledged later may be lost (None: none copied).
    copied_until_ms: dict[str, int | None] | None = None


def switchover(
    regions: Regions,
    project: str,
    source: str,
    target: str,
    epoch: int,
    timeout_s: float = CATCH_UP_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Move:
    """Move ``project`` (its name in the regions) from ``source`` to ``target``, losing
    nothing; ``epoch`` is the one ``source`` writes it under, ``target`` gets the next."""
    old, new = regions.get(source), regions.get(target)
    started = clock()
    handoff = old.unhome(project)
    drained = clock()
    try:
        beat = new.catch_up(handoff, timeout_s)
        old.catch_up(Handoff(target, beat), timeout_s, if_linked=True)
        caught_up = clock()
        new.home(project, epoch + 1)
    except GranaryError:
        old.home(project, epoch)  # nothing moved: the old home writes on
        raise
    done = clock()
    return Move(
        project=project,
        kind="switchover",
        source=source,
        target=target,
        epoch=epoch + 1,
        drain_ms=(drained - started) * 1000,
        catch_up_ms=(caught_up - drained) * 1000,
        writes_refused_ms=(done - started) * 1000,
    )


def failover(
    regions: Regions,
    project: str,
    source: str,
    target: str,
    epoch: int,
    clock: Callable[[], float] = time.monotonic,
) -> Move:
    """``target`` takes ``project``'s writes under the next epoch without asking ``source``
    (which is unreachable, or must be treated as lost)."""
    new = regions.get(target)
    started = clock()
    lag_ms = new.catalog_lag_ms().get(source)
    copied = new.home(project, epoch + 1, lost=source)
    done = clock()
    return Move(
        project=project,
        kind="failover",
        source=source,
        target=target,
        epoch=epoch + 1,
        drain_ms=0.0,
        catch_up_ms=0.0,
        writes_refused_ms=(done - started) * 1000,
        lag_ms=lag_ms,
        copied_until_ms=copied,
    )

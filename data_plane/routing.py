"""Which region writes a project, and under which routing epoch.

A project is written in exactly one region, its home; the others are standbys that
receive its catalog rows and feature data by replication and serve reads. The home holds
a row in its region-local ``homed_projects`` table with the **epoch** it was homed under:
the control plane raises the epoch with every switchover or failover, and tells the new
home (``PUT /admin/v1/projects/{p}/home``).

Every write (a REST write route, up to Kafka's ack) checks, under the project's fence
(:mod:`data_plane.lifecycle`), that

- this region homes the project, or it is refused with :class:`~granary_core.errors.Moved`;
- the epoch the caller's routing holds (header ``X-Granary-Epoch``; a caller without one
  accepts any) is the home's, or it is refused with :class:`~granary_core.errors.Fenced`.

Unhoming takes the fence exclusively, so when it returns no write is under way and none
will be accepted: the drain of a switchover. The epoch the write was accepted under goes
with its Kafka record and into the commit that applies it, in whichever region applies
it, so "no two regions accepted writes of a project under one epoch" can be checked
from the commits afterwards.

What an epoch cannot do: a home cut off from the control plane does not learn of a
failover, and takes writes from clients whose routing is as stale as its own until it
is told (failback unhomes it first and reports those writes as lost).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import Connection, text

from granary_core.errors import Fenced, Moved

EPOCH_HEADER = "x-granary-epoch"

#: The epoch of the request being served (None: the caller sent none).
_request_epoch: ContextVar[int | None] = ContextVar("granary_request_epoch", default=None)


@contextmanager
def request_epoch(epoch: int | None) -> Iterator[None]:
    """Serve the ``with`` block as a request whose routing holds ``epoch``."""
    token = _request_epoch.set(epoch)
    try:
        yield
    finally:
        _request_epoch.reset(token)


def homed_epoch(connection: Connection, project_id: str) -> int | None:
    """The epoch this region homes the project under; None when it does not home it."""
    return connection.scalar(
        text("SELECT epoch FROM homed_projects WHERE project_id = :p"), {"p": project_id}
    )


def refuse_unless_home(connection: Connection, project: str, project_id: str, region_id: str) -> int:
    """The epoch a write of the project is accepted under here; :class:`Moved` or
    :class:`Fenced` (nothing written) when this region may not take it.

    Embedded stores (SQLite) have one region and no routing: always epoch 0.
    """
    if connection.dialect.name != "postgresql":
        return 0
    epoch = homed_epoch(connection, project_id)
    if epoch is None:
        raise Moved(
            f"project '{project}' is not written in region '{region_id}' (a standby here); "
            "nothing was written: its home region takes writes, ask the control plane for it"
        )
    asked = _request_epoch.get()
    if asked is not None and asked != epoch:
        raise Fenced(
            f"project '{project}': the write carries routing epoch {asked}, region '{region_id}' "
            f"writes it under epoch {epoch}; nothing was written: refresh the routing"
        )
    return epoch

"""A project's life in its region, and the fence that keeps writers out of a deleted one.

A project is ``active`` (created on provisioning, or on first use by an operator key),
then ``deleting`` once its deletion starts, then ``deleted`` once nothing of it is
left. Its ``projects`` row stays behind as a tombstone, so a request that was already
authorized, or a Kafka record that was already produced, can never bring the project
back to life by writing into it.

Every writer (the REST write routes, the materializer, the online loop) holds the
project's fence *shared* while it checks that the project is active and writes; the
deletion takes it *exclusively* to mark the project ``deleting``. So when the mark is
committed, every write that saw the project active has finished, and every later one
sees it deleting and writes nothing. On PostgreSQL the fence is a transaction-level
advisory lock, which costs no row write; the embedded SQLite store has one process and
no deletion, so there it is only the status check.

A writer must hold the fence on one connection only: taking it again on a second
connection while a deletion waits would queue behind the deletion, which waits for the
first connection, and neither would ever move.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from data_plane.metadata.models import ProjectRecord
from granary_core.errors import BackendUnavailable, NotFound

ACTIVE, DELETING, DELETED = "active", "deleting", "deleted"


def _lock_id(project: str) -> int:
    """A signed 64-bit advisory lock id for a project (topic locks hash topic names)."""
    digest = hashlib.sha1(f"project:{project}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _lock(connection: Connection, project: str, exclusive: bool) -> None:
    if connection.dialect.name != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    connection.execute(text(f"SELECT {function}(:k)"), {"k": _lock_id(project)})


def drain(connection: Connection, project: str) -> None:
    """Hold the project's fence exclusively until ``connection``'s transaction ends:
    every write that started has finished, and none starts meanwhile."""
    _lock(connection, project, exclusive=True)


def status_of(connection: Connection, project: str) -> str | None:
    """The project's state in this region; None when it has no row (never used here)."""
    return connection.scalar(select(ProjectRecord.status).where(ProjectRecord.name == project))


def hold_fence(connection: Connection, project: str) -> bool:
    """Hold the project's fence (shared) until ``connection``'s transaction ends; whether
    the project is active, so writes may go on."""
    _lock(connection, project, exclusive=False)
    return status_of(connection, project) == ACTIVE


def refuse_unless_active(connection: Connection, project: str) -> None:
    """:func:`hold_fence`, raising 404 for a project that is being or was deleted."""
    if not hold_fence(connection, project):
        raise NotFound(f"project '{project}' is deleted in this region; nothing was written")


@contextmanager
def fenced(metadata: Engine, project: str) -> Iterator[str | None]:
    """A transaction holding the project's fence for the ``with`` block; yields the
    project's state read under it (None: no row). For writers that must skip, not fail
    (the materializer), and must tell a deleted project from one whose row a catalog
    re-seed took away for a moment: the state they act on is the one the fence read."""
    with metadata.begin() as connection:
        _lock(connection, project, exclusive=False)
        yield status_of(connection, project)


def mark_deleting(metadata: Engine, project: str, tombstone: bool = True) -> None:
    """Fence writers out: once this returns, no write of the project is under way and
    none will start. Idempotent; a project the region never saw gets a tombstone too,
    unless ``tombstone`` is False: in a standby, the project's row is the home's, and one
    made here would conflict with it when replication brings it."""
    for _attempt in range(2):
        try:
            with metadata.begin() as connection:
                _lock(connection, project, exclusive=True)
                status = status_of(connection, project)
                if status is None and tombstone:
                    connection.execute(insert(ProjectRecord).values(name=project, status=DELETING))
                elif status == ACTIVE:
                    connection.execute(
                        update(ProjectRecord).where(ProjectRecord.name == project).values(status=DELETING)
                    )
            return
        except IntegrityError:  # created on first use at the same moment: mark that row
            continue
    raise BackendUnavailable(f"project '{project}': could not be marked deleting; try again")

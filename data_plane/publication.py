"""The region's catalog publication: the rows of the projects it homes, and its heartbeat.

Each region's PostgreSQL publishes, under one publication, the catalog rows of exactly
the projects it is home to (``homed_projects``), filtered by project id, plus its own
heartbeat row; the other regions subscribe to it. A row copied into a region belongs to
a project that region does not home, so the region's own publication never sends it on:
with PostgreSQL 15, which cannot tell replicated changes from local ones
(``origin = none`` is 16), that is what keeps two regions replicating both ways free of
loops. It holds as long as no project is homed in two regions at once, which the
moves in :mod:`replication.catalog` keep (and ``replication check`` verifies).

A project changes home by changing two publications, never its rows: the rows keep
their ids and project ids, so no copy conflicts with another.

Every PostgreSQL region keeps its publication current, with or without subscribers: a
publication without a subscription holds no WAL. SQLite (embedded) has none.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable

from sqlalchemy import Connection, text

from data_plane.metadata.models import catalog_tables, project_column

PUBLICATION = "granary_catalog"
HEARTBEATS = "replication_heartbeats"
_LOCK = int.from_bytes(hashlib.sha1(b"granary:publication").digest()[:8], "big", signed=True)


def _member_of(column: str, project_ids: list[str]) -> str:
    """A row filter: ``column`` is one of the ids (checked to be UUIDs: they go into SQL)."""
    if not project_ids:
        return "false"
    # OR, not IN: PostgreSQL 15 refuses some IN lists as "invalid publication WHERE expression"
    return " OR ".join(f"{column} = {str(uuid.UUID(p))!r}" for p in project_ids)


def _region_literal(region_id: str) -> str:
    if not region_id.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"region id {region_id!r}: letters, digits, '-' and '_' only")
    return repr(region_id)


def _ident(region_id: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", region_id.lower())


def subscription_name(source: str) -> str:
    """This region's subscription to ``source``'s publication (made by ``replication/``)."""
    return f"granary_catalog_from_{_ident(source)}"


def slot_name(source: str, target: str) -> str:
    """The slot in ``source`` that ``target``'s subscription reads."""
    return f"granary_catalog_{_ident(source)}_to_{_ident(target)}"


def stop_receiving(connection: Connection, source: str) -> bool:
    """Disable this region's subscription to ``source`` (a failover's fence: nothing the
    lost region still commits arrives here); whether there was one. ``replication/``'s
    failback re-seeds the link."""
    name = subscription_name(source)
    found = connection.scalar(
        text(
            "SELECT 1 FROM pg_subscription WHERE subname = :s "
            "AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        {"s": name},
    )
    if found:
        connection.execute(text(f"ALTER SUBSCRIPTION {name} DISABLE"))
    return bool(found)


def homed(connection: Connection) -> list[str]:
    """The ids of the projects this region is home to."""
    return list(connection.scalars(text("SELECT project_id FROM homed_projects ORDER BY project_id")))


def publish(connection: Connection, region_id: str, create: bool = False) -> None:
    """Make the publication carry exactly the homed projects' rows and this region's
    heartbeat, in ``connection``'s transaction (serialized with every other change of it).

    A region that was never linked has no publication, and homing a project there
    changes nothing but ``homed_projects`` (no DDL on every project's first use): the
    publication is made, from the homed projects then, when another region first
    subscribes (``create``, by ``replication.catalog.subscribe``).
    """
    if connection.dialect.name != "postgresql":
        return
    connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    exists = connection.scalar(text("SELECT 1 FROM pg_publication WHERE pubname = :p"), {"p": PUBLICATION})
    if not exists and not create:
        return
    projects = homed(connection)
    tables = [f"{t} WHERE ({_member_of(project_column(t), projects)})" for t in catalog_tables()]
    tables.append(f"{HEARTBEATS} WHERE (region_id = {_region_literal(region_id)})")
    if exists:
        connection.execute(text(f"ALTER PUBLICATION {PUBLICATION} SET TABLE {', '.join(tables)}"))
    else:
        connection.execute(
            text(
                f"CREATE PUBLICATION {PUBLICATION} FOR TABLE {', '.join(tables)} "
                "WITH (publish = 'insert, update, delete')"
            )
        )


def home(connection: Connection, region_id: str, project_ids: Iterable[str], epoch: int = 0) -> None:
    """Make this region home to the projects (their rows are published from here on and
    it takes their writes) under routing ``epoch``; a project homed here already keeps
    the greater of its epoch and ``epoch``. Embedded (SQLite) stores have no routing."""
    if connection.dialect.name != "postgresql":
        return
    for project_id in project_ids:
        connection.execute(
            text(
                "INSERT INTO homed_projects (project_id, since, epoch) VALUES (:p, clock_timestamp(), :e) "
                "ON CONFLICT (project_id) DO UPDATE SET epoch = GREATEST(homed_projects.epoch, :e)"
            ),
            {"p": project_id, "e": epoch},
        )
    publish(connection, region_id)


def unhome(connection: Connection, region_id: str, project_ids: Iterable[str]) -> None:
    """This region stops publishing the projects (another region homes them now)."""
    for project_id in project_ids:
        connection.execute(text("DELETE FROM homed_projects WHERE project_id = :p"), {"p": project_id})
    publish(connection, region_id)

"""Alembic upgrades that any number of processes may start at the same moment.

Every service migrates its database when it starts, so nobody runs a migration by hand.
On a fresh region several services (REST API, Flight, materializer; or several control
plane workers) start together, and two Alembic runs that both find no version table
both create it: the loser dies with ``UniqueViolation``. So on PostgreSQL the upgrade
runs inside one transaction that first takes a transaction-level advisory lock named
after the history's version table: the others wait, then find the schema at head and
do nothing. The lock is released with the transaction, also when the process dies.

SQLite (the embedded backend, one process) needs no lock.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text


def advisory_lock_id(name: str) -> int:
    """A signed 64-bit PostgreSQL advisory lock id for ``name`` (stable across processes)."""
    return int.from_bytes(hashlib.sha1(f"granary:migrate:{name}".encode()).digest()[:8], "big", signed=True)


def upgrade(
    engine: Engine, script_location: Path, version_table: str = "alembic_version", revision: str = "head"
) -> None:
    """Bring one Alembic history to ``revision``, serialized with every other process doing so.

    Args:
        engine: the database; the migration environment runs on the connection handed in
            ``config.attributes["connection"]``.
        script_location: the history's ``migrations`` folder.
        version_table: the history's version table; also names the lock.
        revision: target revision.
    """
    config = Config()
    config.set_main_option("script_location", str(script_location))
    with engine.begin() as connection:
        _lock(connection, version_table)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _lock(connection: Connection, name: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": advisory_lock_id(name)})

"""Open a metadata database and bring its schema up to date with Alembic.

SQLite and PostgreSQL differ only here (connect arguments); the models and the
migrations are shared.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event

from tenancy import migrate

MIGRATIONS = Path(__file__).parent / "migrations"


def _enable_sqlite_foreign_keys(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def open_metadata(url: str) -> Engine:
    """Connect and migrate: a user never runs a migration command by hand."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    upgrade(engine)
    return engine


def upgrade(engine: Engine) -> None:
    """Migrate to head; safe while the region's other services start and migrate too."""
    migrate.upgrade(engine, MIGRATIONS)

"""Open the control plane database and bring it up to date with its own Alembic history."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "cp_alembic_version"


def open_database(url: str, *, migrate: bool = True) -> Engine:
    """Connect (pooled, pre-ping) and migrate to head unless told not to."""
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    if migrate:
        upgrade(engine)
    return engine


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

"""Bring the tenancy tables up to date, in their own Alembic history."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from tenancy import migrate

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "tenancy_alembic_version"


def upgrade(engine: Engine) -> None:
    migrate.upgrade(engine, MIGRATIONS, VERSION_TABLE)

"""Alembic environment for the control plane: its own version table, the caller's connection."""

from alembic import context

from control_plane.db import VERSION_TABLE
from control_plane.models import ControlPlaneBase

connection = context.config.attributes["connection"]
context.configure(
    connection=connection, target_metadata=ControlPlaneBase.metadata, version_table=VERSION_TABLE
)
with context.begin_transaction():
    context.run_migrations()

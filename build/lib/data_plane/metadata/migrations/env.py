"""Alembic environment: always run against the connection the caller hands in."""

from alembic import context

from data_plane.metadata.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

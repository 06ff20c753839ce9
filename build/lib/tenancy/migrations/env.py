"""Alembic environment for tenancy: its own version table, the caller's connection."""

from alembic import context

from tenancy.db import VERSION_TABLE
from tenancy.models import TenancyBase

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=TenancyBase.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()

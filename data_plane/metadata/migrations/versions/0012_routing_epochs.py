"""routing: a homed project keeps the epoch it is homed under; a region linked to no other
is home to every project it has

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("homed_projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("epoch", sa.BigInteger(), server_default="0", nullable=False))
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # embedded stores have one region and no routing
    subscribed = bind.scalar(
        sa.text(
            "SELECT count(*) FROM pg_subscription "
            "WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    )
    if not subscribed:
        # Before routing, a region wrote every project it had: it keeps doing so. (A
        # region with subscriptions got its homes from provisioning and the moves.)
        bind.execute(
            sa.text(
                "INSERT INTO homed_projects (project_id, since, epoch) "
                "SELECT id, clock_timestamp(), 0 FROM projects "
                "WHERE id NOT IN (SELECT project_id FROM homed_projects)"
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("homed_projects", schema=None) as batch_op:
        batch_op.drop_column("epoch")

"""replication: a heartbeat row per region and the projects a region homes

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 17:40:00
"""

import sqlalchemy as sa
from alembic import op

from granary_core.ids import ID_LENGTH

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replication_heartbeats",
        sa.Column("region_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("region_id"),
    )
    op.create_table(
        "homed_projects",
        sa.Column("project_id", sa.String(length=ID_LENGTH), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("project_id"),
    )


def downgrade() -> None:
    op.drop_table("homed_projects")
    op.drop_table("replication_heartbeats")

"""region outbox: projects are provisioned and deleted in their region after commit

``region_outbox`` holds the region work each project create or delete promised, written
in the same transaction. Projects gain ``last_error``; existing projects, provisioned
synchronously before this revision, are ``ready``.

Revision ID: c0004
Revises: c0003
Create Date: 2026-12-03 15:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "c0004"
down_revision = "c0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "region_outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_region_outbox_due", "region_outbox", ["done_at", "next_attempt_at"])
    op.create_index(op.f("ix_region_outbox_project_id"), "region_outbox", ["project_id"])
    op.add_column("projects", sa.Column("last_error", sa.Text(), nullable=True))
    op.execute("UPDATE projects SET status = 'ready' WHERE status = 'active'")


def downgrade() -> None:
    op.execute("UPDATE projects SET status = 'active' WHERE status IN ('ready', 'provisioning')")
    op.drop_column("projects", "last_error")
    op.drop_table("region_outbox")

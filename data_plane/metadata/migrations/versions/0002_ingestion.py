"""remote ingestion: commit source offsets, checkpoints and failures

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 08:40:00
"""

import sqlalchemy as sa
from alembic import op

import granary_core.sqltypes

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("commits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_offset", sa.BigInteger(), nullable=True))
    op.create_table(
        "ingest_checkpoints",
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("online_next_offset", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("topic", "partition"),
    )
    op.create_table(
        "ingest_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("failed_at", granary_core.sqltypes.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ingest_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_failures_topic"), ["topic"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ingest_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_failures_topic"))
    op.drop_table("ingest_failures")
    op.drop_table("ingest_checkpoints")
    with op.batch_alter_table("commits", schema=None) as batch_op:
        batch_op.drop_column("source_offset")

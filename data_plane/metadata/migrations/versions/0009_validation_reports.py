"""validation reports: each insert's result against its group's expectation suite

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 18:00:00
"""

import sqlalchemy as sa
from alembic import op

from granary_core.sqltypes import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "validation_reports",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("feature_group_id", sa.String(36), nullable=False, index=True),
        sa.Column("validated_at", UTCDateTime(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("ingestion_result", sa.String(16), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("validation_reports")

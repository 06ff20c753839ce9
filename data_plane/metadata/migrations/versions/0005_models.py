"""the model registry: one row per model version, lineage by feature view name and version

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 17:30:00
"""

import sqlalchemy as sa
from alembic import op

from granary_core.sqltypes import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("framework", sa.String(32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("input_example", sa.JSON(), nullable=True),
        sa.Column("model_schema", sa.JSON(), nullable=True),
        sa.Column("feature_view", sa.String(256), nullable=True),
        sa.Column("feature_view_version", sa.Integer(), nullable=True),
        sa.Column("training_dataset_version", sa.Integer(), nullable=True),
        sa.Column("artifacts", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("project_id", "name", "version"),
    )
    op.create_index("ix_models_lineage", "models", ["project_id", "feature_view", "feature_view_version"])


def downgrade() -> None:
    op.drop_index("ix_models_lineage", table_name="models")
    op.drop_table("models")

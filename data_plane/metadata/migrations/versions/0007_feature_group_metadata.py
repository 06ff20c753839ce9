"""feature groups keep feature descriptions, tags, a statistics config and an expectation suite

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 17:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_JSON_OBJECTS = ("feature_descriptions", "tags", "statistics_config")


def upgrade() -> None:
    with op.batch_alter_table("feature_groups", schema=None) as batch_op:
        for name in _JSON_OBJECTS:
            batch_op.add_column(sa.Column(name, sa.JSON(), server_default="{}", nullable=False))
        batch_op.add_column(sa.Column("expectation_suite", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feature_groups", schema=None) as batch_op:
        for name in (*_JSON_OBJECTS, "expectation_suite"):
            batch_op.drop_column(name)

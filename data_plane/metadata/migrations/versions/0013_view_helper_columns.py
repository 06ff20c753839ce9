"""feature views keep their inference and training helper columns

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 11:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_COLUMNS = ("inference_helper_columns", "training_helper_columns")


def upgrade() -> None:
    with op.batch_alter_table("feature_views", schema=None) as batch_op:
        for name in _COLUMNS:
            # views made before have none: every feature of theirs is a model input
            batch_op.add_column(sa.Column(name, sa.JSON(), server_default="[]", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("feature_views", schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.drop_column(name)

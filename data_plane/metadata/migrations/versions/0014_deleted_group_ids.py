"""a project remembers its deleted groups (their topics' copies in other regions are found by them)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 17:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_group_ids", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("deleted_group_ids")

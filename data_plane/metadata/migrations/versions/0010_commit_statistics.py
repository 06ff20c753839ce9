"""commits keep the statistics of the rows they wrote, when the group's config enables them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 18:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("commits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("statistics", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("commits", schema=None) as batch_op:
        batch_op.drop_column("statistics")

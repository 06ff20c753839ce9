"""project standbys: the regions that hold copies of a project, besides its home

Revision ID: c0006
Revises: c0005
Create Date: 2026-12-04 17:30:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "c0006"
down_revision = "c0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("standbys", postgresql.JSONB(), server_default="[]", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("standbys")

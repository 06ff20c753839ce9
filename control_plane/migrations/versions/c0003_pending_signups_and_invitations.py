"""pending sign-ups and invitations: a user row exists only once its address is proven

Sign-ups waiting for verification move out of ``users`` into ``pending_signups`` (with
their unused, unexpired tokens); the unverified users, and the sandbox tenants left
without any user, are deleted: they could never log in, and held their address
against its owner. ``email_verifications`` is replaced by ``pending_signups``.

Revision ID: c0003
Revises: c0002
Create Date: 2026-12-03 14:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "c0003"
down_revision = "c0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_signups",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index(op.f("ix_pending_signups_email"), "pending_signups", ["email"], unique=False)
    op.create_table(
        "invitations",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("is_tenant_admin", sa.Boolean(), nullable=False),
        sa.Column("invited_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index(op.f("ix_invitations_tenant_id"), "invitations", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_invitations_email"), "invitations", ["email"], unique=False)
    op.execute(
        """
        INSERT INTO pending_signups (token_hash, email, password_hash, created_at, expires_at)
        SELECT v.token_hash, u.email, u.password_hash, u.created_at, v.expires_at
        FROM email_verifications v JOIN users u ON u.id = v.user_id
        WHERE u.verified_at IS NULL AND u.password_hash IS NOT NULL
          AND v.used_at IS NULL AND v.expires_at > now()
        """
    )
    op.execute("DELETE FROM users WHERE verified_at IS NULL")
    op.execute(
        "DELETE FROM tenants t WHERE t.kind = 'sandbox' "
        "AND NOT EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = t.id)"
    )
    op.drop_index(op.f("ix_email_verifications_user_id"), table_name="email_verifications")
    op.drop_table("email_verifications")


def downgrade() -> None:
    op.create_table(
        "email_verifications",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index(op.f("ix_email_verifications_user_id"), "email_verifications", ["user_id"], unique=False)
    op.drop_index(op.f("ix_invitations_email"), table_name="invitations")
    op.drop_index(op.f("ix_invitations_tenant_id"), table_name="invitations")
    op.drop_table("invitations")
    op.drop_index(op.f("ix_pending_signups_email"), table_name="pending_signups")
    op.drop_table("pending_signups")

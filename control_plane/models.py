"""The control plane's tables (PostgreSQL), with their own metadata and Alembic history.

Public ids are short random strings with a type prefix (``t_``, ``u_``, ``p_``): they
appear in region resource names (topics, key prefixes) and must never be reused or
guessable across tenants. Names (tenant, project) are for people and paths.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


class ControlPlaneBase(DeclarativeBase):
    type_annotation_map = {dt.datetime: DateTime(timezone=True)}


class Tenant(ControlPlaneBase):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    #: "sandbox" (self-service signup, free plan) or "enterprise" (created by an operator).
    kind: Mapped[str] = mapped_column(String(16))
    #: "active" or "suspended".
    status: Mapped[str] = mapped_column(String(16), default="active")
    plan: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    suspended_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class User(ControlPlaneBase):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    #: Lower-cased; one account per address across all tenants. A user exists only once
    #: someone proved they read this address's mail (or an operator vouched for it).
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    verified_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    is_tenant_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PendingSignup(ControlPlaneBase):
    """A sign-up waiting for its address to be verified: no tenant and no user exist yet.

    Only the newest sign-up of an address is kept (each new one replaces the earlier
    ones and their tokens), and verifying needs both its mailed token and its password:
    neither whoever signs up with someone else's address (no mailbox) nor the
    mailbox's owner with a token someone else asked for (no password) can complete it.
    """

    __tablename__ = "pending_signups"

    #: SHA-256 of the token mailed to the address; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Lower-cased.
    email: Mapped[str] = mapped_column(String(320), index=True)
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]


class Invitation(ControlPlaneBase):
    """A tenant admin's invitation of an address: the user exists once its owner accepts
    with the mailed token and chooses a password. A newer invitation of the same address
    to the same tenant replaces the earlier one."""

    __tablename__ = "invitations"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    is_tenant_admin: Mapped[bool] = mapped_column(default=False)
    #: The inviting user's id (no foreign key: the invitation outlives its sender).
    invited_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]


class PasswordReset(ControlPlaneBase):
    """A mailed password-reset token: single use, short-lived, kept apart from sign-up
    tokens so neither can stand in for the other."""

    __tablename__ = "password_resets"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class Project(ControlPlaneBase):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(64))
    #: "provisioning" until its region made it, then "ready"; "deleting" until its region
    #: removed it (then the row goes); "failed" when its region kept refusing. The region
    #: work is done by the outbox (:class:`OutboxEntry`), never inside a request.
    status: Mapped[str] = mapped_column(String(16), default="provisioning")
    #: The region's last refusal while provisioning or deleting; None once it succeeded.
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The project's name in the region's metadata database.
    metadata_scope: Mapped[str] = mapped_column(String(128))
    kafka_topic_prefix: Mapped[str] = mapped_column(String(128))
    redis_key_prefix: Mapped[str] = mapped_column(String(128))
    #: Key prefixes in the region's bucket (offline data, training datasets).
    s3_prefixes: Mapped[list[str]] = mapped_column(JSONType)
    #: The routing epoch ``region`` takes the project's writes under; each move raises it
    #: (:mod:`control_plane.moves`).
    epoch: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: Regions besides ``region`` that hold copies of the project (replication): a move
    #: goes to one of them, and a deletion removes the copies there too. A move puts the
    #: old home among them, since it keeps its copy.
    standbys: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default="[]")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OutboxEntry(ControlPlaneBase):
    """Region work promised by a committed transaction: provision or delete a project.

    Written in the same transaction as the project row, so the promise and the row stand
    or fall together; :mod:`control_plane.outbox` delivers it to the region afterwards,
    with retries, so a slow or dark region never holds a request (or a tenant's row
    lock). Rows survive restarts; done ones are kept as the record of what happened.
    """

    __tablename__ = "region_outbox"
    __table_args__ = (Index("ix_region_outbox_due", "done_at", "next_attempt_at"),)

    #: Delivery order: a project's entries are delivered one at a time, oldest first.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    #: No foreign key: a delete entry outlives its project's row.
    project_id: Mapped[str] = mapped_column(String(32), index=True)
    region: Mapped[str] = mapped_column(String(64))
    #: "provision" or "delete".
    action: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Not before this time (UTC, from the dispatcher's clock): the retry backoff.
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    done_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    #: "done", or "failed" once ``attempts`` reached the dispatcher's limit.
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)


class Membership(ControlPlaneBase):
    __tablename__ = "memberships"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ApiKey(ControlPlaneBase):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    #: SHA-256 of the whole key (see tenancy.keys): keys are high-entropy, a fast hash is safe.
    key_hash: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: None: the key reaches every project its user is a member of.
    project_id: Mapped[str | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), nullable=True, index=True
    )
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class UsageGauge(ControlPlaneBase):
    """Sizes a region reports for a project (feature groups, offline bytes, online rows)."""

    __tablename__ = "usage_gauges"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    value: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuditEvent(ControlPlaneBase):
    """One mutating call. Append-only: a trigger refuses UPDATE and DELETE (see migration)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_tenant_at", "tenant_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: No foreign key: the trail outlives a deleted tenant.
    tenant_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: "user:<id>", "admin", "region" or "anonymous".
    actor: Mapped[str] = mapped_column(String(128))
    key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: e.g. "project.create"; "http.refused" for mutating calls answered with an error.
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(256), default="")
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    status: Mapped[int] = mapped_column()
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

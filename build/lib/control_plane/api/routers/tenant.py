"""The caller's own tenant: plan, users, usage and audit log (tenant admins)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from control_plane.api.deps import InfoDep, ScopeDep, ServicesDep, UowDep
from control_plane.handlers import tenant_public, usage_of, utcnow
from control_plane.models import AuditEvent, User, new_id
from control_plane.schemas import AuditPublic, TenantPublic, UsagePublic, UserCreate, UserPublic
from granary.errors import AlreadyExists

router = APIRouter(prefix="/v1", tags=["tenant"])


def _user_public(user: User) -> UserPublic:
    return UserPublic(
        id=user.id,
        email=user.email,
        verified=user.verified_at is not None,
        is_tenant_admin=user.is_tenant_admin,
        created_at=user.created_at,
    )


@router.get("/tenant", response_model=TenantPublic)
def my_tenant(scope: ScopeDep) -> TenantPublic:
    return tenant_public(scope.tenant())


@router.get("/users", response_model=list[UserPublic])
def list_users(scope: ScopeDep) -> list[UserPublic]:
    scope.require_tenant_admin("list users")
    return [_user_public(u) for u in scope.users()]


@router.post("/users", status_code=201, response_model=UserPublic)
def create_user(
    body: UserCreate, scope: ScopeDep, uow: UowDep, services: ServicesDep, info: InfoDep
) -> UserPublic:
    """Add a user to the tenant (enterprise directories); they are trusted, so verified at once."""
    scope.require_tenant_admin("create users")
    if uow.session.scalar(select(User.id).where(User.email == body.email)):
        raise AlreadyExists(f"a user with email '{body.email}' already exists")
    user = User(
        id=new_id("u"),
        tenant_id=scope.caller.tenant_id,
        email=body.email,
        verified_at=utcnow(),
        is_tenant_admin=body.is_tenant_admin,
        password_hash=services.passwords.hash(body.password) if body.password else None,
    )
    uow.session.add(user)
    uow.audit(info.by(scope.caller, "user.create", body.email, 201, is_tenant_admin=body.is_tenant_admin))
    uow.commit()
    return _user_public(user)


@router.get("/usage", response_model=UsagePublic)
def my_usage(scope: ScopeDep, services: ServicesDep) -> UsagePublic:
    scope.require_tenant_admin("read tenant usage")
    return usage_of(scope.session, services.limiter, scope.tenant())


@router.get("/audit", response_model=list[AuditPublic])
def audit_log(
    scope: ScopeDep,
    since: dt.datetime | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditPublic]:
    """The tenant's audit trail, newest first; page with ``before_id``."""
    scope.require_tenant_admin("read the audit log")
    stmt = select(AuditEvent).where(AuditEvent.tenant_id == scope.caller.tenant_id)
    if since is not None:
        stmt = stmt.where(AuditEvent.at >= since)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    events = scope.session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit))
    return [AuditPublic.model_validate(e, from_attributes=True) for e in events]

"""The caller's own tenant: plan, users, usage and audit log (tenant admins). Users join
by invitation: see ``invitations``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from control_plane.api.access import Reader, TenantAdmin
from control_plane.api.deps import ServicesDep
from control_plane.handlers import tenant_public, usage_of
from control_plane.models import AuditEvent, User
from control_plane.schemas import AuditPublic, TenantPublic, UsagePublic, UserPublic

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
def my_tenant(scope: Reader) -> TenantPublic:
    return tenant_public(scope.tenant())


@router.get("/users", response_model=list[UserPublic])
def list_users(scope: TenantAdmin) -> list[UserPublic]:
    return [_user_public(u) for u in scope.users()]


@router.get("/usage", response_model=UsagePublic)
def my_usage(scope: TenantAdmin, services: ServicesDep) -> UsagePublic:
    return usage_of(scope.session, services.limiter, scope.tenant())


@router.get("/audit", response_model=list[AuditPublic])
def audit_log(
    scope: TenantAdmin,
    since: dt.datetime | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditPublic]:
    """The tenant's audit trail, newest first; page with ``before_id``."""
    stmt = select(AuditEvent).where(AuditEvent.tenant_id == scope.caller.tenant_id)
    if since is not None:
        stmt = stmt.where(AuditEvent.at >= since)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    events = scope.session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit))
    return [AuditPublic.model_validate(e, from_attributes=True) for e in events]

"""Operator view of the audit trail: every tenant's, and calls no tenant could be named for
(failed logins, unauthenticated writes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from control_plane.api.access import AdminDep
from control_plane.api.deps import UowDep
from control_plane.models import AuditEvent, Tenant
from control_plane.schemas import AuditPublic
from granary_core.errors import NotFound

router = APIRouter(prefix="/v1/admin/audit", tags=["admin"])


@router.get("", response_model=list[AuditPublic])
def admin_audit(
    _: AdminDep,
    uow: UowDep,
    tenant: Annotated[str | None, Query(max_length=64, description="tenant name; '-' for none")] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditPublic]:
    stmt = select(AuditEvent)
    if tenant == "-":
        stmt = stmt.where(AuditEvent.tenant_id.is_(None))
    elif tenant is not None:
        tenant_id = uow.session.scalar(select(Tenant.id).where(Tenant.name == tenant))
        if tenant_id is None:
            raise NotFound(f"tenant '{tenant}' does not exist")
        stmt = stmt.where(AuditEvent.tenant_id == tenant_id)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    events = uow.session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit))
    return [AuditPublic.model_validate(e, from_attributes=True) for e in events]

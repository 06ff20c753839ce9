"""Calls from the regions' data planes (region token): authenticate keys, report usage,
check count quotas and take rate tokens.

A data plane may instead call :mod:`tenancy.quotas` directly against the shared Redis
for rates (no HTTP hop on the read path); these endpoints are the remote form.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy import select

from control_plane.api.access import RegionDep
from control_plane.api.deps import InfoDep, ServicesDep, UowDep
from control_plane.auth import authenticate_key, require_active
from control_plane.handlers import GAUGES, record_gauges, tenant_total
from control_plane.models import Membership, Project, Tenant, UsageGauge
from control_plane.schemas import QuotaCheck, RateConsume, UsageReport
from granary_core.errors import InvalidInput, NotFound, PermissionDenied
from tenancy.plans import RATE_QUOTAS, Plan, Quotas
from tenancy.quotas import check_count
from tenancy.roles import ALL_SCOPES, Role, allows

router = APIRouter(prefix="/v1/internal", tags=["internal"])


class AuthenticateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: Annotated[str, StringConstraints(max_length=256)]
    #: The project's name in the region (``metadata_scope``); omitted, the project the
    #: key is bound to.
    project: Annotated[str, StringConstraints(max_length=128)] | None = None
    #: Refuse (403) unless the key may do this; omitted, only membership is checked.
    permission: Annotated[str, StringConstraints(max_length=64)] | None = None


class AuthenticateOut(BaseModel):
    tenant_id: str
    project_id: str
    #: The project's name in the region, which the data plane's routes use.
    project: str
    user_id: str
    key_id: str
    role: Role
    #: What the key may do on the project: its holder's role narrowed by its scopes.
    permissions: list[str]
    quotas: Quotas


def _project(uow, project_id: str) -> tuple[Project, Tenant]:
    row = uow.session.execute(
        select(Project, Tenant).join(Tenant, Tenant.id == Project.tenant_id).where(Project.id == project_id)
    ).first()
    if row is None:
        raise NotFound(f"project {project_id} does not exist")
    return row[0], row[1]


@router.post("/authenticate", response_model=AuthenticateOut)
def authenticate(body: AuthenticateIn, _: RegionDep, uow: UowDep) -> AuthenticateOut:
    """What a key may do on a project, for a data plane; never cached here.

    Data planes cache the answer for a few seconds and drop it as soon as the control
    plane publishes an access change (see :mod:`control_plane.access_events`).
    """
    if body.permission is not None and body.permission not in ALL_SCOPES:
        raise InvalidInput(f"permission: unknown '{body.permission}'")
    caller = authenticate_key(uow.session, body.api_key)
    if body.project is None:
        if caller.project_id is None:
            raise InvalidInput(
                f"API key {caller.key_id} is not bound to one project: name the project to use"
            )
        where = Project.id == caller.project_id
    else:
        where = Project.metadata_scope == body.project
    project = uow.session.scalar(select(Project).where(where, Project.tenant_id == caller.tenant_id))
    named = body.project or caller.project_id
    if project is None or project.status != "ready":
        raise PermissionDenied(f"API key {caller.key_id} is not allowed to access project '{named}'")
    if caller.project_id is not None and caller.project_id != project.id:
        raise PermissionDenied(f"API key {caller.key_id} is not allowed to access project '{named}'")
    role = uow.session.scalar(
        select(Membership.role).where(
            Membership.project_id == project.id, Membership.user_id == caller.user_id
        )
    )
    effective = Role(role) if role else (Role.OWNER if caller.is_tenant_admin else None)
    if effective is None:
        raise PermissionDenied(f"API key {caller.key_id} is not allowed to access project '{named}'")
    permissions = [p for p in ALL_SCOPES if allows(effective, list(caller.scopes), p)]
    if body.permission is not None and body.permission not in permissions:
        raise PermissionDenied(
            f"API key {caller.key_id}: '{body.permission}' on project '{named}' is not allowed"
        )
    return AuthenticateOut(
        tenant_id=caller.tenant_id,
        project_id=project.id,
        project=project.metadata_scope,
        user_id=caller.user_id,
        key_id=caller.key_id,
        role=effective,
        permissions=permissions,
        quotas=caller.plan.quotas,
    )


@router.put("/usage", status_code=204)
def report_usage(body: UsageReport, _: RegionDep, uow: UowDep, info: InfoDep) -> Response:
    project, tenant = _project(uow, body.project_id)
    values = {m: getattr(body, m) for m in GAUGES if getattr(body, m) is not None}
    record_gauges(uow.session, project, values)
    uow.audit(
        info.event(
            actor="region",
            action="usage.report",
            tenant_id=tenant.id,
            target=project.name,
            status=204,
            detail=values,
        )
    )
    uow.commit()
    return Response(status_code=204)


_COUNT_GAUGE = {
    "feature_groups_per_project": ("feature_groups", "project"),
    "offline_bytes": ("offline_bytes", "tenant"),
    "online_rows": ("online_rows", "tenant"),
    "model_deployments": ("model_deployments", "tenant"),
}


@router.post("/quota-check", status_code=204)
def quota_check(body: QuotaCheck, _: RegionDep, uow: UowDep) -> Response:
    """204 when the project may grow by ``adding``; 403 ``quota_exceeded`` naming the quota if not."""
    if body.quota not in _COUNT_GAUGE:
        raise InvalidInput(f"quota: '{body.quota}' is not checked here; use one of {sorted(_COUNT_GAUGE)}")
    project, tenant = _project(uow, body.project_id)
    require_active(tenant)
    plan = Plan.model_validate(tenant.plan)
    metric, level = _COUNT_GAUGE[body.quota]
    if level == "project":
        gauge = uow.session.get(UsageGauge, (project.id, metric))
        current, subject = (gauge.value if gauge else 0), f"project '{project.name}'"
    else:
        current, subject = tenant_total(uow.session, tenant.id, metric), f"tenant '{tenant.name}'"
    check_count(
        body.quota, limit=plan.quotas.limit(body.quota), current=current, adding=body.adding, subject=subject
    )
    return Response(status_code=204)


@router.post("/rate", status_code=204)
def consume_rate(body: RateConsume, _: RegionDep, uow: UowDep, services: ServicesDep) -> Response:
    """Take tokens from the tenant's bucket for ``quota``; 429 ``rate_limit_exceeded`` if empty."""
    if body.quota not in RATE_QUOTAS:
        raise InvalidInput(f"quota: '{body.quota}' is not a rate quota; use one of {list(RATE_QUOTAS)}")
    project, tenant = _project(uow, body.project_id)
    require_active(tenant)
    plan = Plan.model_validate(tenant.plan)
    services.limiter.check_and_consume(
        tenant.id, body.quota, amount=body.amount, rate=plan.quotas.limit(body.quota), project=project.id
    )
    return Response(status_code=204)

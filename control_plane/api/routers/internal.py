"""Calls from the regions' data planes (region token): authenticate keys, report usage,
check count quotas, take rate tokens, and issue and revoke the keys of deployments.

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
from control_plane.handlers import GAUGES, issue_key, record_gauges, tenant_total, utcnow
from control_plane.models import ApiKey, Membership, Project, Tenant, UsageGauge
from control_plane.schemas import QuotaCheck, RateConsume, UsageReport
from granary_core.errors import InvalidInput, NotFound, PermissionDenied
from tenancy.plans import RATE_QUOTAS, Plan, Quotas
from tenancy.quotas import check_count
from tenancy.roles import ALL_SCOPES, READ, Role, allows

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


class DeploymentKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: Annotated[str, StringConstraints(max_length=32)]
    deployment: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    #: The user who started the deployment, whom its predictor reads for. Omitted (a
    #: region running its deployments again after a restart): the user of its last key.
    user_id: Annotated[str, StringConstraints(max_length=64)] | None = None


class DeploymentKeyOut(BaseModel):
    key_id: str
    api_key: str


def _deployment_keys(uow, project: Project, deployment: str) -> list[ApiKey]:
    """The deployment's keys, newest first."""
    name = f"deployment {deployment}"[:128]
    query = select(ApiKey).where(ApiKey.project_id == project.id, ApiKey.name == name)
    return list(uow.session.scalars(query.order_by(ApiKey.created_at.desc(), ApiKey.id.desc())))


def _revoke(uow, info, tenant: Tenant, keys: list[ApiKey]) -> None:
    for key in keys:
        if key.revoked_at is None:
            key.revoked_at = utcnow()
            uow.audit(
                info.event(
                    actor="region", action="key.revoke", tenant_id=tenant.id, target=key.key_id, status=204
                )
            )


@router.post("/deployment-keys", status_code=201, response_model=DeploymentKeyOut)
def issue_deployment_key(body: DeploymentKeyIn, _: RegionDep, uow: UowDep, info: InfoDep) -> DeploymentKeyOut:
    """A key for a deployment's predictor to read its project with: a key of the tenant,
    bound to the project, ``project:read`` only, held by the user who started it. Its
    reads are then the tenant's, metered and limited by its plan like any other, and
    stop when the tenant or the user loses access. The deployment's earlier keys are
    revoked: one deployment has one live key."""
    project, tenant = _project(uow, body.project_id)
    require_active(tenant)
    previous = _deployment_keys(uow, project, body.deployment)
    user_id = body.user_id or (previous[0].user_id if previous else None)
    if user_id is None:
        raise NotFound(
            f"deployment '{body.deployment}' of project '{project.name}' has no key to take its user "
            "from: start it again"
        )
    _revoke(uow, info, tenant, previous)
    created = issue_key(
        uow.session,
        tenant=tenant,
        user_id=user_id,
        project=project,
        scopes=[READ],
        name=f"deployment {body.deployment}"[:128],
    )
    uow.audit(
        info.event(
            actor="region",
            action="key.create",
            tenant_id=tenant.id,
            target=project.name,
            status=201,
            key_id=created.key_id,
            detail={"deployment": body.deployment, "user_id": user_id},
        )
    )
    uow.commit()
    return DeploymentKeyOut(key_id=created.key_id, api_key=created.api_key)


class DeploymentKeyRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: Annotated[str, StringConstraints(max_length=32)]
    deployment: Annotated[str, StringConstraints(min_length=1, max_length=256)]


@router.post("/deployment-keys/revoke", status_code=204)
def revoke_deployment_keys(body: DeploymentKeyRevoke, _: RegionDep, uow: UowDep, info: InfoDep) -> Response:
    """Revoke the deployment's keys (it stopped or was deleted); the data planes hear
    of it at once, as of any revocation."""
    project, tenant = _project(uow, body.project_id)
    _revoke(uow, info, tenant, _deployment_keys(uow, project, body.deployment))
    uow.commit()
    return Response(status_code=204)

"""Operator API for enterprise tenants (admin token only)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import select

from control_plane.api.access import AdminDep
from control_plane.api.deps import InfoDep, ServicesDep, UowDep
from control_plane.handlers import issue_key, tenant_public, usage_of, utcnow
from control_plane.models import Project, Tenant, User, new_id
from control_plane.outbox import clean_region
from control_plane.schemas import TenantCreate, TenantCreated, TenantPublic, TenantUpdate, UsagePublic
from control_plane.uow import UnitOfWork
from granary_core.errors import AlreadyExists, InvalidInput, NotFound
from tenancy.plans import Plan

router = APIRouter(prefix="/v1/admin/tenants", tags=["admin"])


def _tenant(uow: UnitOfWork, name: str, *, for_update: bool = False) -> Tenant:
    stmt = select(Tenant).where(Tenant.name == name)
    if for_update:
        stmt = stmt.with_for_update()
    tenant = uow.session.scalar(stmt)
    if tenant is None:
        raise NotFound(f"tenant '{name}' does not exist")
    return tenant


def _check_regions(plan: Plan, services) -> None:
    unknown = sorted(set(plan.allowed_regions) - set(services.regions.names()))
    if unknown:
        raise InvalidInput(f"plan: regions {unknown} are not known; known: {services.regions.names()}")


@router.post("", status_code=201, response_model=TenantCreated)
def create_tenant(body: TenantCreate, _: AdminDep, uow: UowDep, services: ServicesDep, info: InfoDep):
    """Create a tenant and its first tenant admin; the admin's API key is shown once."""
    plan = body.plan.to_plan()
    _check_regions(plan, services)
    if uow.session.scalar(select(Tenant.id).where(Tenant.name == body.name)):
        raise AlreadyExists(f"tenant '{body.name}' already exists")
    if uow.session.scalar(select(User.id).where(User.email == body.admin_email)):
        raise AlreadyExists(f"a user with email '{body.admin_email}' already exists")
    tenant = Tenant(
        id=new_id("t"), name=body.name, kind="enterprise", status="active", plan=plan.model_dump()
    )
    admin = User(
        id=new_id("u"),
        tenant_id=tenant.id,
        email=body.admin_email,
        is_tenant_admin=True,
        verified_at=utcnow(),
        password_hash=services.passwords.hash(body.admin_password) if body.admin_password else None,
    )
    uow.session.add(tenant)
    uow.session.flush()  # no ORM relationships: parents are flushed first
    uow.session.add(admin)
    uow.session.flush()
    key = issue_key(uow.session, tenant=tenant, user_id=admin.id, project=None, scopes=["*"], name="admin")
    uow.audit(
        info.event(
            actor="admin",
            action="tenant.create",
            tenant_id=tenant.id,
            target=tenant.name,
            status=201,
            detail={"plan": plan.model_dump(), "admin_email": body.admin_email},
        )
    )
    uow.commit()
    return TenantCreated(tenant=tenant_public(tenant), admin_key=key)


@router.get("", response_model=list[TenantPublic])
def list_tenants(_: AdminDep, uow: UowDep) -> list[TenantPublic]:
    return [tenant_public(t) for t in uow.session.scalars(select(Tenant).order_by(Tenant.name))]


@router.get("/{name}", response_model=TenantPublic)
def get_tenant(name: str, _: AdminDep, uow: UowDep) -> TenantPublic:
    return tenant_public(_tenant(uow, name))


@router.patch("/{name}", response_model=TenantPublic)
def update_tenant(
    name: str, body: TenantUpdate, _: AdminDep, uow: UowDep, services: ServicesDep, info: InfoDep
):
    """Change the plan: quotas (only the given ones), regions, home region, SLA tier.

    Existing projects stay in their region; moving them is failover's job.
    """
    tenant = _tenant(uow, name, for_update=True)
    plan = Plan.model_validate(tenant.plan).model_dump()
    if body.plan_name is not None:
        plan["name"] = body.plan_name
    if body.quotas is not None:
        plan["quotas"].update(body.quotas.model_dump(exclude_none=True))
    for field in ("allowed_regions", "home_region", "sla_tier"):
        value = getattr(body, field)
        if value is not None:
            plan[field] = value
    try:
        new_plan = Plan.model_validate(plan)
    except ValueError as exc:
        raise InvalidInput(f"tenant '{name}': {exc}") from exc
    _check_regions(new_plan, services)
    tenant.plan = new_plan.model_dump()
    uow.audit(
        info.event(
            actor="admin",
            action="tenant.update",
            tenant_id=tenant.id,
            target=name,
            detail=body.model_dump(exclude_none=True),
        )
    )
    uow.commit()
    return tenant_public(tenant)


def _set_status(name: str, status: str, uow: UnitOfWork, info) -> TenantPublic:
    tenant = _tenant(uow, name, for_update=True)
    tenant.status = status
    tenant.suspended_at = utcnow() if status == "suspended" else None
    action = "tenant.suspend" if status == "suspended" else "tenant.resume"
    uow.audit(info.event(actor="admin", action=action, tenant_id=tenant.id, target=name))
    uow.commit()
    return tenant_public(tenant)


@router.post("/{name}/suspend", response_model=TenantPublic)
def suspend_tenant(name: str, _: AdminDep, uow: UowDep, info: InfoDep) -> TenantPublic:
    """Refuse every key of the tenant from the next request on; nothing is deleted."""
    return _set_status(name, "suspended", uow, info)


@router.post("/{name}/resume", response_model=TenantPublic)
def resume_tenant(name: str, _: AdminDep, uow: UowDep, info: InfoDep) -> TenantPublic:
    return _set_status(name, "active", uow, info)


@router.delete("/{name}", status_code=204)
def delete_tenant(name: str, _: AdminDep, uow: UowDep, services: ServicesDep, info: InfoDep) -> Response:
    """Suspend, remove every project from its region, then delete the tenant's rows.

    If a region fails half-way the tenant stays suspended with its projects marked
    ``deleting`` and the answer is 503; calling DELETE again finishes the job.
    """
    tenant = _tenant(uow, name, for_update=True)
    tenant.status, tenant.suspended_at = "suspended", tenant.suspended_at or utcnow()
    projects = list(uow.session.scalars(select(Project).where(Project.tenant_id == tenant.id)))
    for project in projects:
        project.status = "deleting"
    tenant_id = tenant.id
    uow.audit(
        info.event(
            actor="admin",
            action="tenant.delete",
            tenant_id=tenant_id,
            target=name,
            status=204,
            detail={"projects": [p.name for p in projects]},
        )
    )
    uow.commit()
    for project in projects:
        clean_region(services.regions, project)
    with UnitOfWork(services.sessions) as second:
        doomed = second.session.get(Tenant, tenant_id)
        if doomed is not None:
            second.session.delete(doomed)
        second.commit()
    services.limiter.forget(tenant_id)
    return Response(status_code=204)


@router.get("/{name}/usage", response_model=UsagePublic)
def tenant_usage(name: str, _: AdminDep, uow: UowDep, services: ServicesDep) -> UsagePublic:
    return usage_of(uow.session, services.limiter, _tenant(uow, name))

"""Operator API for enterprise tenants (admin token only)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import select

from control_plane import moves
from control_plane.api.access import AdminDep
from control_plane.api.deps import InfoDep, ServicesDep, UowDep
from control_plane.handlers import issue_key, tenant_public, usage_of, utcnow
from control_plane.models import Project, Tenant, User, new_id
from control_plane.outbox import FENCE, clean_region
from control_plane.schemas import (
    MovePublic,
    MoveRequest,
    MovesPublic,
    TenantCreate,
    TenantCreated,
    TenantPublic,
    TenantUpdate,
    UsagePublic,
)
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

    Existing projects stay in their region; ``POST .../switchover`` and ``.../failover`` move them.
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


@router.post("/{name}/switchover", response_model=MovesPublic)
def switchover_tenant(
    name: str, body: MoveRequest, _: AdminDep, uow: UowDep, services: ServicesDep, info: InfoDep
) -> MovesPublic:
    """Planned move of every project of the tenant homed in ``from_region`` to
    ``to_region``, losing no acknowledged write: writes are refused (409 ``moved``) from
    the drain until the new home takes them under the next epoch. A project whose move
    fails stays where it was, writing again; the answer is then the error."""
    return _move(name, body, "switchover", uow, services, info)


@router.post("/{name}/failover", response_model=MovesPublic)
def failover_tenant(
    name: str, body: MoveRequest, _: AdminDep, uow: UowDep, services: ServicesDep, info: InfoDep
) -> MovesPublic:
    """Unplanned move: ``to_region`` takes the writes of every project of the tenant homed
    in ``from_region`` under the next epoch, without asking ``from_region`` (gone, or to be
    treated so). Writes it had acknowledged but not replicated are lost."""
    return _move(name, body, "failover", uow, services, info)


def _move(name: str, body: MoveRequest, kind: str, uow: UnitOfWork, services, info) -> MovesPublic:
    tenant = _tenant(uow, name)
    for region in (body.from_region, body.to_region):
        services.regions.get(region)  # 404 naming the known ones
    if body.from_region == body.to_region:
        raise InvalidInput(f"from_region and to_region are both '{body.to_region}'")
    allowed = Plan.model_validate(tenant.plan).allowed_regions
    if body.to_region not in allowed:
        raise InvalidInput(
            f"tenant '{name}': region '{body.to_region}' is not allowed by its plan ({allowed})"
        )
    tenant_id = tenant.id
    homed = uow.session.scalars(
        select(Project)
        .where(Project.tenant_id == tenant_id, Project.region == body.from_region, Project.status == "ready")
        .order_by(Project.name)
    ).all()
    for project in homed:  # none moves unless every one can: its data is where it goes
        if project.standbys and body.to_region not in project.standbys:
            raise InvalidInput(
                f"project '{project.name}' has no copy in '{body.to_region}': its standbys are "
                f"{project.standbys} (PATCH /v1/projects/{project.name} adds one the home replicates to)"
            )
    ids = [project.id for project in homed]
    moved: list[MovePublic] = []
    for project_id in ids:  # one transaction each: a move done stays recorded
        project = uow.session.scalar(select(Project).where(Project.id == project_id).with_for_update())
        if project is None or project.region != body.from_region:
            uow.commit()
            continue  # deleted or moved meanwhile
        if kind == "switchover":
            move = moves.switchover(
                services.regions,
                project.metadata_scope,
                body.from_region,
                body.to_region,
                project.epoch,
                timeout_s=body.timeout_s,
            )
        else:
            move = moves.failover(
                services.regions, project.metadata_scope, body.from_region, body.to_region, project.epoch
            )
        project.region, project.epoch = body.to_region, move.epoch
        # the old home keeps its copy: a standby now, cleaned with the rest on deletion
        project.standbys = [body.from_region, *(r for r in project.standbys or () if r != body.to_region)]
        if kind == "failover":  # the lost region stops writing it the moment it answers again
            uow.enqueue(project, FENCE, region=body.from_region)
        public = MovePublic(
            project=project.name,
            kind=move.kind,
            from_region=move.source,
            to_region=move.target,
            epoch=move.epoch,
            drain_ms=move.drain_ms,
            catch_up_ms=move.catch_up_ms,
            writes_refused_ms=move.writes_refused_ms,
            lag_ms=move.lag_ms,
            copied_until_ms=move.copied_until_ms,
        )
        uow.audit(
            info.event(
                actor="admin",
                action=f"project.{kind}",
                tenant_id=tenant_id,
                target=project.name,
                detail=public.model_dump(),
            )
        )
        uow.commit()
        moved.append(public)
    return MovesPublic(tenant=name, moved=moved)

"""Write operations of the routes: projects (a command each), keys, public views, usage.

A handler takes its command and the unit of work, changes rows through it and leaves
the commit to its caller, who audits in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from control_plane.models import ApiKey, Membership, Project, Tenant, UsageGauge, User, new_id
from control_plane.outbox import DELETE, PROVISION
from control_plane.repository import TenantScope
from control_plane.schemas import ApiKeyCreated, ProjectPublic, ProjectUsage, TenantPublic, UsagePublic
from control_plane.settings import ControlPlaneSettings
from control_plane.uow import UnitOfWork
from granary_core.errors import AlreadyExists, InvalidInput, NotFound
from tenancy.keys import generate_key, hash_key
from tenancy.plans import Plan
from tenancy.quotas import RateLimiter, check_count
from tenancy.roles import Role

GAUGES = ("feature_groups", "offline_bytes", "online_rows", "model_deployments")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def issue_key(
    session: Session, *, tenant: Tenant, user_id: str, project: Project | None, scopes: list[str], name: str
) -> ApiKeyCreated:
    """Store a new key (hashed) and return the only copy of its plaintext."""
    key_id, plaintext = generate_key()
    session.add(
        ApiKey(
            key_id=key_id,
            key_hash=hash_key(plaintext),
            tenant_id=tenant.id,
            user_id=user_id,
            project_id=project.id if project else None,
            scopes=scopes,
            name=name,
        )
    )
    return ApiKeyCreated(
        key_id=key_id,
        api_key=plaintext,
        name=name,
        project=project.name if project else None,
        scopes=scopes,
        tenant=tenant.name,
    )


def tenant_public(tenant: Tenant) -> TenantPublic:
    return TenantPublic(
        id=tenant.id,
        name=tenant.name,
        kind=tenant.kind,
        status=tenant.status,
        plan=Plan.model_validate(tenant.plan),
        created_at=tenant.created_at,
        suspended_at=tenant.suspended_at,
    )


def project_public(project: Project, tenant_name: str, role: Role | None, settings: ControlPlaneSettings):
    region = settings.regions.get(project.region)
    return ProjectPublic(
        id=project.id,
        name=project.name,
        tenant=tenant_name,
        region=project.region,
        status=project.status,
        last_error=project.last_error,
        metadata_scope=project.metadata_scope,
        kafka_topic_prefix=project.kafka_topic_prefix,
        redis_key_prefix=project.redis_key_prefix,
        s3_prefixes=list(project.s3_prefixes),
        data_plane_url=region.url if region else "",
        epoch=project.epoch,
        standbys=list(project.standbys or ()),
        role=role,
        created_at=project.created_at,
    )


def record_gauges(session: Session, project: Project, values: dict[str, int]) -> None:
    """Store a project's current sizes (a region's report, or what its admin API said)."""
    for metric, value in values.items():
        stmt = insert(UsageGauge).values(
            project_id=project.id, tenant_id=project.tenant_id, metric=metric, value=value
        )
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[UsageGauge.project_id, UsageGauge.metric], set_={"value": value}
            )
        )


def usage_of(
    session: Session, limiter: RateLimiter, tenant: Tenant, project_id: str | None = None
) -> UsagePublic:
    stmt = select(Project).where(Project.tenant_id == tenant.id).order_by(Project.name)
    projects = list(session.scalars(stmt))
    gauges: dict[str, dict[str, int]] = {}
    for g in session.scalars(select(UsageGauge).where(UsageGauge.tenant_id == tenant.id)):
        gauges.setdefault(g.project_id, {})[g.metric] = g.value
    metered = limiter.usage(tenant.id)
    rows = [
        ProjectUsage(
            project=p.name,
            project_id=p.id,
            gauges={m: gauges.get(p.id, {}).get(m, 0) for m in GAUGES},
            metered=metered.get(p.id, {}),
        )
        for p in projects
        if project_id is None or p.id == project_id
    ]
    return UsagePublic(
        tenant=tenant.name,
        quotas=Plan.model_validate(tenant.plan).quotas,
        projects_used=len(projects),
        projects=rows,
    )


def tenant_total(session: Session, tenant_id: str, metric: str) -> int:
    values = session.scalars(
        select(UsageGauge.value).where(UsageGauge.tenant_id == tenant_id, UsageGauge.metric == metric)
    )
    return sum(values)


# ------------------------------------------------------------------ projects
@dataclass(frozen=True)
class CreateProject:
    """Make a project in ``region`` (default: the tenant's home region), one of the
    plan's allowed regions; its creator becomes its owner."""

    name: str
    region: str | None = None
    standbys: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlaceProject:
    """Change the regions that hold copies of a project besides its home."""

    project: Project
    standbys: tuple[str, ...]


@dataclass(frozen=True)
class DeleteProject:
    """Remove a project, its data in its region first."""

    project: Project


def create_project(cmd: CreateProject, scope: TenantScope, uow: UnitOfWork) -> Project:
    """Add the project (``provisioning``) and its provisioning to the outbox, in ``uow``.

    The tenant row is locked for the count, so two concurrent creates cannot both
    squeeze under the ``projects`` quota; the lock lasts only this transaction, which
    calls no region: the region's work is the outbox's.
    """
    tenant = scope.tenant(for_update=True)
    plan = Plan.model_validate(tenant.plan)  # as of the lock, not as of authentication
    check_count(
        "projects",
        limit=plan.quotas.projects,
        current=scope.project_count(),
        subject=f"tenant '{tenant.name}'",
    )
    if uow.session.scalar(select(Project.id).where(Project.tenant_id == tenant.id, Project.name == cmd.name)):
        raise AlreadyExists(f"project '{cmd.name}' already exists in tenant '{tenant.name}'")
    region = cmd.region or plan.home_region
    if region not in plan.allowed_regions:
        raise InvalidInput(
            f"project '{cmd.name}': region '{region}' is not among tenant '{tenant.name}''s "
            f"allowed regions {plan.allowed_regions}"
        )
    standbys = _standbys(cmd.name, region, cmd.standbys, plan, tenant.name)
    project_id = new_id("p")
    project = Project(
        id=project_id,
        tenant_id=tenant.id,
        name=cmd.name,
        region=region,
        standbys=standbys,
        status="provisioning",
        metadata_scope=project_id,
        # named by the region when it provisions the project
        kafka_topic_prefix="",
        redis_key_prefix="",
        s3_prefixes=[],
    )
    uow.session.add(project)
    uow.session.flush()  # no ORM relationships: parents are flushed first
    uow.session.add(Membership(project_id=project.id, user_id=scope.caller.user_id, role=Role.OWNER.value))
    uow.enqueue(project, PROVISION)
    return project


def place_project(cmd: PlaceProject, scope: TenantScope) -> Project:
    """Set the project's standbys (checked against the plan as of now)."""
    tenant = scope.tenant()
    plan = Plan.model_validate(tenant.plan)
    project = cmd.project
    project.standbys = _standbys(project.name, project.region, cmd.standbys, plan, tenant.name)
    return project


def _standbys(project: str, home: str, standbys: tuple[str, ...], plan: Plan, tenant: str) -> list[str]:
    """``standbys`` as stored, or InvalidInput naming the one that cannot be."""
    for region in standbys:
        if region == home:
            raise InvalidInput(f"project '{project}': standby '{region}' is its home region")
        if region not in plan.allowed_regions:
            raise InvalidInput(
                f"project '{project}': standby '{region}' is not among tenant '{tenant}''s "
                f"allowed regions {plan.allowed_regions}"
            )
    if len(set(standbys)) != len(standbys):
        raise InvalidInput(f"project '{project}': standbys {list(standbys)} name a region twice")
    return list(standbys)


def delete_project(cmd: DeleteProject, uow: UnitOfWork) -> None:
    """Mark the project ``deleting`` and add its deletion to the outbox, in ``uow``.

    Deleting a project already ``deleting`` promises nothing more: its entry is pending.
    """
    project = cmd.project
    if project.status != "deleting":
        project.status, project.last_error = "deleting", None
        uow.enqueue(project, DELETE)


# ------------------------------------------------------------------ members
@dataclass(frozen=True)
class PutMember:
    """Add a user of the project's tenant to it, or change their role."""

    project: Project
    email: str
    role: Role


@dataclass(frozen=True)
class RemoveMember:
    """Take a user off the project."""

    project: Project
    email: str


def put_member(cmd: PutMember, scope: TenantScope, uow: UnitOfWork) -> User:
    """The member, changed in ``uow``; a project keeps at least one owner."""
    user = scope.user_by_email(cmd.email)
    member = uow.session.get(Membership, (cmd.project.id, user.id))
    if member is None:
        uow.session.add(Membership(project_id=cmd.project.id, user_id=user.id, role=cmd.role.value))
        return user
    if member.role == Role.OWNER.value and cmd.role != Role.OWNER:
        _keep_an_owner(uow.session, cmd.project, user)
    member.role = cmd.role.value
    return user


def remove_member(cmd: RemoveMember, scope: TenantScope, uow: UnitOfWork) -> User:
    """The removed member; a project keeps at least one owner."""
    user = scope.user_by_email(cmd.email)
    member = uow.session.get(Membership, (cmd.project.id, user.id))
    if member is None:
        raise NotFound(f"'{user.email}' is not a member of project '{cmd.project.name}'")
    if member.role == Role.OWNER.value:
        _keep_an_owner(uow.session, cmd.project, user)
    uow.session.delete(member)
    return user


def _keep_an_owner(session: Session, project: Project, leaving: User) -> None:
    """Refuse to take the owner role from ``leaving`` if nobody else holds it."""
    owners = session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.project_id == project.id, Membership.role == Role.OWNER.value)
    )
    if (owners or 0) <= 1:
        raise InvalidInput(
            f"project '{project.name}': '{leaving.email}' is its last owner; add another owner first"
        )

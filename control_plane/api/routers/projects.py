"""Projects of the caller's tenant and their members."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import func, select

from control_plane.api.access import (
    MemberManager,
    ProjectCreator,
    ProjectDeleter,
    ProjectReader,
    Reader,
)
from control_plane.api.deps import InfoDep, ServicesDep, UowDep
from control_plane.handlers import clean_region, project_public, record_gauges, usage_of
from control_plane.models import Membership, Project, User, new_id
from control_plane.schemas import MemberPublic, MemberPut, ProjectCreate, ProjectPublic, ProjectUsage
from control_plane.uow import UnitOfWork
from granary_core.errors import AlreadyExists, BackendUnavailable, InvalidInput, NotFound
from tenancy.plans import Plan
from tenancy.quotas import check_count
from tenancy.roles import Role

router = APIRouter(prefix="/v1/projects", tags=["projects"])


@router.post("", status_code=201, response_model=ProjectPublic)
def create_project(
    body: ProjectCreate, scope: ProjectCreator, uow: UowDep, services: ServicesDep, info: InfoDep
):
    """Create a project in the tenant's home region; the caller becomes its owner.

    The tenant row is locked for the count, so two concurrent creates cannot both
    squeeze under the ``projects`` quota.
    """
    caller = scope.caller
    tenant = scope.tenant(for_update=True)
    plan = Plan.model_validate(tenant.plan)  # as of the lock, not as of authentication
    check_count(
        "projects",
        limit=plan.quotas.projects,
        current=scope.project_count(),
        subject=f"tenant '{tenant.name}'",
    )
    if uow.session.scalar(
        select(Project.id).where(Project.tenant_id == tenant.id, Project.name == body.name)
    ):
        raise AlreadyExists(f"project '{body.name}' already exists in tenant '{tenant.name}'")
    region_name = plan.home_region
    try:
        region = services.regions.get(region_name)
    except NotFound as exc:
        raise BackendUnavailable(f"tenant '{tenant.name}': home {exc.message}") from exc
    project_id = new_id("p")
    # Before the rows are committed: a failed provisioning leaves no project (it is idempotent).
    layout = region.provision_project(project_id)
    project = Project(
        id=project_id,
        tenant_id=tenant.id,
        name=body.name,
        region=region_name,
        status="active",
        metadata_scope=project_id,
        kafka_topic_prefix=layout.group_topic_prefix,
        redis_key_prefix=layout.online_key_prefix,
        s3_prefixes=list(layout.object_prefixes),
    )
    uow.session.add(project)
    uow.session.flush()  # no ORM relationships: parents are flushed first
    uow.session.add(Membership(project_id=project.id, user_id=caller.user_id, role=Role.OWNER.value))
    uow.session.flush()
    uow.audit(info.by(caller, "project.create", body.name, 201, project_id=project.id, region=region_name))
    uow.commit()
    return project_public(project, tenant.name, Role.OWNER, services.settings)


@router.get("", response_model=list[ProjectPublic])
def list_projects(scope: Reader, services: ServicesDep) -> list[ProjectPublic]:
    return [
        project_public(p, scope.caller.tenant_name, role, services.settings) for p, role in scope.projects()
    ]


@router.get("/{name}", response_model=ProjectPublic)
def get_project(name: str, access: ProjectReader, services: ServicesDep) -> ProjectPublic:
    return project_public(access.project, access.scope.caller.tenant_name, access.role, services.settings)


@router.delete("/{name}", status_code=204)
def delete_project(
    name: str, access: ProjectDeleter, uow: UowDep, services: ServicesDep, info: InfoDep
) -> Response:
    """Remove the project's data from its region, then its rows here.

    The project is first marked ``deleting`` (committed); if the region fails the
    answer is 503 and calling DELETE again finishes the job.
    """
    project = access.project
    project.status = "deleting"
    uow.audit(info.by(access.scope.caller, "project.delete", name, 204, project_id=project.id))
    uow.commit()
    clean_region(services.regions, project)
    with UnitOfWork(services.sessions) as second:
        doomed = second.session.get(Project, project.id)
        if doomed is not None:
            second.session.delete(doomed)
        second.commit()
    return Response(status_code=204)


@router.get("/{name}/usage", response_model=ProjectUsage)
def project_usage(
    name: str, access: ProjectReader, services: ServicesDep, uow: UowDep, fresh: bool = False
) -> ProjectUsage:
    """The project's sizes as last reported by its region, and its metered rates.

    With ``fresh``, the sizes are measured by the region now (its admin API) and stored
    as if reported, instead of waiting for the region's next report.
    """
    scope = access.scope
    if fresh:
        project = access.project
        sizes = services.regions.get(project.region).usage(project.metadata_scope)
        record_gauges(uow.session, project, {m: v for m, v in sizes.items() if v is not None})
        uow.commit()
    usage = usage_of(scope.session, services.limiter, scope.tenant(), project_id=access.project.id)
    return usage.projects[0]


# ------------------------------------------------------------------ members
def _members(session, project_id: str) -> list[MemberPublic]:
    rows = session.execute(
        select(User.email, User.id, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.project_id == project_id)
        .order_by(User.email)
    )
    return [MemberPublic(email=e, user_id=u, role=Role(r)) for e, u, r in rows]


def _owners(session, project_id: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.project_id == project_id, Membership.role == Role.OWNER.value)
        )
        or 0
    )


@router.get("/{name}/members", response_model=list[MemberPublic])
def list_members(name: str, access: ProjectReader) -> list[MemberPublic]:
    return _members(access.scope.session, access.project.id)


@router.put("/{name}/members/{email}", response_model=MemberPublic)
def put_member(name: str, email: str, body: MemberPut, access: MemberManager, uow: UowDep, info: InfoDep):
    """Add a user of the same tenant to the project, or change their role."""
    project, scope = access.project, access.scope
    user = scope.user_by_email(email)
    member = uow.session.get(Membership, (project.id, user.id))
    if member is None:
        member = Membership(project_id=project.id, user_id=user.id, role=body.role.value)
        uow.session.add(member)
    else:
        if (
            member.role == Role.OWNER.value
            and body.role != Role.OWNER
            and _owners(uow.session, project.id) <= 1
        ):
            raise InvalidInput(f"project '{name}': '{user.email}' is its last owner; add another owner first")
        member.role = body.role.value
    uow.audit(info.by(scope.caller, "member.put", f"{name}/{user.email}", role=body.role.value))
    uow.commit()
    return MemberPublic(email=user.email, user_id=user.id, role=body.role)


@router.delete("/{name}/members/{email}", status_code=204)
def remove_member(name: str, email: str, access: MemberManager, uow: UowDep, info: InfoDep) -> Response:
    project, scope = access.project, access.scope
    user = scope.user_by_email(email)
    member = uow.session.get(Membership, (project.id, user.id))
    if member is None:
        raise NotFound(f"'{user.email}' is not a member of project '{name}'")
    if member.role == Role.OWNER.value and _owners(uow.session, project.id) <= 1:
        raise InvalidInput(f"project '{name}': '{user.email}' is its last owner; add another owner first")
    uow.session.delete(member)
    uow.audit(info.by(scope.caller, "member.remove", f"{name}/{user.email}", 204))
    uow.commit()
    return Response(status_code=204)

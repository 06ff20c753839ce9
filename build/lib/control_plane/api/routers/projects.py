"""Projects of the caller's tenant and their members."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import func, select

from control_plane.api.deps import InfoDep, ScopeDep, ServicesDep, UowDep
from control_plane.handlers import clean_region, project_public, usage_of
from control_plane.models import Membership, Project, User, new_id
from control_plane.regions import ProjectScope
from control_plane.schemas import MemberPublic, MemberPut, ProjectCreate, ProjectPublic, ProjectUsage
from control_plane.uow import UnitOfWork
from granary.errors import AlreadyExists, BackendUnavailable, InvalidInput, NotFound, PermissionDenied
from tenancy.plans import Plan
from tenancy.quotas import check_count
from tenancy.roles import MEMBERS_MANAGE, PROJECT_DELETE, READ, Role

router = APIRouter(prefix="/v1/projects", tags=["projects"])


@router.post("", status_code=201, response_model=ProjectPublic)
def create_project(body: ProjectCreate, scope: ScopeDep, uow: UowDep, services: ServicesDep, info: InfoDep):
    """Create a project in the tenant's home region; the caller becomes its owner.

    The tenant row is locked for the count, so two concurrent creates cannot both
    squeeze under the ``projects`` quota.
    """
    caller = scope.caller
    if caller.project_id is not None or "*" not in caller.scopes:
        raise PermissionDenied("creating a project needs an unrestricted key (scope '*', no project binding)")
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
    namespace = (
        services.settings.regions[region_name].namespace
        if region_name in services.settings.regions
        else "granary"
    )
    scope_ = ProjectScope.new(new_id("p"), tenant.id, region_name, namespace)
    project = Project(
        id=scope_.project_id,
        tenant_id=tenant.id,
        name=body.name,
        region=region_name,
        status="active",
        metadata_scope=scope_.metadata_scope,
        kafka_topic_prefix=scope_.kafka_topic_prefix,
        redis_key_prefix=scope_.redis_key_prefix,
        s3_prefixes=list(scope_.s3_prefixes),
    )
    uow.session.add(project)
    uow.session.flush()  # no ORM relationships: parents are flushed first
    uow.session.add(Membership(project_id=project.id, user_id=caller.user_id, role=Role.OWNER.value))
    uow.session.flush()
    # Inside the transaction: a failed provisioning leaves no project row (it is idempotent).
    region.provision_project(scope_)
    uow.audit(info.by(caller, "project.create", body.name, 201, project_id=project.id, region=region_name))
    uow.commit()
    return project_public(project, tenant.name, Role.OWNER, services.settings)


@router.get("", response_model=list[ProjectPublic])
def list_projects(scope: ScopeDep, services: ServicesDep) -> list[ProjectPublic]:
    return [
        project_public(p, scope.caller.tenant_name, role, services.settings) for p, role in scope.projects()
    ]


@router.get("/{name}", response_model=ProjectPublic)
def get_project(name: str, scope: ScopeDep, services: ServicesDep) -> ProjectPublic:
    project, role = scope.authorize(name, READ)
    return project_public(project, scope.caller.tenant_name, role, services.settings)


@router.delete("/{name}", status_code=204)
def delete_project(name: str, scope: ScopeDep, uow: UowDep, services: ServicesDep, info: InfoDep) -> Response:
    """Remove the project's data from its region, then its rows here.

    The project is first marked ``deleting`` (committed); if the region fails the
    answer is 503 and calling DELETE again finishes the job.
    """
    project, _ = scope.authorize(name, PROJECT_DELETE, for_update=True)
    project.status = "deleting"
    uow.audit(info.by(scope.caller, "project.delete", name, 204, project_id=project.id))
    uow.commit()
    clean_region(services.regions, project)
    with UnitOfWork(services.sessions) as second:
        doomed = second.session.get(Project, project.id)
        if doomed is not None:
            second.session.delete(doomed)
        second.commit()
    return Response(status_code=204)


@router.get("/{name}/usage", response_model=ProjectUsage)
def project_usage(name: str, scope: ScopeDep, services: ServicesDep) -> ProjectUsage:
    project, _ = scope.authorize(name, READ)
    usage = usage_of(scope.session, services.limiter, scope.tenant(), project_id=project.id)
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
def list_members(name: str, scope: ScopeDep) -> list[MemberPublic]:
    project, _ = scope.authorize(name, READ)
    return _members(scope.session, project.id)


@router.put("/{name}/members/{email}", response_model=MemberPublic)
def put_member(name: str, email: str, body: MemberPut, scope: ScopeDep, uow: UowDep, info: InfoDep):
    """Add a user of the same tenant to the project, or change their role."""
    project, _ = scope.authorize(name, MEMBERS_MANAGE, for_update=True)
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
def remove_member(name: str, email: str, scope: ScopeDep, uow: UowDep, info: InfoDep) -> Response:
    project, _ = scope.authorize(name, MEMBERS_MANAGE, for_update=True)
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

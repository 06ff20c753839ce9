"""Projects of the caller's tenant and their members."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import select

from control_plane import handlers
from control_plane.api.access import (
    MemberManager,
    ProjectCreator,
    ProjectDeleter,
    ProjectPlacer,
    ProjectReader,
    Reader,
)
from control_plane.api.deps import InfoDep, ServicesDep, UowDep
from control_plane.handlers import project_public, record_gauges, usage_of
from control_plane.models import Membership, User
from control_plane.schemas import (
    MemberPublic,
    MemberPut,
    ProjectCreate,
    ProjectPublic,
    ProjectUpdate,
    ProjectUsage,
)
from tenancy.roles import Role

router = APIRouter(prefix="/v1/projects", tags=["projects"])


@router.post("", status_code=201, response_model=ProjectPublic)
def create_project(
    body: ProjectCreate, scope: ProjectCreator, uow: UowDep, services: ServicesDep, info: InfoDep
):
    """Create a project in ``region`` (default: the tenant's home region), one of its
    plan's allowed regions; the caller becomes its owner.

    Answers at once with status ``provisioning``: the region makes the project after
    the answer (the outbox), and its status turns ``ready`` (or ``failed``, with
    ``last_error``).
    """
    project = handlers.create_project(
        handlers.CreateProject(body.name, body.region, tuple(body.standbys)), scope, uow
    )
    uow.audit(
        info.by(scope.caller, "project.create", body.name, 201, project_id=project.id, region=project.region)
    )
    uow.commit()
    return project_public(project, scope.caller.tenant_name, Role.OWNER, services.settings)


@router.get("", response_model=list[ProjectPublic])
def list_projects(scope: Reader, services: ServicesDep) -> list[ProjectPublic]:
    return [
        project_public(p, scope.caller.tenant_name, role, services.settings) for p, role in scope.projects()
    ]


@router.get("/{name}", response_model=ProjectPublic)
def get_project(name: str, access: ProjectReader, services: ServicesDep) -> ProjectPublic:
    return project_public(access.project, access.scope.caller.tenant_name, access.role, services.settings)


@router.patch("/{name}", response_model=ProjectPublic)
def place_project(
    name: str, body: ProjectUpdate, access: ProjectPlacer, uow: UowDep, services: ServicesDep, info: InfoDep
):
    """Change the project's standbys: the regions besides its home that hold copies of
    it (each must be one the home replicates to). Moves go to one of them; a deletion
    removes the copies there too."""
    project = handlers.place_project(
        handlers.PlaceProject(access.project, tuple(body.standbys)), access.scope
    )
    uow.audit(info.by(access.scope.caller, "project.place", name, 200, standbys=project.standbys))
    uow.commit()
    return project_public(project, access.scope.caller.tenant_name, access.role, services.settings)


@router.delete("/{name}", status_code=202, response_model=ProjectPublic)
def delete_project(name: str, access: ProjectDeleter, uow: UowDep, services: ServicesDep, info: InfoDep):
    """Delete the project: answers at once with status ``deleting``.

    Its region removes its data after the answer (the outbox); then the project is
    gone (404). Deleting a ``failed`` project tries again.
    """
    handlers.delete_project(handlers.DeleteProject(access.project), uow)
    uow.audit(info.by(access.scope.caller, "project.delete", name, 202, project_id=access.project.id))
    uow.commit()
    return project_public(access.project, access.scope.caller.tenant_name, access.role, services.settings)


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


@router.get("/{name}/members", response_model=list[MemberPublic])
def list_members(name: str, access: ProjectReader) -> list[MemberPublic]:
    return _members(access.scope.session, access.project.id)


@router.put("/{name}/members/{email}", response_model=MemberPublic)
def put_member(name: str, email: str, body: MemberPut, access: MemberManager, uow: UowDep, info: InfoDep):
    """Add a user of the same tenant to the project, or change their role."""
    user = handlers.put_member(handlers.PutMember(access.project, email, body.role), access.scope, uow)
    uow.audit(info.by(access.scope.caller, "member.put", f"{name}/{user.email}", role=body.role.value))
    uow.commit()
    return MemberPublic(email=user.email, user_id=user.id, role=body.role)


@router.delete("/{name}/members/{email}", status_code=204)
def remove_member(name: str, email: str, access: MemberManager, uow: UowDep, info: InfoDep) -> Response:
    user = handlers.remove_member(handlers.RemoveMember(access.project, email), access.scope, uow)
    uow.audit(info.by(access.scope.caller, "member.remove", f"{name}/{user.email}", 204))
    uow.commit()
    return Response(status_code=204)

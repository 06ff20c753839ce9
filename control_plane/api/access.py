"""Who may call each route: every route declares exactly one access rule, as a dependency.

=========================  =================================================================
declaration                who gets through
=========================  =================================================================
``PUBLIC``                 anyone (signup, login, verify, password reset, health)
``AdminDep``               the operator's admin token
``RegionDep``              the regions' token
``Allow(permission)``      a tenant key whose effective tenant-wide permissions hold it
``OnProject(permission)``  a tenant key whose role on the path's project, narrowed by the
                           key's scopes, holds it
=========================  =================================================================

A key's effective permissions are its holder's grants narrowed by its scopes
(:func:`tenancy.roles.effective`), so a read-only key is refused by every write even when
its holder is a tenant admin. Keys minted by login carry scope ``"*"``: the whole role.
A route that declares none of these is caught by a test that walks ``app.routes``
(:func:`declared_routes`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import SecretStr

from control_plane.api.deps import AuthHeader, ScopeDep, ServicesDep
from control_plane.auth import bearer, check_token
from control_plane.models import Project
from control_plane.repository import TenantScope
from control_plane.settings import ControlPlaneSettings
from tenancy.roles import (
    KEYS_MANAGE,
    MEMBERS_MANAGE,
    PROJECT_DELETE,
    PROJECTS_CREATE,
    READ,
    TENANT_ADMIN,
    Role,
)


class Access:
    """Base of the access declarations; ``rule`` names who may call, for tests and docs."""

    rule: str


class Anyone(Access):
    """No credentials needed: the route guards itself (throttles, tokens in the body)."""

    rule = "anyone"

    def __call__(self) -> None:
        return None


class OperatorToken(Access):
    """The admin token (operator API) or the region token (data planes' internal API)."""

    def __init__(self, actor: str, api: str, token: Callable[[ControlPlaneSettings], SecretStr]) -> None:
        self.actor, self.api, self.token = actor, api, token
        self.rule = f"{actor} token"

    def __call__(self, request: Request, services: ServicesDep, authorization: AuthHeader = None) -> str:
        check_token(bearer(authorization), self.token(services.settings).get_secret_value(), self.api)
        request.state.actor = self.actor
        return self.actor


def _what(request: Request) -> str:
    return f"{request.method} {request.url.path}"


class Allow(Access):
    """A tenant key holding ``permission`` tenant-wide; gives the route its ``TenantScope``."""

    def __init__(self, permission: str) -> None:
        self.permission = permission
        self.rule = permission

    def __call__(self, request: Request, scope: ScopeDep) -> TenantScope:
        scope.require(self.permission, _what(request))
        return scope


@dataclass(frozen=True)
class ProjectAccess:
    """The project named in the path, the caller's role on it, and the caller's scope."""

    project: Project
    role: Role
    scope: TenantScope


class OnProject(Access):
    """A tenant key holding ``permission`` on the project the path names (``{name}``).

    Another tenant's project answers 404 like a missing one. ``for_update`` locks the
    project's row for the rest of the request's transaction (member changes, delete).
    """

    def __init__(self, permission: str, *, for_update: bool = False) -> None:
        self.permission = permission
        self.for_update = for_update
        self.rule = f"{permission} on the project"

    def __call__(self, request: Request, name: str, scope: ScopeDep) -> ProjectAccess:
        project, role = scope.authorize(
            name, self.permission, for_update=self.for_update, what=_what(request)
        )
        return ProjectAccess(project, role, scope)


PUBLIC = Depends(Anyone())
AdminDep = Annotated[str, Depends(OperatorToken("admin", "admin", lambda s: s.admin_token))]
RegionDep = Annotated[str, Depends(OperatorToken("region", "internal", lambda s: s.region_token))]

#: Read the tenant and the caller's projects.
Reader = Annotated[TenantScope, Depends(Allow(READ))]
#: The caller's own keys (and, for owners and tenant admins, others' keys; see the route).
KeyManager = Annotated[TenantScope, Depends(Allow(KEYS_MANAGE))]
ProjectCreator = Annotated[TenantScope, Depends(Allow(PROJECTS_CREATE))]
#: Users, usage and the audit log of the tenant.
TenantAdmin = Annotated[TenantScope, Depends(Allow(TENANT_ADMIN))]

ProjectReader = Annotated[ProjectAccess, Depends(OnProject(READ))]
ProjectDeleter = Annotated[ProjectAccess, Depends(OnProject(PROJECT_DELETE, for_update=True))]
#: Where a project's copies live is decided by whoever may delete it.
ProjectPlacer = ProjectDeleter
MemberManager = Annotated[ProjectAccess, Depends(OnProject(MEMBERS_MANAGE, for_update=True))]


@dataclass(frozen=True)
class DeclaredRoute:
    """One route of the app as served: its path, methods and access declarations."""

    path: str
    methods: frozenset[str]
    #: None for Starlette routes outside FastAPI's dependency system (the API docs).
    access: tuple[Access, ...] | None


def declared_routes(app: FastAPI) -> list[DeclaredRoute]:
    """Every route of ``app`` with the access declarations among its dependencies.

    Walks the routes as served, router-level and include-level dependencies included;
    FastAPI >= 0.165 keeps included routers lazily, older versions list routes flat.
    """
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - FastAPI before lazily included routers
        served: list = list(app.routes)
        api = [isinstance(r, APIRoute) for r in served]
    else:
        served = list(iter_route_contexts(app.routes))
        api = [isinstance(r.original_route, APIRoute) for r in served]
    return [
        DeclaredRoute(
            route.path, frozenset(route.methods or ()), _declared(route.dependant) if is_api else None
        )
        for route, is_api in zip(served, api, strict=True)
    ]


def _declared(dependant: Dependant) -> tuple[Access, ...]:
    found: list[Access] = []
    for sub in dependant.dependencies:
        if isinstance(sub.call, Access):
            found.append(sub.call)
        found.extend(_declared(sub))
    return tuple(found)

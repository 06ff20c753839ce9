"""Tenant-scoped reads and the permission rule; route bodies never filter by tenant.

:class:`TenantScope` only ever sees rows of its caller's tenant: another tenant's
project answers ``NotFound`` exactly like a project that does not exist, so a key
cannot even learn that the name is taken elsewhere.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from control_plane.auth import Caller
from control_plane.models import ApiKey, Membership, Project, Tenant, User
from granary_core.errors import NotFound, PermissionDenied
from tenancy.roles import KEYS_MANAGE, PROJECTS_CREATE, TENANT_ADMIN, Role, allows


class TenantScope:
    def __init__(self, session: Session, caller: Caller) -> None:
        self.session = session
        self.caller = caller

    # -------------------------------------------------------------- tenant
    def tenant(self, *, for_update: bool = False) -> Tenant:
        stmt = select(Tenant).where(Tenant.id == self.caller.tenant_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).one()

    def require(self, permission: str, what: str) -> None:
        """Refuse ``what`` unless the caller's key holds the tenant-wide ``permission``."""
        caller = self.caller
        if permission in caller.tenant_permissions:
            return
        if permission in caller.tenant_grants:
            why = f"API key {caller.key_id} has scopes {list(caller.scopes)}"
            if permission in (PROJECTS_CREATE, TENANT_ADMIN):
                why += " and this needs scope '*'"
        elif caller.project_id is not None:
            why = f"API key {caller.key_id} is bound to one project; this needs a key bound to none"
        else:
            why = f"user '{caller.email}' is not a tenant admin of '{caller.tenant_name}'"
        raise PermissionDenied(f"{what}: needs '{permission}': {why}")

    # -------------------------------------------------------------- users
    def users(self) -> list[User]:
        return list(
            self.session.scalars(
                select(User).where(User.tenant_id == self.caller.tenant_id).order_by(User.email)
            )
        )

    def user_by_email(self, email: str) -> User:
        user = self.session.scalar(
            select(User).where(User.tenant_id == self.caller.tenant_id, User.email == email.lower())
        )
        if user is None:
            raise NotFound(f"user '{email}' does not exist in tenant '{self.caller.tenant_name}'")
        return user

    # -------------------------------------------------------------- projects
    def project_count(self) -> int:
        return (
            self.session.scalar(
                select(func.count()).select_from(Project).where(Project.tenant_id == self.caller.tenant_id)
            )
            or 0
        )

    def projects(self) -> list[tuple[Project, Role | None]]:
        """Projects the caller can see: all of the tenant for admins, else its memberships."""
        stmt = (
            select(Project, Membership.role)
            .outerjoin(
                Membership,
                (Membership.project_id == Project.id) & (Membership.user_id == self.caller.user_id),
            )
            .where(Project.tenant_id == self.caller.tenant_id)
            .order_by(Project.name)
        )
        if self.caller.project_id is not None:
            stmt = stmt.where(Project.id == self.caller.project_id)
        out = []
        for project, role in self.session.execute(stmt):
            effective = self._effective_role(role)
            if effective is not None:
                out.append((project, effective))
        return out

    def project(self, name: str, *, for_update: bool = False) -> tuple[Project, Role | None]:
        stmt = (
            select(Project, Membership.role)
            .outerjoin(
                Membership,
                (Membership.project_id == Project.id) & (Membership.user_id == self.caller.user_id),
            )
            .where(Project.tenant_id == self.caller.tenant_id, Project.name == name)
        )
        if for_update:
            stmt = stmt.with_for_update(of=Project)
        row = self.session.execute(stmt).first()
        missing = NotFound(f"project '{name}' does not exist in tenant '{self.caller.tenant_name}'")
        if row is None:
            raise missing
        project, role = row
        if self.caller.project_id is not None and self.caller.project_id != project.id:
            raise PermissionDenied(f"API key {self.caller.key_id} is bound to another project, not '{name}'")
        effective = self._effective_role(role)
        if effective is None:
            raise missing
        return project, effective

    def authorize(
        self, name: str, permission: str, *, for_update: bool = False, what: str = ""
    ) -> tuple[Project, Role]:
        """The project, if the caller's role and key scopes allow ``permission`` on it."""
        project, role = self.project(name, for_update=for_update)
        assert role is not None
        if not allows(role, list(self.caller.scopes), permission):
            raise PermissionDenied(
                f"{what or 'this'}: needs '{permission}' on project '{name}': not allowed for role "
                f"'{role}' with key scopes {list(self.caller.scopes)}"
            )
        return project, role

    def _effective_role(self, role: str | None) -> Role | None:
        if role is not None:
            return Role(role)
        # tenant admins administer every project of their tenant
        return Role.OWNER if self.caller.is_tenant_admin else None

    # -------------------------------------------------------------- keys
    def _keys(self):
        """Keys the caller can reach: of its tenant and, for a project-bound key, of that project."""
        stmt = select(ApiKey).where(ApiKey.tenant_id == self.caller.tenant_id)
        if self.caller.project_id is not None:
            stmt = stmt.where(ApiKey.project_id == self.caller.project_id)
        return stmt

    def key(self, key_id: str) -> ApiKey:
        key = self.session.scalar(self._keys().where(ApiKey.key_id == key_id))
        if key is None:
            raise NotFound(f"API key {key_id} does not exist in tenant '{self.caller.tenant_name}'")
        return key

    def own_keys(self) -> list[tuple[ApiKey, str | None]]:
        stmt = (
            self._keys()
            .add_columns(Project.name)
            .outerjoin(Project, Project.id == ApiKey.project_id)
            .where(ApiKey.user_id == self.caller.user_id)
            .order_by(ApiKey.created_at)
        )
        return [(k, p) for k, p in self.session.execute(stmt)]

    def may_manage_key(self, key: ApiKey) -> bool:
        """Whether the caller may revoke ``key``: its own, or another user's as that key's
        project owner, or as a tenant admin, in each case with ``keys:manage`` in scope."""
        caller = self.caller
        if KEYS_MANAGE not in caller.tenant_permissions:
            return False
        if key.user_id == caller.user_id:
            return True
        if key.project_id is None:
            return caller.is_tenant_admin and caller.project_id is None
        name = self.session.scalar(select(Project.name).where(Project.id == key.project_id))
        if name is None:
            return False
        _, role = self.project(name)
        return allows(role, list(caller.scopes), KEYS_MANAGE)

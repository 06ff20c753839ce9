"""Who is calling and what they may reach: one rule, used by every service."""

from __future__ import annotations

from dataclasses import dataclass

from granary_core.errors import PermissionDenied
from tenancy.plans import Quotas


@dataclass(frozen=True)
class Principal:
    """The caller an API key identifies, acting on exactly one project.

    Keys the region issued itself (``python -m data_plane create-key``) are operator
    keys: bound to one project, every permission, no tenant and no quotas. Keys of the
    control plane carry their tenant, their role's permissions narrowed by the key's
    scopes, and the tenant's quotas, which the data plane enforces.
    """

    key_id: str
    project: str
    tenant_id: str | None = None
    #: The control plane's id of the project (None for operator keys).
    project_id: str | None = None
    #: Permissions granted on ``project``; None means all (operator keys).
    permissions: frozenset[str] | None = None
    quotas: Quotas | None = None
    #: The control plane's id of the key's user (None for operator keys): whom a
    #: deployment this caller starts reads for.
    user_id: str | None = None

    def require(self, permission: str) -> None:
        if self.permissions is not None and permission not in self.permissions:
            raise PermissionDenied(
                f"API key {self.key_id}: '{permission}' on project '{self.project}' is not allowed"
            )


def authorize(principal: Principal, project: str) -> None:
    """Refuse any project but the key's own; the message names neither secret nor owner."""
    if principal.project != project:
        raise PermissionDenied(f"API key {principal.key_id} is not allowed to access project '{project}'")

"""Project roles (after Hopsworks) and the permissions each grants.

=================  ===========================================================
role               may
=================  ===========================================================
``owner``          everything below, plus manage members and API keys, delete
``data_owner``     write feature groups (and everything a data scientist does)
``data_scientist`` write feature views, training data and models; read all
``viewer``         read, and call model deployments (``deployment:predict``)
=================  ===========================================================

API keys carry *scopes*: permission names, or ``"*"`` for all the holder's role
allows. A call is allowed when the role grants the permission **and** the key's
scopes include it, so a key never exceeds its holder's role (:func:`effective`).

Outside any one project a user holds tenant-wide grants (:func:`tenant_grants`): every
user reads the projects they belong to and manages their own keys; creating projects
and administering the tenant (users, usage, audit, every user's keys) need a key with
scope ``"*"`` that is bound to no project, since those two are not scope names.
Keys minted by ``POST /v1/login`` have scope ``"*"``: a session holds the whole role.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from granary_core.errors import InvalidInput


class Role(StrEnum):
    OWNER = "owner"
    DATA_OWNER = "data_owner"
    DATA_SCIENTIST = "data_scientist"
    VIEWER = "viewer"


READ = "project:read"
FEATURE_GROUPS_WRITE = "feature_groups:write"
FEATURE_VIEWS_WRITE = "feature_views:write"
TRAINING_DATA_WRITE = "training_data:write"
MODELS_WRITE = "models:write"
#: Calling a running model deployment (not managing it: that is ``models:write``).
DEPLOYMENT_PREDICT = "deployment:predict"
MEMBERS_MANAGE = "members:manage"
KEYS_MANAGE = "keys:manage"
PROJECT_DELETE = "project:delete"

ALL_SCOPES = (
    READ,
    FEATURE_GROUPS_WRITE,
    FEATURE_VIEWS_WRITE,
    TRAINING_DATA_WRITE,
    MODELS_WRITE,
    DEPLOYMENT_PREDICT,
    MEMBERS_MANAGE,
    KEYS_MANAGE,
    PROJECT_DELETE,
)

#: Tenant-wide permissions no scope name grants: only ``"*"`` carries them.
PROJECTS_CREATE = "projects:create"
TENANT_ADMIN = "tenant:admin"

_SCIENTIST = frozenset({READ, DEPLOYMENT_PREDICT, FEATURE_VIEWS_WRITE, TRAINING_DATA_WRITE, MODELS_WRITE})
PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.VIEWER: frozenset({READ, DEPLOYMENT_PREDICT}),
    Role.DATA_SCIENTIST: _SCIENTIST,
    Role.DATA_OWNER: _SCIENTIST | {FEATURE_GROUPS_WRITE},
    Role.OWNER: frozenset(ALL_SCOPES),
}


def validate_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(ALL_SCOPES) - {"*"})
    if unknown:
        raise InvalidInput(f"scopes: unknown {unknown}; known: ['*', {', '.join(map(repr, ALL_SCOPES))}]")
    return sorted(set(scopes))


def effective(granted: Iterable[str], scopes: Iterable[str]) -> frozenset[str]:
    """What a key may do: what its holder is granted, narrowed by the key's scopes."""
    granted, scopes = frozenset(granted), frozenset(scopes)
    return granted if "*" in scopes else granted & scopes


def tenant_grants(*, is_tenant_admin: bool, bound_to_project: bool) -> frozenset[str]:
    """What a user may do outside any one project, before the key's scopes narrow it.

    A key bound to a project keeps to that project: it lists only it and manages only
    keys bound to it, and never creates projects or administers the tenant.
    """
    grants = {READ, KEYS_MANAGE}
    if not bound_to_project:
        grants.add(PROJECTS_CREATE)
        if is_tenant_admin:
            grants.add(TENANT_ADMIN)
    return frozenset(grants)


def allows(role: Role | None, scopes: list[str], permission: str) -> bool:
    """Whether a key with ``scopes`` held by a member with ``role`` may do ``permission``."""
    return role is not None and permission in effective(PERMISSIONS[role], scopes)

"""Project roles (after Hopsworks) and the permissions each grants.

=================  ===========================================================
role               may
=================  ===========================================================
``owner``          everything below, plus manage members and API keys, delete
``data_owner``     write feature groups (and everything a data scientist does)
``data_scientist`` write feature views, training data and models; read all
``viewer``         read
=================  ===========================================================

API keys carry *scopes*: permission names, or ``"*"`` for all the holder's role
allows. A call is allowed when the role grants the permission **and** the key's
scopes include it, so a key never exceeds its holder's role.
"""

from __future__ import annotations

from enum import StrEnum

from granary.errors import InvalidInput


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
MEMBERS_MANAGE = "members:manage"
KEYS_MANAGE = "keys:manage"
PROJECT_DELETE = "project:delete"

ALL_SCOPES = (
    READ,
    FEATURE_GROUPS_WRITE,
    FEATURE_VIEWS_WRITE,
    TRAINING_DATA_WRITE,
    MODELS_WRITE,
    MEMBERS_MANAGE,
    KEYS_MANAGE,
    PROJECT_DELETE,
)

_SCIENTIST = frozenset({READ, FEATURE_VIEWS_WRITE, TRAINING_DATA_WRITE, MODELS_WRITE})
PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.VIEWER: frozenset({READ}),
    Role.DATA_SCIENTIST: _SCIENTIST,
    Role.DATA_OWNER: _SCIENTIST | {FEATURE_GROUPS_WRITE},
    Role.OWNER: frozenset(ALL_SCOPES),
}


def validate_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(ALL_SCOPES) - {"*"})
    if unknown:
        raise InvalidInput(f"scopes: unknown {unknown}; known: ['*', {', '.join(map(repr, ALL_SCOPES))}]")
    return sorted(set(scopes))


def allows(role: Role | None, scopes: list[str], permission: str) -> bool:
    """Whether a key with ``scopes`` held by a member with ``role`` may do ``permission``."""
    if role is None or permission not in PERMISSIONS[role]:
        return False
    return "*" in scopes or permission in scopes

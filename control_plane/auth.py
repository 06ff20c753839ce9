"""Who is calling: API keys of tenant users, the operator's admin token, the regions' token.

Nothing is cached: every request reads the key, its user and its tenant in one indexed
query, so a revoked key or a suspended tenant is refused from the very next request.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_plane.models import ApiKey, Tenant, User
from granary_core.errors import PermissionDenied, TenantSuspended, Unauthenticated
from tenancy.keys import key_id_of, matches
from tenancy.plans import Plan
from tenancy.roles import effective, tenant_grants


@dataclass(frozen=True)
class Caller:
    """A tenant user acting through one API key."""

    key_id: str
    user_id: str
    email: str
    tenant_id: str
    tenant_name: str
    is_tenant_admin: bool
    #: The project the key is bound to, or None for all the user's projects.
    project_id: str | None
    scopes: tuple[str, ...]
    plan: Plan

    @property
    def actor(self) -> str:
        return f"user:{self.user_id}"

    @property
    def tenant_grants(self) -> frozenset[str]:
        """What the holder may do outside any one project, with a key bound as this one is."""
        return tenant_grants(
            is_tenant_admin=self.is_tenant_admin, bound_to_project=self.project_id is not None
        )

    @property
    def tenant_permissions(self) -> frozenset[str]:
        """What this key may do outside any one project: the grants narrowed by its scopes."""
        return effective(self.tenant_grants, self.scopes)


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate_key(session: Session, key: str | None) -> Caller:
    if not key:
        raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>'")
    key_id = key_id_of(key)
    if key_id is None:
        raise Unauthenticated("the API key is malformed")
    row = session.execute(
        select(ApiKey, User, Tenant)
        .join(User, User.id == ApiKey.user_id)
        .join(Tenant, Tenant.id == ApiKey.tenant_id)
        .where(ApiKey.key_id == key_id)
    ).first()
    if row is None:
        raise Unauthenticated(f"API key {key_id} is unknown or revoked")
    api_key, user, tenant = row
    if api_key.revoked_at is not None or not matches(key, api_key.key_hash):
        raise Unauthenticated(f"API key {key_id} is unknown or revoked")
    require_active(tenant, "its API keys are refused")
    return Caller(
        key_id=key_id,
        user_id=user.id,
        email=user.email,
        tenant_id=tenant.id,
        tenant_name=tenant.name,
        is_tenant_admin=user.is_tenant_admin,
        project_id=api_key.project_id,
        scopes=tuple(api_key.scopes),
        plan=Plan.model_validate(tenant.plan),
    )


def check_token(presented: str | None, expected: str, what: str) -> None:
    """Operator or region token; a tenant API key is refused with 403, anything else 401."""
    if presented and hmac.compare_digest(presented.encode(), expected.encode()):
        return
    if presented and key_id_of(presented) is not None:
        raise PermissionDenied(f"the {what} API refuses tenant API keys")
    raise Unauthenticated(f"the {what} API needs its bearer token")


def require_active(tenant: Tenant, consequence: str = "") -> None:
    """Refuse work for a suspended tenant, with one message wherever it is refused."""
    if tenant.status != "active":
        suffix = f": {consequence}" if consequence else ""
        raise TenantSuspended(f"tenant '{tenant.name}' is suspended{suffix}")

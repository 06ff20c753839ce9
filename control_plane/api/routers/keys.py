"""API keys of the caller: create (shown once), list, revoke (effective at once).

Every call needs ``keys:manage`` in the calling key's scopes (login keys have ``*``), so a
read-only key can neither mint keys nor revoke its holder's other keys.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from control_plane.api.access import KeyManager
from control_plane.api.deps import InfoDep, UowDep
from control_plane.handlers import issue_key, utcnow
from control_plane.models import Project
from control_plane.schemas import ApiKeyCreated, KeyCreate, KeyPublic
from granary_core.errors import PermissionDenied
from tenancy.roles import PERMISSIONS, READ, validate_scopes

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.post("", status_code=201, response_model=ApiKeyCreated)
def create_key(body: KeyCreate, scope: KeyManager, uow: UowDep, info: InfoDep) -> ApiKeyCreated:
    """A new key for the caller, never wider than the key used to create it.

    A key bound to a project may only create keys bound to that project; scopes must
    be among the caller key's scopes and, for a project key, allowed by the role.
    """
    caller = scope.caller
    scopes = validate_scopes(body.scopes)
    if "*" not in caller.scopes and not set(scopes) <= set(caller.scopes):
        raise PermissionDenied(f"scopes {scopes} exceed this key's scopes {list(caller.scopes)}")
    project: Project | None = None
    if body.project is not None:
        project, role = scope.authorize(body.project, READ, what="POST /v1/keys")
        wider = [s for s in scopes if s != "*" and s not in PERMISSIONS[role]]
        if wider:
            raise PermissionDenied(f"project '{body.project}': role '{role}' does not allow scopes {wider}")
    elif caller.project_id is not None:
        raise PermissionDenied("this key is bound to a project: new keys must name that project")
    tenant = scope.tenant()
    created = issue_key(
        uow.session, tenant=tenant, user_id=caller.user_id, project=project, scopes=scopes, name=body.name
    )
    uow.audit(info.by(caller, "key.create", created.key_id, 201, project=body.project, scopes=scopes))
    uow.commit()
    return created


@router.get("", response_model=list[KeyPublic])
def list_keys(scope: KeyManager) -> list[KeyPublic]:
    return [
        KeyPublic(
            key_id=k.key_id,
            name=k.name,
            project=p,
            scopes=list(k.scopes),
            created_at=k.created_at,
            revoked_at=k.revoked_at,
        )
        for k, p in scope.own_keys()
    ]


@router.delete("/{key_id}", status_code=204)
def revoke_key(key_id: str, scope: KeyManager, uow: UowDep, info: InfoDep) -> Response:
    """Revoke one of the caller's keys; tenant admins and project owners may revoke others'."""
    caller = scope.caller
    key = scope.key(key_id)
    if not scope.may_manage_key(key):
        raise PermissionDenied(
            f"API key {key_id} belongs to another user: revoking it needs 'keys:manage' as a tenant "
            "admin or as the owner of the project it is bound to"
        )
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    uow.audit(info.by(caller, "key.revoke", key_id, 204))
    uow.commit()
    return Response(status_code=204)

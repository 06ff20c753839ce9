"""Invitations: a tenant admin invites an address, its owner accepts by mail.

The admin never chooses the password and never learns whether the address has an
account elsewhere: the answer, the audit event and the invitation listed are the same
either way; only the mail, which only the address's owner reads, says which case it
was. The user exists, verified, once the owner accepts with the mailed token.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, BackgroundTasks
from sqlalchemy import delete, select

from control_plane.api.access import PUBLIC, TenantAdmin
from control_plane.api.deps import InfoDep, ServicesDep, UowDep
from control_plane.auth import require_active
from control_plane.handlers import utcnow
from control_plane.mail import send_after_answer
from control_plane.models import Invitation, Tenant, User, new_id
from control_plane.schemas import InvitationAccept, InvitationAccepted, InvitationCreate, InvitationPublic
from control_plane.tokens import INVITE, new_token, token_hash
from granary_core.errors import AlreadyExists, InvalidInput

router = APIRouter(prefix="/v1", tags=["tenant"])


@router.post("/users", status_code=202, response_model=InvitationPublic)
def invite_user(
    body: InvitationCreate,
    scope: TenantAdmin,
    uow: UowDep,
    services: ServicesDep,
    info: InfoDep,
    tasks: BackgroundTasks,
) -> InvitationPublic:
    """Mail the address a one-time token to join the tenant; a new invitation of the same
    address replaces the earlier one. Only a user of this very tenant is refused (409)."""
    settings = services.settings
    throttle = services.throttle("invitations", settings.invite_limits)
    throttle.check(body.email, scope.caller.tenant_id)
    tenant = scope.tenant()
    existing = uow.session.scalar(select(User).where(User.email == body.email))
    if existing is not None and existing.tenant_id == tenant.id:
        raise AlreadyExists(f"'{body.email}' is already a user of tenant '{tenant.name}'")
    throttle.hit(body.email, scope.caller.tenant_id)
    token, hashed = new_token(INVITE)
    expires_at = utcnow() + dt.timedelta(seconds=settings.invitation_ttl_seconds)
    # the address's earlier invitation to this tenant is void; the tenant's expired ones go too
    earlier = (Invitation.email == body.email) | (Invitation.expires_at <= utcnow())
    uow.session.execute(delete(Invitation).where(Invitation.tenant_id == tenant.id, earlier))
    uow.session.add(
        Invitation(
            token_hash=hashed,
            tenant_id=tenant.id,
            email=body.email,
            is_tenant_admin=body.is_tenant_admin,
            invited_by=scope.caller.user_id,
            expires_at=expires_at,
        )
    )
    uow.audit(info.by(scope.caller, "user.invite", body.email, 202, is_tenant_admin=body.is_tenant_admin))
    uow.commit()
    if existing is not None:
        text = (
            f"{scope.caller.email} invited this address to the Granary tenant '{tenant.name}'.\n"
            "This address already has a Granary account, and an address has one account only,\n"
            "so the invitation cannot be accepted. Nothing needs doing.\n"
        )
    else:
        days = settings.invitation_ttl_seconds // 86400
        text = (
            f"{scope.caller.email} invited you to the Granary tenant '{tenant.name}'.\n\n"
            f"Your invitation token (valid {days} days):\n\n    {token}\n\n"
            f"Accept it and choose your password with:\n\n"
            f"    granary accept-invitation --token {token}\n\n"
            "If you do not know the sender, nothing needs doing: no account exists until you accept.\n"
        )
    send_after_answer(tasks, services.mailer, body.email, f"Join '{tenant.name}' on Granary", text)
    return InvitationPublic(email=body.email, tenant=tenant.name, expires_at=expires_at)


@router.get("/invitations", response_model=list[InvitationPublic])
def list_invitations(scope: TenantAdmin) -> list[InvitationPublic]:
    """Invitations of the tenant not yet accepted nor expired."""
    rows = scope.session.scalars(
        select(Invitation)
        .where(Invitation.tenant_id == scope.caller.tenant_id, Invitation.expires_at > utcnow())
        .order_by(Invitation.email)
    )
    return [
        InvitationPublic(email=i.email, tenant=scope.caller.tenant_name, expires_at=i.expires_at)
        for i in rows
    ]


@router.post("/invitations/accept", response_model=InvitationAccepted, dependencies=[PUBLIC])
def accept_invitation(
    body: InvitationAccept, uow: UowDep, services: ServicesDep, info: InfoDep
) -> InvitationAccepted:
    """Become a user of the inviting tenant, with the password chosen here."""
    password_hash = services.passwords.hash(body.password)  # policy first
    record = uow.session.get(Invitation, token_hash(body.token), with_for_update=True)
    if record is None or record.expires_at <= utcnow():
        raise InvalidInput("invitation token is unknown, used, replaced or expired; ask for a new invitation")
    if uow.session.scalar(select(User.id).where(User.email == record.email)):
        raise AlreadyExists(f"'{record.email}' already has an account: an address has one account only")
    tenant = uow.session.get(Tenant, record.tenant_id)
    assert tenant is not None
    require_active(tenant)
    user = User(
        id=new_id("u"),
        tenant_id=tenant.id,
        email=record.email,
        password_hash=password_hash,
        verified_at=utcnow(),
        is_tenant_admin=record.is_tenant_admin,
    )
    uow.session.add(user)
    uow.session.delete(record)
    uow.audit(
        info.event(
            actor=f"user:{user.id}",
            action="user.create",
            tenant_id=tenant.id,
            target=user.email,
            status=200,
            detail={"invited_by": record.invited_by, "is_tenant_admin": record.is_tenant_admin},
        )
    )
    uow.commit()
    return InvitationAccepted(email=user.email, tenant=tenant.name)

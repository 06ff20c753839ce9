"""Serverless sandbox: sign up, verify the address, log in for an API key, reset a
forgotten password. Signing up again with an unverified address mails a new token."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from fastapi import APIRouter
from sqlalchemy import select

from control_plane.api.deps import InfoDep, ServicesDep, UowDep
from control_plane.handlers import issue_key, utcnow
from control_plane.models import ApiKey, EmailVerification, PasswordReset, Tenant, User, new_id
from control_plane.schemas import (
    LoginCreate,
    LoginPublic,
    PasswordResetConfirm,
    PasswordResetCreate,
    PasswordResetDone,
    PasswordResetRequested,
    SignupCreate,
    SignupPublic,
    VerifyCreate,
    VerifyPublic,
)
from control_plane.throttle import LoginThrottle
from granary.errors import InvalidInput, PermissionDenied, TenantSuspended, Unauthenticated
from tenancy.plans import free_plan

router = APIRouter(prefix="/v1", tags=["signup"])


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@router.post("/signup", status_code=202, response_model=SignupPublic)
def signup(body: SignupCreate, uow: UowDep, services: ServicesDep, info: InfoDep) -> SignupPublic:
    """Create a sandbox tenant on the free plan and mail a verification token.

    The answer is the same whether or not the address is already registered, so it
    cannot be used to find out who has an account; the mail says which case it was.
    """
    settings = services.settings
    password_hash = services.passwords.hash(body.password)  # policy first: nothing is created for a bad one
    user = uow.session.scalar(select(User).where(User.email == body.email).with_for_update())
    if user is not None and user.verified_at is not None:
        uow.audit(
            info.event(
                actor="anonymous",
                action="signup.existing",
                tenant_id=user.tenant_id,
                target=body.email,
                status=202,
            )
        )
        uow.after_commit(
            lambda: services.mailer.send(
                body.email,
                "Your Granary account",
                "Someone (maybe you) tried to sign up with this address, which already has an account.\n"
                "Log in with `granary login` instead. If it was not you, nothing needs doing.\n",
            )
        )
        uow.commit()
        return SignupPublic(email=body.email)
    if user is None:
        tenant = Tenant(
            id=new_id("t"),
            name=f"sandbox-{secrets.token_hex(4)}",
            kind="sandbox",
            status="active",
            plan=free_plan(settings.sandbox_region).model_dump(),
        )
        user = User(id=new_id("u"), tenant_id=tenant.id, email=body.email, is_tenant_admin=True)
        uow.session.add(tenant)
        uow.session.flush()  # no ORM relationships: parents are flushed first
        uow.session.add(user)
        uow.session.flush()
    user.password_hash = password_hash
    token = secrets.token_urlsafe(32)
    uow.session.add(
        EmailVerification(
            token_hash=_token_hash(token),
            user_id=user.id,
            expires_at=utcnow() + dt.timedelta(seconds=settings.verification_ttl_seconds),
        )
    )
    uow.audit(
        info.event(
            actor=f"user:{user.id}", action="signup", tenant_id=user.tenant_id, target=body.email, status=202
        )
    )
    hours = settings.verification_ttl_seconds // 3600
    uow.after_commit(
        lambda: services.mailer.send(
            body.email,
            "Verify your Granary sandbox",
            f"Welcome to Granary.\n\nYour verification token (valid {hours} h):\n\n    {token}\n\n"
            f"Verify with:\n\n    granary verify {token}\n\nor\n\n"
            f"    curl -X POST {settings.public_url}/v1/verify -H 'content-type: application/json' "
            f'-d \'{{"token": "{token}"}}\'\n',
        )
    )
    uow.commit()
    return SignupPublic(email=body.email)


@router.post("/verify", response_model=VerifyPublic)
def verify(body: VerifyCreate, uow: UowDep, info: InfoDep) -> VerifyPublic:
    record = uow.session.get(EmailVerification, _token_hash(body.token), with_for_update=True)
    now = utcnow()
    if record is None or record.used_at is not None or record.expires_at <= now:
        raise InvalidInput(
            "verification token is unknown, already used or expired; sign up again for a new one"
        )
    user = uow.session.get(User, record.user_id)
    assert user is not None
    tenant = uow.session.get(Tenant, user.tenant_id)
    assert tenant is not None
    record.used_at = now
    user.verified_at = user.verified_at or now
    uow.audit(
        info.event(actor=f"user:{user.id}", action="signup.verify", tenant_id=tenant.id, target=user.email)
    )
    uow.commit()
    return VerifyPublic(email=user.email, tenant=tenant.name)


@router.post("/login", response_model=LoginPublic)
def login(body: LoginCreate, uow: UowDep, services: ServicesDep, info: InfoDep) -> LoginPublic:
    """Email and password for a new unrestricted API key (scope ``*``), shown once.

    After ``login_max_failures`` wrong passwords for one address from one client IP
    within ``login_window_seconds``, further attempts get 429 until the window ends,
    even with the right password.
    """
    throttle = LoginThrottle(services.redis, services.settings)
    throttle.check(body.email, info.client_ip)
    user = uow.session.scalar(select(User).where(User.email == body.email))
    if not services.passwords.verify(user.password_hash if user else None, body.password):
        throttle.failed(body.email, info.client_ip)
        raise Unauthenticated("email or password is wrong")
    assert user is not None
    if user.verified_at is None:
        raise PermissionDenied(f"email '{user.email}' is not verified yet: use the token mailed to it")
    tenant = uow.session.get(Tenant, user.tenant_id)
    assert tenant is not None
    if tenant.status != "active":
        raise TenantSuspended(f"tenant '{tenant.name}' is suspended")
    throttle.succeeded(body.email, info.client_ip)
    created = issue_key(uow.session, tenant=tenant, user_id=user.id, project=None, scopes=["*"], name="login")
    uow.audit(
        info.event(
            actor=f"user:{user.id}",
            action="login",
            tenant_id=tenant.id,
            target=user.email,
            key_id=created.key_id,
        )
    )
    uow.commit()
    return LoginPublic(email=user.email, **created.model_dump())


RESET_TTL = dt.timedelta(hours=1)


@router.post("/password-reset", status_code=202, response_model=PasswordResetRequested)
def request_password_reset(
    body: PasswordResetCreate, uow: UowDep, services: ServicesDep, info: InfoDep
) -> PasswordResetRequested:
    """Mail a one-hour reset token to a verified address.

    The answer is the same for unknown addresses, so it reveals no account; requests per
    (address, client IP) are throttled like failed logins, so it cannot flood a mailbox.
    """
    throttle = LoginThrottle(services.redis, services.settings, kind="reset")
    throttle.check(body.email, info.client_ip)
    throttle.failed(body.email, info.client_ip)
    user = uow.session.scalar(select(User).where(User.email == body.email))
    if user is None or user.verified_at is None:
        return PasswordResetRequested(email=body.email)
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + RESET_TTL
    uow.session.add(PasswordReset(token_hash=_token_hash(token), user_id=user.id, expires_at=expires_at))
    uow.audit(
        info.event(
            actor="anonymous",
            action="password.reset_request",
            tenant_id=user.tenant_id,
            target=body.email,
            status=202,
        )
    )
    uow.after_commit(
        lambda: services.mailer.send(
            body.email,
            "Reset your Granary password",
            "Someone (maybe you) asked to reset the password of this account.\n\n"
            f"Your reset token (valid 1 h):\n\n    {token}\n\n"
            f"Choose a new password with:\n\n    granary password-reset --token {token}\n\n"
            "If it was not you, nothing needs doing: the password is unchanged.\n",
        )
    )
    uow.commit()
    return PasswordResetRequested(email=body.email)


@router.post("/password-reset/confirm", response_model=PasswordResetDone)
def confirm_password_reset(
    body: PasswordResetConfirm, uow: UowDep, services: ServicesDep, info: InfoDep
) -> PasswordResetDone:
    """Set the new password and revoke the keys earlier logins issued (a leaked password
    may have minted them); keys created by name for projects and notebooks stay."""
    password_hash = services.passwords.hash(body.password)  # policy first
    record = uow.session.get(PasswordReset, _token_hash(body.token), with_for_update=True)
    now = utcnow()
    if record is None or record.used_at is not None or record.expires_at <= now:
        raise InvalidInput("reset token is unknown, already used or expired; ask for a new one")
    user = uow.session.get(User, record.user_id)
    assert user is not None
    record.used_at = now
    user.password_hash = password_hash
    login_keys = uow.session.scalars(
        select(ApiKey).where(ApiKey.user_id == user.id, ApiKey.name == "login", ApiKey.revoked_at.is_(None))
    ).all()
    for key in login_keys:
        key.revoked_at = now
    uow.audit(
        info.event(
            actor=f"user:{user.id}",
            action="password.reset",
            tenant_id=user.tenant_id,
            target=user.email,
            detail={"revoked_login_keys": len(login_keys)},
        )
    )
    uow.commit()
    return PasswordResetDone(email=user.email, revoked_login_keys=len(login_keys))

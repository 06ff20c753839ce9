"""Serverless sandbox: sign up, verify the address, log in for an API key, reset a
forgotten password.

Nothing but a pending sign-up exists until the address's owner verifies it with the
mailed token and the password chosen at that sign-up: no tenant, no user, nothing to
log in to. Mail goes out after the answer, and every answer is the same whether or
not the address has an account.
"""

from __future__ import annotations

import datetime as dt
import secrets

from fastapi import APIRouter, BackgroundTasks
from sqlalchemy import delete, select

from control_plane.api.access import PUBLIC
from control_plane.api.deps import InfoDep, ServicesDep, UowDep
from control_plane.auth import require_active
from control_plane.handlers import issue_key, utcnow
from control_plane.mail import send_after_answer
from control_plane.models import ApiKey, PasswordReset, PendingSignup, Tenant, User, new_id
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
from control_plane.tokens import RESET, VERIFY, new_token, token_hash
from granary_core.errors import AlreadyExists, InvalidInput, Unauthenticated
from tenancy.plans import free_plan

router = APIRouter(prefix="/v1", tags=["signup"], dependencies=[PUBLIC])

WRONG_LOGIN = "email or password is wrong (a new sandbox logs in once its address is verified)"


@router.post("/signup", status_code=202, response_model=SignupPublic)
def signup(
    body: SignupCreate, uow: UowDep, services: ServicesDep, info: InfoDep, tasks: BackgroundTasks
) -> SignupPublic:
    """Mail a verification token for a new sandbox on the free plan.

    The answer is the same whether or not the address is already registered, so it
    cannot be used to find out who has an account; the mail says which case it was.
    A new sign-up of the same address replaces the earlier pending one and its token.
    """
    settings = services.settings
    throttle = services.throttle("sign-ups", settings.signup_limits)
    throttle.check(body.email, info.client_ip)
    password_hash = services.passwords.hash(body.password)  # policy first: nothing is kept for a bad one
    throttle.hit(body.email, info.client_ip)
    user = uow.session.scalar(select(User).where(User.email == body.email))
    if user is not None:
        uow.audit(
            info.event(
                actor="anonymous",
                action="signup.existing",
                tenant_id=user.tenant_id,
                target=body.email,
                status=202,
            )
        )
        uow.commit()
        send_after_answer(
            tasks,
            services.mailer,
            body.email,
            "Your Granary account",
            "Someone (maybe you) tried to sign up with this address, which already has an account.\n"
            "Log in with `granary login` instead. If it was not you, nothing needs doing.\n",
        )
        return SignupPublic(email=body.email)
    token, hashed = new_token(VERIFY)
    # the address's earlier sign-ups are void; anyone's expired ones go too
    stale = (PendingSignup.email == body.email) | (PendingSignup.expires_at <= utcnow())
    uow.session.execute(delete(PendingSignup).where(stale))
    uow.session.add(
        PendingSignup(
            token_hash=hashed,
            email=body.email,
            password_hash=password_hash,
            expires_at=utcnow() + dt.timedelta(seconds=settings.verification_ttl_seconds),
        )
    )
    uow.audit(info.event(actor="anonymous", action="signup", tenant_id=None, target=body.email, status=202))
    uow.commit()
    hours = settings.verification_ttl_seconds // 3600
    send_after_answer(
        tasks,
        services.mailer,
        body.email,
        "Verify your Granary sandbox",
        f"Welcome to Granary.\n\nYour verification token (valid {hours} h):\n\n    {token}\n\n"
        "Verify with the password you chose when signing up:\n\n"
        f"    granary verify --token {token}\n\n"
        "or\n\n"
        f"    curl -X POST {settings.public_url}/v1/verify \\\n"
        "      -H 'content-type: application/json' \\\n"
        f'      -d \'{{"token": "{token}", "password": "..."}}\'\n\n'
        "If you did not sign up, nothing needs doing: without that password the token is useless.\n",
    )
    return SignupPublic(email=body.email)


@router.post("/verify", response_model=VerifyPublic)
def verify(body: VerifyCreate, uow: UowDep, services: ServicesDep, info: InfoDep) -> VerifyPublic:
    """Create the sandbox tenant and its admin from a pending sign-up.

    Needs the mailed token (the address is the caller's) and the password given at
    that sign-up (the sign-up is the caller's): a token mailed for someone else's
    sign-up of one's address is refused.
    """
    record = uow.session.get(PendingSignup, token_hash(body.token), with_for_update=True)
    if record is None or record.expires_at <= utcnow():
        raise InvalidInput(
            "verification token is unknown, expired or replaced by a later sign-up of the address; "
            "sign up again for a new one"
        )
    if not services.passwords.verify(record.password_hash, body.password):
        raise InvalidInput(
            "password: not the one given at the sign-up that mailed this token; "
            "sign up again with the password you want"
        )
    if uow.session.scalar(select(User.id).where(User.email == record.email)):
        raise AlreadyExists(f"'{record.email}' already has an account: log in with `granary login`")
    tenant = Tenant(
        id=new_id("t"),
        name=f"sandbox-{secrets.token_hex(4)}",
        kind="sandbox",
        status="active",
        plan=free_plan(services.settings.sandbox_region).model_dump(),
    )
    user = User(
        id=new_id("u"),
        tenant_id=tenant.id,
        email=record.email,
        password_hash=record.password_hash,
        verified_at=utcnow(),
        is_tenant_admin=True,
    )
    uow.session.add(tenant)
    uow.session.flush()  # no ORM relationships: parents are flushed first
    uow.session.add(user)
    uow.session.execute(delete(PendingSignup).where(PendingSignup.email == record.email))
    uow.audit(
        info.event(actor=f"user:{user.id}", action="signup.verify", tenant_id=tenant.id, target=user.email)
    )
    uow.commit()
    return VerifyPublic(email=user.email, tenant=tenant.name)


@router.post("/login", response_model=LoginPublic)
def login(body: LoginCreate, uow: UowDep, services: ServicesDep, info: InfoDep) -> LoginPublic:
    """Email and password for a new unrestricted API key (scope ``*``), shown once.

    Failed logins are counted per address, per client address and overall
    (``login_limits``); at a limit every attempt gets 429 until the window ends, even
    with the right password.
    """
    throttle = services.throttle("failed logins", services.settings.login_limits)
    throttle.check(body.email, info.client_ip)
    user = uow.session.scalar(select(User).where(User.email == body.email))
    if not services.passwords.verify(user.password_hash if user else None, body.password):
        throttle.hit(body.email, info.client_ip)
        raise Unauthenticated(WRONG_LOGIN)
    assert user is not None
    tenant = uow.session.get(Tenant, user.tenant_id)
    assert tenant is not None
    require_active(tenant)
    throttle.forgive(body.email, info.client_ip)
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


@router.post("/password-reset", status_code=202, response_model=PasswordResetRequested)
def request_password_reset(
    body: PasswordResetCreate, uow: UowDep, services: ServicesDep, info: InfoDep, tasks: BackgroundTasks
) -> PasswordResetRequested:
    """Mail a reset token to an account's address; a new request replaces earlier tokens.

    Unknown addresses get the same answer, as fast (the mail leaves after the answer
    and both cases write one audit event), so it reveals no account; requests are
    throttled (``reset_limits``), so it cannot flood a mailbox.
    """
    settings = services.settings
    throttle = services.throttle("reset requests", settings.reset_limits)
    throttle.check(body.email, info.client_ip)
    throttle.hit(body.email, info.client_ip)
    user = uow.session.scalar(select(User).where(User.email == body.email))
    uow.audit(
        info.event(
            actor="anonymous",
            action="password.reset_request",
            tenant_id=user.tenant_id if user else None,
            target=body.email,
            status=202,
        )
    )
    if user is None:
        uow.commit()
        return PasswordResetRequested(email=body.email)
    token, hashed = new_token(RESET)
    ttl = dt.timedelta(seconds=settings.reset_ttl_seconds)
    uow.session.execute(delete(PasswordReset).where(PasswordReset.user_id == user.id))
    uow.session.add(PasswordReset(token_hash=hashed, user_id=user.id, expires_at=utcnow() + ttl))
    uow.commit()
    minutes = settings.reset_ttl_seconds // 60
    send_after_answer(
        tasks,
        services.mailer,
        body.email,
        "Reset your Granary password",
        "Someone (maybe you) asked to reset the password of this account.\n\n"
        f"Your reset token (valid {minutes} min):\n\n    {token}\n\n"
        f"Choose a new password with:\n\n    granary password-reset --token {token}\n\n"
        "It revokes every API key of the account.\n"
        "If it was not you, nothing needs doing: the password is unchanged.\n",
    )
    return PasswordResetRequested(email=body.email)


@router.post("/password-reset/confirm", response_model=PasswordResetDone)
def confirm_password_reset(
    body: PasswordResetConfirm, uow: UowDep, services: ServicesDep, info: InfoDep
) -> PasswordResetDone:
    """Set the new password and revoke every API key of the account: whoever knew the
    old password may have made keys with it, by logging in or by name."""
    password_hash = services.passwords.hash(body.password)  # policy first
    record = uow.session.get(PasswordReset, token_hash(body.token), with_for_update=True)
    now = utcnow()
    if record is None or record.used_at is not None or record.expires_at <= now:
        raise InvalidInput("reset token is unknown, already used, replaced or expired; ask for a new one")
    user = uow.session.get(User, record.user_id)
    assert user is not None
    record.used_at = now
    user.password_hash = password_hash
    keys = uow.session.scalars(
        select(ApiKey).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
    ).all()
    for key in keys:
        key.revoked_at = now
    uow.audit(
        info.event(
            actor=f"user:{user.id}",
            action="password.reset",
            tenant_id=user.tenant_id,
            target=user.email,
            detail={"revoked_keys": len(keys)},
        )
    )
    uow.commit()
    return PasswordResetDone(email=user.email, revoked_keys=len(keys))

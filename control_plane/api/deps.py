"""Dependencies of the routes, as ``Annotated`` aliases."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated

import redis
from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session, sessionmaker

from control_plane import access_events
from control_plane.auth import Caller, authenticate_key, bearer
from control_plane.mail import Mailer
from control_plane.models import AuditEvent
from control_plane.outbox import Dispatcher
from control_plane.regions import Regions
from control_plane.repository import TenantScope
from control_plane.settings import ControlPlaneSettings, Limits
from control_plane.throttle import Throttle
from control_plane.uow import UnitOfWork
from tenancy.passwords import Passwords
from tenancy.quotas import RateLimiter


@dataclass
class Services:
    """Everything the routes share, built once by ``create_app``."""

    settings: ControlPlaneSettings
    sessions: sessionmaker[Session]
    redis: redis.Redis
    limiter: RateLimiter
    regions: Regions
    mailer: Mailer
    passwords: Passwords
    #: Delivers the region work that project changes promised (see ``control_plane.outbox``).
    dispatcher: Dispatcher
    #: Seconds since the epoch; tests pass their own to step through throttle windows.
    clock: Callable[[], float] = field(default=time.time)

    def throttle(self, what: str, limits: Limits) -> Throttle:
        return Throttle(self.redis, f"{self.settings.redis_prefix}:throttle", what, limits, self.clock)

    def access_changed(self, tenant_id: str | None) -> None:
        access_events.publish(self.redis, self.settings.redis_prefix, tenant_id)


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_uow(services: ServicesDep) -> Iterator[UnitOfWork]:
    with UnitOfWork(services.sessions, services.access_changed, services.dispatcher) as uow:
        yield uow


UowDep = Annotated[UnitOfWork, Depends(get_uow)]

AuthHeader = Annotated[str | None, Header(alias="Authorization", include_in_schema=False)]


def get_caller(request: Request, services: ServicesDep, authorization: AuthHeader = None) -> Caller:
    with services.sessions() as session:
        caller = authenticate_key(session, bearer(authorization))
    request.state.caller = caller
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


def get_scope(caller: CallerDep, uow: UowDep) -> TenantScope:
    return TenantScope(uow.session, caller)


ScopeDep = Annotated[TenantScope, Depends(get_scope)]


@dataclass(frozen=True)
class RequestInfo:
    method: str
    path: str
    client_ip: str

    def event(
        self,
        *,
        actor: str,
        action: str,
        tenant_id: str | None,
        target: str = "",
        status: int = 200,
        key_id: str | None = None,
        detail: dict | None = None,
    ) -> AuditEvent:
        return AuditEvent(
            tenant_id=tenant_id,
            actor=actor,
            key_id=key_id,
            action=action,
            target=target,
            method=self.method,
            path=self.path[:512],
            status=status,
            client_ip=self.client_ip,
            detail=detail or {},
        )

    def by(self, caller: Caller, action: str, target: str = "", status: int = 200, **detail) -> AuditEvent:
        return self.event(
            actor=caller.actor,
            key_id=caller.key_id,
            action=action,
            tenant_id=caller.tenant_id,
            target=target,
            status=status,
            detail=detail,
        )


def client_ip(request: Request) -> str:
    """The client's address: the peer's, unless the peer is one of ``trusted_proxies``
    (then uvicorn's ProxyHeadersMiddleware, installed by ``create_app``, has put the
    address that proxy saw here). The server itself must not rewrite it: see
    ``control_plane.__main__.server_config``."""
    return request.client.host if request.client else ""


def get_request_info(request: Request) -> RequestInfo:
    return RequestInfo(request.method, request.url.path, client_ip(request))


InfoDep = Annotated[RequestInfo, Depends(get_request_info)]

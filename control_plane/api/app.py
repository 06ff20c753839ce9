"""``create_app(settings)``: the control plane's FastAPI application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

import redis
from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import sessionmaker
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from control_plane.api.access import PUBLIC
from control_plane.api.deps import Services, client_ip
from control_plane.api.routers import (
    admin_audit,
    internal,
    invitations,
    keys,
    projects,
    region_admin,
    signup,
    tenant,
    tenants,
)
from control_plane.db import open_database
from control_plane.mail import Mailer, SmtpMailer
from control_plane.models import AuditEvent
from control_plane.outbox import Dispatcher
from control_plane.regions import Regions
from control_plane.settings import ControlPlaneSettings
from tenancy import http_errors
from tenancy.health import probe
from tenancy.metrics import MetricsMiddleware, metrics_response
from tenancy.passwords import Passwords
from tenancy.quotas import RateLimiter

log = logging.getLogger(__name__)

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def create_app(
    settings: ControlPlaneSettings,
    *,
    regions: Regions | None = None,
    mailer: Mailer | None = None,
    migrate: bool = True,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """Build the service. Connections open here; nothing happens at import time.

    Args:
        settings: built by the entrypoint (or a test) and passed down.
        regions: region clients; default built from ``settings.regions``.
        mailer: outgoing mail; default SMTP to ``settings.smtp_host:smtp_port``.
        migrate: bring the database schema to head first.
        clock: seconds since the epoch, for throttle windows and the outbox's retry
            schedule (tests step their own).
    """
    engine = open_database(settings.database_url, migrate=migrate)
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
    sessions = sessionmaker(engine, expire_on_commit=False)
    regions = regions or Regions.from_settings(settings.regions)
    dispatcher = Dispatcher(
        sessions,
        regions,
        clock=clock,
        max_attempts=settings.outbox_max_attempts,
        backoff_seconds=settings.outbox_backoff_seconds,
        max_backoff_seconds=settings.outbox_max_backoff_seconds,
        fence_retry_seconds=settings.outbox_fence_retry_seconds,
    )
    services = Services(
        settings=settings,
        sessions=sessions,
        redis=client,
        limiter=RateLimiter(client, prefix=f"{settings.redis_prefix}:rl"),
        regions=regions,
        dispatcher=dispatcher,
        passwords=Passwords(
            settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
        ),
        mailer=mailer
        or SmtpMailer(
            settings.smtp_host, settings.smtp_port, settings.mail_from, settings.smtp_timeout_seconds
        ),
        clock=clock,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        delivering = asyncio.create_task(dispatcher.run(settings.outbox_poll_seconds))
        yield
        delivering.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await delivering
        services.regions.close()
        client.close()
        engine.dispose()

    app = FastAPI(
        title="Granary control plane",
        version="1",
        lifespan=lifespan,
        responses={
            400: {"description": "invalid input"},
            401: {"description": "missing or unknown API key"},
            403: {"description": "not allowed, tenant suspended or quota exceeded"},
            404: {"description": "not found (or another tenant's)"},
            429: {"description": "rate limit exceeded"},
        },
    )
    app.state.services = services
    for module in (signup, tenants, region_admin, admin_audit, tenant, invitations, projects, keys, internal):
        app.include_router(module.router)

    @app.get("/healthz", tags=["health"], dependencies=[PUBLIC])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers (the same path as the data plane's)."""
        return {"status": "ok"}

    @app.get("/health", tags=["health"], dependencies=[PUBLIC])
    def health(response: Response) -> dict[str, Any]:
        """Each dependency's state; 503 when any is down (the same shape as the data plane's)."""
        checks = {
            "postgres": lambda: _select_one(services.sessions),
            "redis": client.ping,
        }
        dependencies = {name: probe(check) for name, check in checks.items()}
        healthy = all(d["status"] == "up" for d in dependencies.values())
        response.status_code = 200 if healthy else 503
        return {"status": "ok" if healthy else "degraded", "dependencies": dependencies}

    @app.get("/metrics", tags=["health"], dependencies=[PUBLIC], include_in_schema=False)
    def metrics() -> Response:
        """Request latency by route (Prometheus text; the same series as the data plane's)."""
        return metrics_response()

    http_errors.install(app)  # the same {code, message} bodies as the data plane's

    @app.exception_handler(IntegrityError)
    async def conflict(_request: Request, exc: IntegrityError) -> JSONResponse:
        # two concurrent requests raced for one unique name; anything else is a bug
        if getattr(exc.orig, "sqlstate", None) != "23505":
            raise exc
        return JSONResponse(
            {
                "code": "already_exists",
                "message": f"conflicting concurrent change: {exc.orig}".splitlines()[0],
            },
            status_code=409,
        )

    @app.exception_handler(OperationalError)
    async def db_down(_request: Request, exc: OperationalError) -> JSONResponse:
        return JSONResponse(
            {"code": "backend_unavailable", "message": "control plane database is unavailable"},
            status_code=503,
        )

    @app.middleware("http")
    async def audit_refusals(request: Request, call_next):
        """Record mutating calls answered with an error: successes are audited by their handler."""
        response = await call_next(request)
        if request.method in MUTATING and response.status_code >= 400:
            caller = getattr(request.state, "caller", None)
            event = AuditEvent(
                tenant_id=caller.tenant_id if caller else None,
                actor=caller.actor if caller else getattr(request.state, "actor", "anonymous"),
                key_id=caller.key_id if caller else None,
                action="http.refused" if response.status_code < 500 else "http.failed",
                target="",
                method=request.method,
                path=request.url.path[:512],
                status=response.status_code,
                client_ip=client_ip(request),
                detail={},
            )
            try:
                await run_in_threadpool(_append, services.sessions, event)
            except Exception:  # the caller already has its answer; never hide the failure
                log.exception("could not append audit event for %s %s", request.method, request.url.path)
        return response

    # Outermost, so every reader of the client address (``deps.client_ip``) sees one answer.
    # Empty ``trusted_proxies``: X-Forwarded-For is ignored, whoever sends it.
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app


def _select_one(sessions: sessionmaker) -> None:
    with sessions() as session:
        session.execute(text("SELECT 1"))


def _append(sessions: sessionmaker, event: AuditEvent) -> None:
    with sessions() as session, session.begin():
        session.add(event)

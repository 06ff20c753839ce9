"""``POST .../deployments/{name}/predict`` passed to the predictor in plain ASGI.

A predict is a proxy hop: check the key, find the deployment's process, send it the
body, send its answer back. Through FastAPI that hop cost more than the predictor's own
work (bench/deploy_predict.py: ~4 ms of ~8 ms at p50, batch 1): route matching and
dependency resolution, the body validated into ``PredictRequest`` and dumped again, the
predictor's answer parsed and encoded again. :class:`FastPredictMiddleware` answers a
*usual* request itself: a path the route would accept, ``Content-Type:
application/json``, and a body that is a JSON object of exactly one of ``instances`` or
``inputs`` (not null), for a deployment running as a process of this region. It runs the
route's checks (the caller authenticated for the project, holding
``deployment:predict``), sends the body's bytes as they came, and returns the
predictor's bytes and status as they came.

Anything else (another body shape, a deployment that is not running, a Kubernetes
region) goes on, body and all, to the FastAPI route, which stays the reference: it
documents the endpoint in OpenAPI and writes every 422 and 503 with its message.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from data_plane.api.asgi_bodies import read_body, replay
from data_plane.api.deps import bearer_credentials
from granary_core.errors import BackendUnavailable, GranaryError
from tenancy import roles
from tenancy.http_errors import granary_error_response

# What the route's path parameters accept (``deps.PROJECT_PATTERN``, ``DeploymentName``).
_PREDICT_PATH = re.compile(
    r"/api/v1/projects/(?P<project>[A-Za-z0-9_.\-]{1,128})/deployments/(?P<name>[^/]{1,256})/predict"
)
_SHAPES = ({"instances"}, {"inputs"})


class FastPredictMiddleware:
    """Passes usual predict requests to the predictor; everything else to ``app``.

    Sits inside the metrics and body-limit middlewares (so both still apply) and sets
    ``scope["route"]`` to the FastAPI route, so metrics label it as before.
    """

    def __init__(self, app: Any, route: APIRoute) -> None:
        self.app = app
        self.route = route
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = _predict_path(scope)
        region = scope["app"].state.region if path else None
        if path is None or region.kubernetes is not None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if request.headers.get("content-type") != "application/json":
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        try:
            body = await read_body(receive)
        except GranaryError as exc:  # over the size limit, counted as it streamed: 413
            await granary_error_response(exc)(scope, receive, send)
            return
        if body is None:  # the client went away: nobody to answer
            return
        if not _usual(body):
            await self.app(scope, replay(body, receive), send)
            return
        project, name = path
        try:
            caller = region.auth.authenticate(_key(await bearer_credentials(request)), project, None)
            caller.require(roles.DEPLOYMENT_PREDICT)
        except GranaryError as exc:
            await granary_error_response(exc)(scope, receive, send)
            return
        endpoint = region.deployments.endpoint((caller.project, name))
        if endpoint is None:  # not running: the route says so, with its state (same checks again)
            await self.app(scope, replay(body, receive), send)
            return
        try:
            answer = await self._http().post(
                f"{endpoint}/predict", content=body, headers={"content-type": "application/json"}
            )
            response = Response(answer.content, answer.status_code, media_type="application/json")
        except httpx.TransportError as exc:
            failure = BackendUnavailable(f"deployment '{name}' did not answer: {type(exc).__name__}")
            response = granary_error_response(failure)
        await response(scope, receive, send)

    def _http(self) -> httpx.AsyncClient:
        """One client per app, made on the event loop that uses it."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=60)
        return self._client


def _key(credentials: Any) -> str | None:
    return credentials.credentials if credentials else None


def _predict_path(scope: dict) -> tuple[str, str] | None:
    """(project, deployment name) of a predict POST the route would accept."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    match = _PREDICT_PATH.fullmatch(scope["path"])
    return None if match is None else (match["project"], match["name"])


def _usual(body: bytes) -> bool:
    """Whether the route would pass the body on as it is: an object of exactly one of
    ``instances`` or ``inputs``, not null (the route drops other fields and nulls)."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return False
    return type(parsed) is dict and set(parsed) in _SHAPES and next(iter(parsed.values())) is not None

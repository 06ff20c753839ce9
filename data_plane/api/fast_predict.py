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

import httpx
from starlette.requests import Request
from starlette.responses import Response

from data_plane.api.deps import api_key, bearer_credentials
from data_plane.api.fast_path import PROJECT, FastPath
from granary_core.errors import BackendUnavailable, GranaryError
from tenancy import roles
from tenancy.http_errors import granary_error_response

# What the route's path parameters accept (``deps.PROJECT_PATTERN``, ``DeploymentName``).
_PREDICT_PATH = re.compile(rf"/api/v1/projects/{PROJECT}/deployments/(?P<name>[^/]{{1,256}})/predict")
_SHAPES = ({"instances"}, {"inputs"})


class FastPredictMiddleware(FastPath):
    """Passes usual predict requests to the predictor; everything else to ``app``."""

    _client: httpx.AsyncClient | None = None

    def match(self, scope: dict) -> tuple[str, str] | None:
        """(project, deployment name) of a predict POST, in a region running deployments as
        processes of its own."""
        match = _PREDICT_PATH.fullmatch(scope["path"])
        if match is None or scope["app"].state.region.kubernetes is not None:
            return None
        return match["project"], match["name"]

    def usual(self, body: bytes) -> bool | None:
        """True when the route would pass the body on as it is: an object of exactly one
        of ``instances`` or ``inputs``, not null (the route drops other fields and nulls)."""
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):
            return None
        shaped = type(parsed) is dict and set(parsed) in _SHAPES and next(iter(parsed.values())) is not None
        return True if shaped else None

    async def answer(
        self, request: Request, matched: tuple[str, str], usual: bool, body: bytes
    ) -> Response | None:
        project, name = matched
        region = request.app.state.region
        try:
            caller = region.auth.authenticate(api_key(await bearer_credentials(request)), project, None)
            caller.require(roles.DEPLOYMENT_PREDICT)
        except GranaryError as exc:
            return granary_error_response(exc)
        endpoint = region.deployments.endpoint((caller.project, name))
        if endpoint is None:  # not running: the route says so, with its state (same checks again)
            return None
        try:
            answer = await self._http().post(
                f"{endpoint}/predict", content=body, headers={"content-type": "application/json"}
            )
        except httpx.TransportError as exc:
            failure = BackendUnavailable(f"deployment '{name}' did not answer: {type(exc).__name__}")
            return granary_error_response(failure)
        return Response(answer.content, answer.status_code, media_type="application/json")

    def _http(self) -> httpx.AsyncClient:
        """One client per app, made on the event loop that uses it."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=60)
        return self._client

"""``POST .../vectors`` answered in plain ASGI, for the requests clients normally send.

FastAPI's per-request work (route matching, dependency resolution, body validation)
costs ~0.35 ms here even trimmed, twice the online read it wraps, and on this route
that is the latency budget (p99 <= 3 ms at batch 1). :class:`FastVectorsMiddleware`
answers a *usual* request itself: a path FastAPI would accept, ``Content-Type:
application/json`` and a body of the plain shape (an object with ``entries``, a list
of objects, and at most a boolean ``allow_missing``), with the route's own checks
(``deps.read_access``) and the route's own response (``routers.serving.vectors_response``).
Batch-1 JSON over HTTP goes from ~1.2 to ~0.7 ms at p50 (bench/dataplane_online.py's client).

Any other request goes on, body and all, to the FastAPI route, which stays the
reference: it documents the endpoint in OpenAPI and writes every 422. So a request
gets the same answer either way; this path only skips the framework's per-request work.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request

from data_plane.api.asgi_bodies import read_body, replay
from data_plane.api.deps import bearer_credentials, read_access
from data_plane.api.routers.serving import MAX_ENTRIES, vectors_response
from granary_core.errors import GranaryError
from granary_core.wire import ARROW_STREAM
from tenancy.http_errors import granary_error_response

# What FastAPI's path parameters accept (``deps.PROJECT_PATTERN``, ``Name``, ``Version``),
# or less: a path this does not match goes to the route, which says what is wrong.
_VECTORS_PATH = re.compile(
    r"/api/v1/projects/(?P<project>[A-Za-z0-9_.\-]{1,128})/feature-views/(?P<name>[^/]{1,256})"
    r"/versions/(?P<version>[1-9][0-9]{0,9})/vectors"
)
_MAX_VERSION = 2**31 - 1


class FastVectorsMiddleware:
    """Answers usual vectors requests; passes everything else to ``app`` unchanged.

    Sits inside the metrics and body-limit middlewares (so both still apply) and sets
    ``scope["route"]`` to the FastAPI route, so metrics label it as before.
    """

    def __init__(self, app: Any, route: APIRoute) -> None:
        self.app = app
        self.route = route

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = _vectors_path(scope)
        if path is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)  # for its headers, read as the route reads them
        if request.headers.get("content-type") != "application/json":
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route  # for the metrics' route label, as FastAPI sets it
        try:
            body = await read_body(receive)
        except GranaryError as exc:  # over the size limit, counted as it streamed: 413
            await granary_error_response(exc)(scope, receive, send)
            return
        if body is None:  # the client went away: nobody to answer
            return
        usual = _usual(body)
        if usual is None:
            await self.app(scope, replay(body, receive), send)
            return
        project, name, version = path
        entries, allow_missing = usual
        try:
            access = read_access(scope["app"].state.region, await bearer_credentials(request), project)
            arrow = ARROW_STREAM in request.headers.get("accept", "")
            response = vectors_response(access, name, version, entries, allow_missing, arrow)
        except GranaryError as exc:
            response = granary_error_response(exc)
        await response(scope, receive, send)


def _vectors_path(scope: dict) -> tuple[str, str, int] | None:
    """(project, feature view name, version) of a vectors POST the route would accept."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    match = _VECTORS_PATH.fullmatch(scope["path"])
    if match is None or int(match["version"]) > _MAX_VERSION:
        return None
    return match["project"], match["name"], int(match["version"])


def _usual(body: bytes) -> tuple[list[dict[str, Any]], bool] | None:
    """(entries, allow_missing) when ``VectorsRequest`` would take the body as it is,
    else None. Parsed with ``json.loads``, as the route parses it: orjson is faster but
    reads some texts otherwise (integers over 64 bits become floats)."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8/16/32, nested too deep
        return None
    if type(parsed) is not dict or not parsed.keys() <= {"entries", "allow_missing"}:
        return None
    entries = parsed.get("entries")
    allow_missing = parsed.get("allow_missing", False)
    if type(entries) is not list or len(entries) > MAX_ENTRIES or type(allow_missing) is not bool:
        return None
    if not all(type(entry) is dict for entry in entries):
        return None
    return entries, allow_missing

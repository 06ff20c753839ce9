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

from starlette.requests import Request
from starlette.responses import Response

from data_plane.api.deps import bearer_credentials, read_access
from data_plane.api.fast_path import PROJECT, FastPath
from data_plane.api.routers.serving import MAX_ENTRIES, vectors_response
from granary_core.errors import GranaryError
from granary_core.wire import ARROW_STREAM
from tenancy.http_errors import granary_error_response

# What FastAPI's path parameters accept (``deps.PROJECT_PATTERN``, ``Name``, ``Version``),
# or less: a path this does not match goes to the route, which says what is wrong.
_VECTORS_PATH = re.compile(
    rf"/api/v1/projects/{PROJECT}/feature-views/(?P<name>[^/]{{1,256}})"
    r"/versions/(?P<version>[1-9][0-9]{0,9})/vectors"
)
_MAX_VERSION = 2**31 - 1


class FastVectorsMiddleware(FastPath):
    """Answers usual vectors requests; passes everything else to ``app`` unchanged."""

    def match(self, scope: dict) -> tuple[str, str, int] | None:
        """(project, feature view name, version) of a vectors POST the route would accept."""
        match = _VECTORS_PATH.fullmatch(scope["path"])
        if match is None or int(match["version"]) > _MAX_VERSION:
            return None
        return match["project"], match["name"], int(match["version"])

    def usual(self, body: bytes) -> tuple[list[dict[str, Any]], bool] | None:
        return _usual(body)

    async def answer(
        self,
        request: Request,
        matched: tuple[str, str, int],
        usual: tuple[list[dict[str, Any]], bool],
        body: bytes,
    ) -> Response:
        project, name, version = matched
        entries, allow_missing = usual
        try:
            access = read_access(request.app.state.region, await bearer_credentials(request), project)
            arrow = ARROW_STREAM in request.headers.get("accept", "")
            return vectors_response(access, name, version, entries, allow_missing, arrow)
        except GranaryError as exc:
            return granary_error_response(exc)


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

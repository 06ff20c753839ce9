"""Plain-ASGI paths for the usual requests of a latency-bound FastAPI route.

FastAPI's per-request work (route matching, dependency resolution, body validation)
costs more than what some routes do (:mod:`data_plane.api.fast_vectors`,
:mod:`data_plane.api.fast_predict`). A :class:`FastPath` answers the requests its route
would take as they are: a path it matches, ``Content-Type: application/json`` and a body
of the plain shape. Anything else goes on, body and all, to the route, which stays the
reference: it documents the endpoint in OpenAPI and writes every 422. So a request gets
the same answer either way; a fast path only skips the framework's work.
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from granary_core.errors import GranaryError
from tenancy.http_errors import granary_error_response

#: ``deps.PROJECT_PATTERN`` inside a path.
PROJECT = r"(?P<project>[A-Za-z0-9_.\-]{1,128})"


class FastPath:
    """The skeleton of a fast path: subclasses say which requests are theirs and answer.

    Sits inside the metrics and body-limit middlewares (so both still apply) and sets
    ``scope["route"]`` to the FastAPI route, so metrics label it as before.
    """

    def __init__(self, app: Any, route: APIRoute) -> None:
        self.app = app
        self.route = route

    def match(self, scope: dict) -> Any | None:
        """The path's parameters when this path may answer the POST (None: the route)."""
        raise NotImplementedError

    def usual(self, body: bytes) -> Any | None:
        """The body as the route would take it as it is (None: the route)."""
        raise NotImplementedError

    async def answer(self, request: Request, matched: Any, usual: Any, body: bytes) -> Response | None:
        """The response (None: the route answers, the body handed to it again)."""
        raise NotImplementedError

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        post = scope["type"] == "http" and scope["method"] == "POST"
        matched = self.match(scope) if post else None
        if matched is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)  # for its headers, read as the route reads them
        if request.headers.get("content-type") != "application/json":
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route  # for the metrics' route label, as FastAPI sets it
        try:
            body = await _read_body(receive)
        except GranaryError as exc:  # over the size limit, counted as it streamed: 413
            await granary_error_response(exc)(scope, receive, send)
            return
        if body is None:  # the client went away: nobody to answer
            return
        usual = self.usual(body)
        response = None if usual is None else await self.answer(request, matched, usual, body)
        if response is None:
            await self.app(scope, _replay(body, receive), send)
            return
        await response(scope, receive, send)


async def _read_body(receive: Any) -> bytes | None:
    """The whole body (the body-limit middleware counts it), or None on disconnect."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Any:
    """``receive`` with the body already read handed out again first."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> dict:
        return pending.pop() if pending else await receive()

    return replayed

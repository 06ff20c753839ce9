"""ASGI middleware: request body limit, the caller's routing epoch and internal errors
(latency metrics: ``tenancy.metrics``).

Written as plain ASGI (not ``BaseHTTPMiddleware``) so streaming bodies are counted as
they arrive and nothing is buffered twice.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from data_plane import routing
from granary_core.errors import PayloadTooLarge

log = logging.getLogger("granary.api")


class BodyLimitMiddleware:
    """413 for bodies over ``limit`` bytes, whether Content-Length says so or not."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _error(send, 413, "payload_too_large", self._message(int(declared)))
            return
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise PayloadTooLarge(self._message(seen))
            return message

        await self.app(scope, counted, send)

    def _message(self, size: int) -> str:
        return f"request body of {size} bytes is over this service's limit of {self.limit} bytes"


def _content_length(scope: dict) -> bytes | None:
    """The Content-Length header (the last one, as ``dict(headers)`` would pick), found
    without building a dict of every header on every request."""
    found = None
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            found = value
    return found


async def _error(send: Any, status: int, code: str, message: str) -> None:
    body = json.dumps({"code": code, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RoutingEpochMiddleware:
    """Serves each request under the routing epoch its ``X-Granary-Epoch`` header names
    (:mod:`data_plane.routing`), so every write route checks it without taking it as a
    parameter; 400 for a header that is not a non-negative integer."""

    _header = routing.EPOCH_HEADER.encode()

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        raw = None
        if scope["type"] == "http":
            for name, value in scope.get("headers") or ():
                if name == self._header:
                    raw = value
        if raw is None:
            await self.app(scope, receive, send)
            return
        if not raw.isdigit() or len(raw) > 18:
            message = f"header {routing.EPOCH_HEADER}: {raw[:40].decode(errors='replace')!r} is not an epoch"
            await _error(send, 400, "invalid_input", message + " (a non-negative integer)")
            return
        with routing.request_epoch(int(raw)):
            await self.app(scope, receive, send)


class InternalErrorMiddleware:
    """Any exception no handler took becomes 500 ``internal_error``, logged with its
    traceback; its text is not sent.

    Answered here rather than by an ``exception_handler(Exception)``: Starlette runs those
    in its outermost middleware, which re-raises after answering, and uvicorn then closes
    the connection under a keep-alive client without a ``Connection: close``, so the
    client's next request on it fails. Caught here, the connection stays usable. An error
    after the response began cannot be answered; it propagates and the server closes the
    connection, the only signal left.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if started:
                raise
            await _error(send, 500, "internal_error", "internal error; the service logged the details")

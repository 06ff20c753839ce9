"""The error handlers of both planes' REST APIs: every error leaves as ``{code, message}``
(quota errors add ``quota``, ``limit`` and ``current``), so one client parser serves both.

``GranaryError`` carries its own status (429s say when to come back: ``Retry-After``).
Request validation becomes 422 ``invalid_input`` with the failing fields named; unknown
paths and methods are JSON too. Anything else is a bug: the data plane answers 500
``internal_error`` from its ``InternalErrorMiddleware``, which keeps the connection usable.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from granary_core.errors import GranaryError


def _body(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def granary_error_response(exc: GranaryError) -> JSONResponse:
    """The response of a ``GranaryError``: the handler's, and the vectors fast path's."""
    # quota errors add the quota, its limit and the current use to {code, message}
    retry_after = getattr(exc, "retry_after", None)  # a throttle's window end, in seconds
    if retry_after is None and exc.status == 429:
        retry_after = 1
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)


def install(app: FastAPI) -> None:
    """Answer ``GranaryError``, request validation and routing errors as JSON."""

    @app.exception_handler(GranaryError)
    async def granary_error(_request: Request, exc: GranaryError) -> JSONResponse:
        return granary_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for error in exc.errors()[:10]:
            where = ".".join(str(p) for p in error.get("loc", ()))
            parts.append(f"{where}: {error.get('msg', 'invalid')}")
        return _body(422, "invalid_input", "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}.get(
            exc.status_code, "http_error"
        )
        return _body(exc.status_code, code, str(exc.detail))

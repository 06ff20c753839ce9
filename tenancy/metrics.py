"""Request metrics of both planes' REST APIs, served on ``GET /metrics`` (Prometheus text).

One histogram for every service, labelled by route template, so a dashboard reads the
control plane and the data planes alike.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest

log = logging.getLogger("granary.api")

REQUEST_LATENCY = Histogram(
    "granary_http_request_duration_seconds",
    "REST request latency by route template and status",
    ["method", "route", "status"],
    buckets=(0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def metrics_response() -> Response:
    """This process's metrics, as ``GET /metrics`` answers them."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Observe latency per route template (not per URL: names would explode the series)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        # (method, route, status) -> its histogram child: ``labels()`` takes a lock and
        # builds a key on every call (~3 us). This holds no more than the histogram does.
        self._children: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self._histogram(scope["method"], route, status).observe(elapsed)
            if status >= 500 or log.isEnabledFor(logging.DEBUG):
                log.log(
                    logging.ERROR if status >= 500 else logging.DEBUG,
                    "request",
                    extra={
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "ms": round(elapsed * 1000, 3),
                    },
                )

    def _histogram(self, method: str, route: str, status: int) -> Any:
        key = (method, route, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = REQUEST_LATENCY.labels(method, route, str(status))
        return child

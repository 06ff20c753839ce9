"""``create_app(settings)``: the REST API of one region's data plane."""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from data_plane.api.fast_predict import FastPredictMiddleware
from data_plane.api.fast_vectors import FastVectorsMiddleware
from data_plane.api.middleware import BodyLimitMiddleware, InternalErrorMiddleware, RoutingEpochMiddleware
from data_plane.api.routers import (
    admin,
    deployments,
    feature_groups,
    feature_views,
    health,
    models,
    queries,
    serving,
    training_datasets,
)
from data_plane.api.schemas import ErrorBody
from data_plane.deployment_runner import restore
from data_plane.region import Region
from data_plane.settings import DataPlaneSettings
from tenancy import http_errors
from tenancy.metrics import MetricsMiddleware

API_PREFIX = "/api/v1"

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in [
        (400, "invalid input, named in the message"),
        (401, "missing or unknown API key"),
        (403, "the key's project is not this project"),
        (404, "no such object"),
        (409, "already exists, or in use by another object (named)"),
        (413, "request body over the limit"),
        (422, "malformed request"),
    ]
}


def create_app(settings: DataPlaneSettings, region: Region | None = None) -> FastAPI:
    """Build the app; ``region`` may be given (tests share one), else it connects at
    startup, so building the app (e.g. to write its OpenAPI spec) needs no services."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        owned = region is None
        app.state.region = region or Region(settings)
        # this process supervises the region's deployments: run again those marked to run
        threading.Thread(target=restore, args=(app.state.region,), name="restore", daemon=True).start()
        yield
        if owned:
            app.state.region.close()

    app = FastAPI(
        title="Granary data plane",
        version="1",
        description="Feature store metadata, writes and online feature vectors of one region. "
        "Bulk reads go through the region's Arrow Flight server (see /api/v1/whoami).",
        lifespan=lifespan,
    )
    app.state.region = region
    app.state.settings = settings
    http_errors.install(app)
    # Serving first: routes are matched in order, and vectors are the latency-bound route.
    # Each router is included straight into the app (no /api/v1 router around them):
    # FastAPI matches every level of included routers twice per request.
    for module in (serving, feature_groups, feature_views, training_datasets, queries, models, deployments):
        app.include_router(module.router, prefix=API_PREFIX, responses=_ERRORS)
    app.include_router(health.router)
    app.include_router(admin.router, responses={k: _ERRORS[k] for k in (401, 409, 422)})
    # Innermost first: the fast paths run inside the body limit and the metrics.
    app.add_middleware(FastVectorsMiddleware, route=serving.vectors_route())
    app.add_middleware(FastPredictMiddleware, route=deployments.predict_route())
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(RoutingEpochMiddleware)
    app.add_middleware(InternalErrorMiddleware)
    app.add_middleware(MetricsMiddleware)
    return app

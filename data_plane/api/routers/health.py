"""Liveness per dependency, and who the caller is."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from data_plane import heartbeat
from data_plane.api.deps import RegionDep, WhoAmIDep
from data_plane.api.schemas import WhoAmI
from tenancy.health import probe
from tenancy.metrics import metrics_response

router = APIRouter(tags=["operations"])


@router.get("/health")
def health(region: RegionDep, response: Response) -> dict[str, Any]:
    """Each dependency's state; 503 when any is down, so a load balancer stops routing.
    ``region_id`` says which region answered."""
    checks = {
        "postgres": region.check_metadata,
        "kafka": region.ingest.check,
        "s3": region.check_object_store,
    }
    if region.online is not None and region.online_kind is not None:
        checks[region.online_kind] = region.online.ping  # named by its type: "redis", "sqlite"
    dependencies = {name: probe(check) for name, check in checks.items()}
    healthy = all(d["status"] == "up" for d in dependencies.values())
    response.status_code = 200 if healthy else 503
    status = "ok" if healthy else "degraded"
    return {"status": status, "region_id": region.settings.region_id, "dependencies": dependencies}


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers, whatever its dependencies (the control plane answers
    the same two paths)."""
    return {"status": "ok"}


@router.get("/metrics", include_in_schema=False)
def metrics(region: RegionDep) -> Response:
    """This process's metrics and the region's catalog lag behind each other region."""
    response = metrics_response()
    lag = heartbeat.lag_metrics(region.metadata, region.settings.region_id)
    response.body += lag.encode()
    response.headers["content-length"] = str(len(response.body))
    return response


@router.get("/api/v1/whoami", response_model=WhoAmI)
def whoami(principal: WhoAmIDep, region: RegionDep) -> Any:
    """The key's project: the one named with ``?project=``, else the one it is bound to."""
    flight_uri = region.settings.flight_uri
    return {"project": principal.project, "key_id": principal.key_id, "flight_uri": flight_uri}

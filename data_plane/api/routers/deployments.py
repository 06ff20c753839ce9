"""Model deployments: create, start, stop, state, logs, delete, and predict.

``POST .../deployments/{name}/predict`` is how every caller reaches a running
deployment: the key must hold ``deployment:predict`` on the project, and the request
is then passed to the deployment's own process on loopback. Its latency is in the
request metrics (``GET /metrics``, route template ``.../predict``). Usual requests take
the plain-ASGI path of :mod:`data_plane.api.fast_predict`; this route is the reference.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from data_plane.api.deps import CallerDep, DeploymentReader, DeploymentWriter, RegionDep
from data_plane.api.schemas import DeploymentCreate, DeploymentPublic, PredictionsPublic, PredictRequest
from data_plane.deployment_runner import DeploymentRunner
from granary_core.errors import BackendUnavailable, InvalidInput
from granary_core.wire import to_jsonable
from tenancy import roles

router = APIRouter(prefix="/projects/{project}/deployments", tags=["deployments"])

DeploymentName = Annotated[str, Path(max_length=256)]


@router.post("", status_code=201, response_model=DeploymentPublic)
def create_deployment(body: DeploymentCreate, deployments: DeploymentWriter) -> Any:
    with deployments.engine.catalog.writing():
        return to_jsonable(deployments.create(**body.model_dump()))


@router.get("", response_model=list[DeploymentPublic])
def list_deployments(deployments: DeploymentReader) -> Any:
    return to_jsonable([deployments.info(r) for r in deployments.catalog.list()])


@router.get("/{name}", response_model=DeploymentPublic)
def get_deployment(name: DeploymentName, deployments: DeploymentReader) -> Any:
    return to_jsonable(deployments.info(deployments.catalog.get(name)))


@router.post("/{name}/start", response_model=DeploymentPublic)
def start_deployment(name: DeploymentName, deployments: DeploymentWriter, caller: CallerDep) -> Any:
    """Start its process (403 ``quota_exceeded`` past the plan's ``model_deployments``);
    the state is ``STARTING`` until the predictor is built and answers."""
    with deployments.engine.catalog.writing():
        return to_jsonable(deployments.start(name, caller))


@router.post("/{name}/stop", response_model=DeploymentPublic)
def stop_deployment(name: DeploymentName, deployments: DeploymentWriter) -> Any:
    return to_jsonable(deployments.stop(name))


@router.get("/{name}/logs", response_model=str)
def deployment_logs(
    name: DeploymentName, deployments: DeploymentReader, tail: Annotated[int, Query(ge=1, le=10_000)] = 200
) -> Any:
    """The last ``tail`` lines its processes wrote (every restart appends), or, on
    Kubernetes, each of its pods."""
    return deployments.logs(name, tail)


@router.delete("/{name}", status_code=204)
def delete_deployment(name: DeploymentName, deployments: DeploymentWriter) -> Response:
    deployments.delete(name)
    return Response(status_code=204)


def predict_route() -> APIRoute:
    """The predict route, for the fast path to label its requests with (metrics)."""
    return next(r for r in router.routes if isinstance(r, APIRoute) and r.endpoint is predict)


def _client(request: Request) -> httpx.AsyncClient:
    client = getattr(request.app.state, "predict_client", None)
    if client is None:
        client = request.app.state.predict_client = httpx.AsyncClient(timeout=60)
    return client


@router.post("/{name}/predict", response_model=PredictionsPublic)
async def predict(
    name: DeploymentName, body: PredictRequest, request: Request, caller: CallerDep, region: RegionDep
) -> Any:
    """Answer with the predictor's ``{"predictions": ...}``; send ``instances`` or ``inputs``."""
    caller.require(roles.DEPLOYMENT_PREDICT)
    runner = DeploymentRunner(region, region.engine(caller.project))
    if region.kubernetes is None:
        endpoint = region.deployments.endpoint((caller.project, name))
    else:
        endpoint = await run_in_threadpool(runner.endpoint, name)
    if endpoint is None:
        info = await run_in_threadpool(lambda: runner.info(runner.catalog.get(name)))
        raise BackendUnavailable(
            f"deployment '{info.name}' of project '{caller.project}' is not running (state {info.state})"
            + (": start it first" if info.state == "STOPPED" else ": try again shortly")
        )
    payload = body.model_dump(exclude_none=True)
    if len(payload) != 1:
        raise InvalidInput(f"deployment '{name}': send a JSON object with 'instances' or 'inputs'")
    try:
        answer = await _client(request).post(f"{endpoint}/predict", json=payload)
    except httpx.TransportError as exc:
        raise BackendUnavailable(f"deployment '{name}' did not answer: {type(exc).__name__}") from exc
    return JSONResponse(answer.json(), status_code=answer.status_code)

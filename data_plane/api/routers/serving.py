"""Online feature vectors of a feature view, read from the region's online store.

``POST .../vectors`` answers JSON (one object per entry) by default, or an Arrow IPC
stream when the request says ``Accept: application/vnd.apache.arrow.stream`` (what the
SDK asks for: types survive, and there is no per-row encoding on either side).
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl
import pyarrow as pa
from fastapi import APIRouter, Request, Response
from pydantic import Field

from data_plane.api.deps import CallerDep, Name, ProjectEngine, RegionDep, Version
from data_plane.api.schemas import Strict
from granary.wire import ARROW_STREAM, table_to_ipc, to_jsonable

router = APIRouter(prefix="/projects/{project}/feature-views/{name}/versions/{version}", tags=["serving"])


class VectorsRequest(Strict):
    entries: list[dict[str, Any]] = Field(max_length=100_000)
    allow_missing: bool = False


@router.post("/serving")
def init_serving(name: Name, version: Version, engine: ProjectEngine, region: RegionDep) -> dict[str, Any]:
    """Prepare (and describe) the serving plan: keys asked for, features returned."""
    return to_jsonable(region.serving(engine).init_serving(name, version))


@router.post(
    "/vectors",
    responses={200: {"content": {ARROW_STREAM: {}, "application/json": {}}}},
)
async def get_feature_vectors(
    name: Name,
    version: Version,
    body: VectorsRequest,
    request: Request,
    engine: ProjectEngine,
    caller: CallerDep,
    region: RegionDep,
) -> Response:
    """The vectors, one per entry, in entry order.

    ``async`` on purpose: one pipelined online-store round trip is cheaper than the
    thread-pool hop a sync endpoint costs, and latency is this endpoint's whole job.
    """
    region.quotas.online_reads(caller, len(body.entries))
    table = region.serving(engine).get_feature_vectors(name, version, body.entries, body.allow_missing)
    if ARROW_STREAM in request.headers.get("accept", ""):
        return Response(table_to_ipc(table), media_type=ARROW_STREAM)
    return Response(_json(table), media_type="application/json")


def _json(table: pa.Table) -> bytes:
    """``{"vectors": [{feature: value}, ...]}``, encoded by polars (Rust), not per row in Python."""
    try:
        rows = pl.from_arrow(table).write_json()
    except Exception:  # a type polars cannot encode: the slow, general path
        rows = json.dumps(to_jsonable(table.to_pylist()), default=str)
    return b'{"vectors":' + rows.encode() + b"}"

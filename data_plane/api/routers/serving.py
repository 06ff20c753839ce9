"""Online feature vectors of a feature view, read from the region's online store.

``POST .../vectors`` answers JSON (one object per entry) by default, or an Arrow IPC
stream when the request says ``Accept: application/vnd.apache.arrow.stream`` (what the
SDK asks for: types survive, and there is no per-row encoding on either side).

JSON for a few entries is encoded from Python rows with orjson: building Arrow arrays
and a polars frame costs ~1 ms per request whatever the row count, more than the lookup
itself. Larger batches go Arrow -> polars, which encodes in Rust. Both give the same
JSON text (timestamps as polars writes them).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import orjson
import polars as pl
import pyarrow as pa
from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from pydantic import Field

from data_plane.api.deps import Name, ProjectAccess, ProjectEngine, ProjectReader, RegionDep, Version
from data_plane.api.schemas import Strict
from granary_core.wire import ARROW_STREAM, table_to_ipc, to_jsonable

router = APIRouter(prefix="/projects/{project}/feature-views/{name}/versions/{version}", tags=["serving"])


MAX_ENTRIES = 100_000  # per request


class VectorsRequest(Strict):
    entries: list[dict[str, Any]] = Field(max_length=MAX_ENTRIES)
    allow_missing: bool = False


@router.post("/serving")
def init_serving(name: Name, version: Version, engine: ProjectEngine, region: RegionDep) -> dict[str, Any]:
    """Prepare (and describe) the serving plan: keys asked for, features returned."""
    return to_jsonable(region.serving(engine).init_serving(name, version))


# Most requests never reach this route: ``data_plane.api.fast_vectors`` answers the usual
# ones before FastAPI does, through ``vectors_response`` too. This route documents the
# endpoint and answers everything else (it writes every validation error).
@router.post(
    "/vectors",
    responses={200: {"content": {ARROW_STREAM: {}, "application/json": {}}}},
)
async def get_feature_vectors(
    name: Name,
    version: Version,
    body: VectorsRequest,
    request: Request,
    reader: ProjectReader,
) -> Response:
    """The vectors, one per entry, in entry order.

    ``async`` on purpose: one pipelined online-store round trip is cheaper than the
    thread-pool hop a sync endpoint costs, and latency is this endpoint's whole job.
    """
    arrow = ARROW_STREAM in request.headers.get("accept", "")
    return vectors_response(reader, name, version, body.entries, body.allow_missing, arrow)


def vectors_route() -> APIRoute:
    """The vectors route, for the fast path to label its requests with (metrics)."""
    return next(r for r in router.routes if isinstance(r, APIRoute) and r.endpoint is get_feature_vectors)


def vectors_response(
    access: ProjectAccess,
    name: str,
    version: int,
    entries: list[dict[str, Any]],
    allow_missing: bool,
    arrow: bool,
) -> Response:
    """The vectors of ``entries`` as Arrow IPC (``arrow``) or JSON, once the rate quota allows."""
    access.region.quotas.online_reads(access.caller, len(entries))
    server = access.region.serving(access.engine)
    if not arrow and len(entries) <= FEW_ROWS:
        encode = _row_encoder(server.plan(name, version).schema)
        if encode is not None:
            rows = server.get_feature_vector_rows(name, version, entries, allow_missing)
            return Response(encode(rows), media_type="application/json")
    table = server.get_feature_vectors(name, version, entries, allow_missing)
    if arrow:
        return Response(table_to_ipc(table), media_type=ARROW_STREAM)
    return Response(_json(table), media_type="application/json")


FEW_ROWS = 16  # up to this many entries, JSON is encoded from Python rows
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "+00:00", "Z"})


def _timestamp_text(value: Any) -> Any:
    """A UTC datetime as polars writes it: seconds, then .fff or .ffffff only if needed."""
    if not isinstance(value, dt.datetime):
        return value
    value = value.astimezone(dt.UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    micro = value.microsecond
    if micro:
        text += f".{micro // 1000:03d}" if micro % 1000 == 0 else f".{micro:06d}"
    return text + "+00:00"


Encoder = Callable[[list[list[Any]]], bytes]
_ENCODERS: dict[int, tuple[pa.Schema, Encoder | None]] = {}


def _row_encoder(schema: pa.Schema) -> Encoder | None:
    """``_make_row_encoder(schema)``, kept per schema *object*: a serving plan keeps its
    schema, and hashing a ``pa.Schema`` (what ``lru_cache`` would do) walks every field,
    ~27 us for 30 features, more than encoding the row. The schema is held with its
    encoder, so its id is not reused while cached."""
    cached = _ENCODERS.get(id(schema))
    if cached is None or cached[0] is not schema:
        if len(_ENCODERS) >= 256:  # plans are few; dropped ones leave their schemas here
            _ENCODERS.clear()
        cached = _ENCODERS[id(schema)] = (schema, _make_row_encoder(schema))
    return cached[1]


def _make_row_encoder(schema: pa.Schema) -> Encoder | None:
    """An encoder of rows of ``schema`` to ``{"vectors": [...]}``, or None when a column's
    type is one only the polars path encodes exactly (nested, binary, decimal, naive or
    non-UTC timestamps, nanoseconds)."""
    names = schema.names
    timestamps = []
    for i, field in enumerate(schema):
        typ = field.type
        if pa.types.is_timestamp(typ):
            if typ.tz not in _UTC_NAMES or typ.unit == "ns":
                return None
            timestamps.append(i)
        elif not (
            pa.types.is_integer(typ)
            or pa.types.is_floating(typ)
            or pa.types.is_boolean(typ)
            or pa.types.is_string(typ)
            or pa.types.is_large_string(typ)
            or pa.types.is_date32(typ)
        ):
            return None

    def encode(rows: list[list[Any]]) -> bytes:
        vectors = []
        for row in rows:
            for i in timestamps:
                if row[i] is not None:
                    row[i] = _timestamp_text(row[i])
            vectors.append(dict(zip(names, row, strict=True)))
        return orjson.dumps({"vectors": vectors})  # NaN and infinities become null, as in polars

    return encode


def _json(table: pa.Table) -> bytes:
    """``{"vectors": [{feature: value}, ...]}``, encoded by polars (Rust), not per row in Python."""
    try:
        rows = pl.from_arrow(table).write_json()
    except Exception:  # a type polars cannot encode: the slow, general path
        rows = json.dumps(to_jsonable(table.to_pylist()), default=str)
    return b'{"vectors":' + rows.encode() + b"}"

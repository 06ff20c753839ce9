"""The model registry: model versions (catalog metadata) and their artifact files (S3).

Saving is ``POST /models`` with the manifest (path, size, SHA-256 of every file), then
one ``PUT .../files/{path}`` per file with its bytes as the body; a file whose size or
checksum differs from the manifest is refused (422 ``checksum_mismatch``) and not stored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from data_plane.api.deps import ModelReader, ModelWriter, Name, Version
from data_plane.api.schemas import ModelCreate, ModelPublic
from granary_core.wire import to_jsonable

router = APIRouter(prefix="/projects/{project}/models", tags=["models"])

_OCTETS = "application/octet-stream"
_FILE_BODY = {
    "requestBody": {
        "required": True,
        "content": {_OCTETS: {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post("", status_code=201, response_model=ModelPublic)
def create_model(body: ModelCreate, registry: ModelWriter) -> Any:
    """Record a model version and its manifest; ``version`` null takes the next one."""
    fields = body.model_dump()
    with registry.catalog.writing():
        return to_jsonable(registry.create(**fields))


@router.get("", response_model=list[ModelPublic])
def list_models(
    registry: ModelReader,
    name: Annotated[str | None, Query(max_length=256)] = None,
    feature_view: Annotated[str | None, Query(max_length=256)] = None,
    feature_view_version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Any:
    """Model versions, by name or by the feature view (version) they were trained on."""
    return to_jsonable(registry.list(name, feature_view, feature_view_version))


@router.get("/{name}", response_model=ModelPublic)
def get_model(
    name: Name, registry: ModelReader, version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None
) -> Any:
    return to_jsonable(registry.get(name, version))


@router.delete("/{name}/versions/{version}", status_code=204)
def delete_model(name: Name, version: Version, registry: ModelWriter) -> Response:
    with registry.catalog.writing():
        registry.delete(name, version)
    return Response(status_code=204)


@router.put(
    "/{name}/versions/{version}/files/{path:path}", response_model=ModelPublic, openapi_extra=_FILE_BODY
)
async def put_model_file(
    name: Name, version: Version, path: str, request: Request, registry: ModelWriter
) -> Any:
    """Store one artifact of the manifest (its bytes are the body)."""
    data = await request.body()

    def put() -> Any:
        with registry.catalog.writing():
            return to_jsonable(registry.put_file(name, version, path, data))

    return await run_in_threadpool(put)


@router.get(
    "/{name}/versions/{version}/files/{path:path}",
    response_class=Response,
    responses={200: {"content": {_OCTETS: {"schema": {"type": "string", "format": "binary"}}}}},
)
def get_model_file(name: Name, version: Version, path: str, registry: ModelReader) -> Response:
    return Response(content=registry.read_file(name, version, path), media_type=_OCTETS)

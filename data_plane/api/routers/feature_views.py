"""Feature views: a stored query plus labels."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from data_plane.api.deps import BodyBytes, LimitsDep, Name, ProjectEngine, RegionDep, Version, ViewWriter
from data_plane.api.schemas import ColumnPublic, FeatureViewCreate, FeatureViewPublic
from data_plane.limits import check_query
from granary_core.wire import to_jsonable

router = APIRouter(prefix="/projects/{project}/feature-views", tags=["feature views"])


@router.post("", status_code=201, response_model=FeatureViewPublic)
def create_feature_view(
    body: FeatureViewCreate, engine: ViewWriter, limits: LimitsDep, body_bytes: BodyBytes
) -> Any:
    check_query(body.query, body_bytes, limits)
    with engine.catalog.writing():
        return to_jsonable(engine.create_feature_view(**body.model_dump()))


@router.get("", response_model=list[FeatureViewPublic])
def list_feature_views(
    engine: ProjectEngine, name: Annotated[str | None, Query(max_length=256)] = None
) -> Any:
    return to_jsonable(engine.catalog.list_views(name))


@router.get("/{name}", response_model=FeatureViewPublic)
def get_feature_view(
    name: Name, engine: ProjectEngine, version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None
) -> Any:
    return to_jsonable(engine.catalog.get_view(name, version))


@router.delete("/{name}/versions/{version}", status_code=204)
def delete_feature_view(name: Name, version: Version, engine: ViewWriter, region: RegionDep) -> Response:
    engine.catalog.delete_view(name, version)
    region.forget_serving(engine, name, version)
    return Response(status_code=204)


@router.get("/{name}/versions/{version}/schema", response_model=list[ColumnPublic])
def feature_view_schema(name: Name, version: Version, engine: ProjectEngine) -> Any:
    """(name, DuckDB type) of every column the view's query returns."""
    view = engine.catalog.get_view(name, version)
    return [{"name": n, "type": t} for n, t in engine.feature_view_schema(view)]

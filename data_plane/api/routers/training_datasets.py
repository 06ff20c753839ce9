"""Training datasets: splits written as files to the region's object store.

The body is JSON, or, with a spine, an Arrow IPC stream of the spine whose schema
metadata carries the same JSON under ``granary.params``. Reading the files back goes
through Arrow Flight.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from data_plane import training
from data_plane.api.bodies import arrow_body
from data_plane.api.deps import LimitsDep, Name, ProjectEngine, RegionDep, TrainingDataWriter, Version
from data_plane.api.schemas import TrainingDatasetCreate, TrainingDatasetPublic
from data_plane.deadline import Deadline
from data_plane.limits import check_joins, check_spine
from granary_core.errors import InvalidInput
from granary_core.wire import ARROW_STREAM, to_jsonable
from tenancy.plans import CostLimits

router = APIRouter(
    prefix="/projects/{project}/feature-views/{name}/versions/{version}/training-datasets",
    tags=["training datasets"],
)

_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": TrainingDatasetCreate.model_json_schema()},
            ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


async def _request(request: Request, what: str, limits: CostLimits) -> tuple[TrainingDatasetCreate, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    spine = None
    if content_type == ARROW_STREAM:
        check_spine(len(await request.body()), 0, limits, f"{what}: spine")  # before parsing
        spine, params = await arrow_body(request, f"{what}: spine")
        check_spine(spine.nbytes, spine.num_rows, limits, f"{what}: spine")
    else:
        try:
            params = await request.json()
        except ValueError as exc:
            raise InvalidInput(f"{what}: the body is not JSON") from exc
    try:
        return TrainingDatasetCreate.model_validate(params), spine
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidInput(f"{what}: {where}: {first.get('msg')}") from None


@router.post("", status_code=201, response_model=TrainingDatasetPublic, openapi_extra=_BODY)
async def create_training_dataset(
    request: Request,
    name: Name,
    version: Version,
    engine: TrainingDataWriter,
    region: RegionDep,
    limits: LimitsDep,
) -> Any:
    what = f"training dataset of feature view '{name}' v{version}"
    body, spine = await _request(request, what, limits)
    deadline = Deadline(limits.max_request_seconds, what)

    def create() -> Any:
        with deadline.active():
            view = engine.catalog.get_view(name, version)
            check_joins(view.query, limits, f"feature view '{name}' v{version}")
            if not isinstance(body.options, dict):
                raise InvalidInput("options must be an object")
            with engine.catalog.writing():
                return training.create_training_dataset(
                    engine,
                    view,
                    region.training_root(engine.catalog.project),
                    body.data_format,
                    _split_options(body.options),
                    body.start_time,
                    body.end_time,
                    spine,
                    body.description,
                    filesystem=region.filesystem,
                )

    try:
        return to_jsonable(await run_in_threadpool(create))
    finally:
        deadline.close()


def _split_options(options: dict[str, Any]) -> training.SplitOptions:
    try:
        return training.SplitOptions.from_dict(options)
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(f"split options {options!r} are malformed: {exc}") from exc


@router.get("", response_model=list[TrainingDatasetPublic])
def list_training_datasets(name: Name, version: Version, engine: ProjectEngine) -> Any:
    return to_jsonable(engine.catalog.list_training_datasets(name, version))


@router.get("/{td_version}", response_model=TrainingDatasetPublic)
def get_training_dataset(name: Name, version: Version, td_version: int, engine: ProjectEngine) -> Any:
    return to_jsonable(engine.catalog.get_training_dataset(name, version, td_version))


@router.delete("/{td_version}", status_code=204)
def delete_training_dataset(
    name: Name, version: Version, td_version: int, engine: TrainingDataWriter, region: RegionDep
) -> Response:
    """Delete a version's record and files; 409 ``in_use`` naming the models that use it."""
    with engine.catalog.writing():
        training.delete_training_dataset(engine.catalog, name, version, td_version, region.filesystem)
    return Response(status_code=204)

"""Feature groups: metadata, writes (through Kafka) and commit history.

Writes are validated here, produced to the group's topic with acks=all and, with
``wait=true`` (the default), answered once the materializer made them visible.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from data_plane.api.bodies import ARROW_BODY, arrow_body
from data_plane.api.deps import CallerDep, GroupWriter, LimitsDep, Name, ProjectEngine, RegionDep, Version
from data_plane.api.schemas import (
    CommitPublic,
    FeatureGroupCreate,
    FeatureGroupPublic,
    FeatureGroupUpdate,
    StatisticsCompute,
    WriteAccepted,
)
from data_plane.deadline import Deadline
from granary_core.frames import to_utc
from granary_core.wire import to_jsonable

router = APIRouter(prefix="/projects/{project}/feature-groups", tags=["feature groups"])


@router.post("", status_code=201, response_model=FeatureGroupPublic)
def create_feature_group(
    body: FeatureGroupCreate, engine: GroupWriter, caller: CallerDep, region: RegionDep
) -> Any:
    admit = region.quotas.new_feature_group(caller)
    with engine.catalog.writing():
        info = engine.create_feature_group(**body.model_dump(), admit=admit)
        region.ingest.topics.ensure(info.id)
    return to_jsonable(info)


@router.get("", response_model=list[FeatureGroupPublic])
def list_feature_groups(
    engine: ProjectEngine, name: Annotated[str | None, Query(max_length=256)] = None
) -> Any:
    return to_jsonable(engine.catalog.list_groups(name))


@router.get("/{name}", response_model=FeatureGroupPublic)
def get_feature_group(
    name: Name, engine: ProjectEngine, version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None
) -> Any:
    """The given version, or the latest one without ``version``."""
    return to_jsonable(engine.catalog.get_group(name, version))


@router.patch("/{name}/versions/{version}", response_model=FeatureGroupPublic)
def update_feature_group(name: Name, version: Version, body: FeatureGroupUpdate, engine: GroupWriter) -> Any:
    """Change descriptions, tags, the statistics config or the expectation suite; only the
    fields sent change (``expectation_suite: null`` sent removes the suite)."""
    with engine.catalog.writing():
        return to_jsonable(engine.update_feature_group(name, version, body.model_dump(exclude_unset=True)))


@router.get("/{name}/versions/{version}/validation-reports", response_model=list[dict[str, Any]])
def validation_reports(
    name: Name,
    version: Version,
    engine: ProjectEngine,
    limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> Any:
    """Reports of inserts validated against the group's expectation suite, newest first."""
    info = engine.catalog.get_group(name, version)
    return engine.catalog.validation_reports(info.id, limit)


@router.get("/{name}/versions/{version}/statistics", response_model=dict[str, Any] | None)
def commit_statistics(
    name: Name, version: Version, engine: ProjectEngine, commit_time: dt.datetime | None = None
) -> Any:
    """Statistics of the newest commit at or before ``commit_time`` that has them
    (the group's ``statistics_config`` enabled), or null."""
    info = engine.catalog.get_group(name, version)
    return engine.catalog.commit_statistics(info.id, to_utc(commit_time, "commit_time"))


@router.post("/{name}/versions/{version}/statistics", response_model=dict[str, Any] | None)
def compute_statistics(
    name: Name,
    version: Version,
    engine: GroupWriter,
    limits: LimitsDep,
    body: StatisticsCompute | None = None,
) -> Any:
    """Describe every row visible at the commit current at ``wallclock_time`` (default:
    the latest) and store that on the commit, replacing what its insert recorded; answers
    as the GET does, or null when no commit is visible then (no data, nothing stored).

    A scan of the group's rows, so it runs under the request's ``max_request_seconds``,
    as a training dataset does; the statistics stay in this region, with the commit."""
    body = body or StatisticsCompute()
    deadline = Deadline(limits.max_request_seconds, f"statistics of feature group '{name}' v{version}")
    try:
        with deadline.active(), engine.catalog.writing():
            return engine.compute_statistics(
                name, version, to_utc(body.wallclock_time, "wallclock_time"), body.columns
            )
    finally:
        deadline.close()


@router.delete("/{name}/versions/{version}", status_code=204)
def delete_feature_group(name: Name, version: Version, engine: GroupWriter, region: RegionDep) -> Response:
    info = engine.catalog.get_group(name, version)
    engine.delete_feature_group(name, version)
    topics = region.ingest.topics
    topics.delete_topics(topics.copies([str(info.id)]))
    return Response(status_code=204)


@router.get("/{name}/versions/{version}/commits", response_model=list[CommitPublic])
def commit_details(
    name: Name,
    version: Version,
    engine: ProjectEngine,
    limit: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> Any:
    return to_jsonable(engine.commit_details(name, version, limit))


def _write(
    region: Any, engine: Any, caller: Any, name: str, version: int, table: Any, operation: str, wait: bool
) -> dict[str, Any]:
    info = engine.catalog.get_group(name, version)
    if operation != "delete":
        region.quotas.ingestion(caller, rows=table.num_rows, nbytes=table.nbytes, online=info.online_enabled)
    receipt = region.ingest.submit(engine, info, table, operation)
    if not wait:
        return to_jsonable(receipt)
    return to_jsonable(region.ingest.wait(engine, info, receipt, region.settings.write_wait_seconds))


@router.post(
    "/{name}/versions/{version}/rows",
    response_model=CommitPublic | WriteAccepted,
    openapi_extra=ARROW_BODY,
    responses={202: {"model": WriteAccepted, "description": "acknowledged, not yet visible"}},
)
async def insert_rows(
    request: Request,
    name: Name,
    version: Version,
    engine: GroupWriter,
    caller: CallerDep,
    region: RegionDep,
    response: Response,
    overwrite: bool = False,
    wait: bool = True,
) -> Any:
    """Insert (upsert) rows sent as an Arrow IPC stream; ``overwrite`` replaces all rows.

    Answers after the broker acknowledged the rows; with ``wait`` (default) after they
    are visible offline and online, returning the commit.
    """
    table, _ = await arrow_body(request, f"insert into feature group '{name}' v{version}")
    operation = "overwrite" if overwrite else "upsert"
    result = await run_in_threadpool(_write, region, engine, caller, name, version, table, operation, wait)
    if not wait:
        response.status_code = 202
    return result


@router.post("/{name}/versions/{version}/rows/delete", response_model=CommitPublic, openapi_extra=ARROW_BODY)
async def remove_rows(
    request: Request, name: Name, version: Version, engine: GroupWriter, caller: CallerDep, region: RegionDep
) -> Any:
    """Delete the rows whose primary key and event time match a row of the Arrow body."""
    table, _ = await arrow_body(request, f"remove_rows from feature group '{name}' v{version}")
    return await run_in_threadpool(_write, region, engine, caller, name, version, table, "delete", True)


@router.post(
    "/{name}/versions/{version}/compact",
    response_model=CommitPublic | WriteAccepted,
    responses={202: {"model": WriteAccepted, "description": "queued, not yet done"}},
)
def compact(
    name: Name,
    version: Version,
    engine: GroupWriter,
    region: RegionDep,
    response: Response,
    wait: bool = True,
) -> Any:
    """Rewrite the group's offline table from many small files into few large ones.

    The rows do not change; the result is a ``compact`` commit, and every earlier commit
    stays readable (time travel). It runs in the materializer, in order with the group's
    writes; with ``wait`` (default) this answers with the commit once it is done.
    """
    info = engine.catalog.get_group(name, version)
    receipt = region.ingest.submit(engine, info, pa.table({}), "compact")
    if not wait:
        response.status_code = 202
        return to_jsonable(receipt)
    return to_jsonable(region.ingest.wait(engine, info, receipt, region.settings.write_wait_seconds))

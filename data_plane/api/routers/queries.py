"""Queries: the SQL a query description plans to (results come over Arrow Flight)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from data_plane.api.deps import BodyBytes, LimitsDep, ProjectEngine
from data_plane.api.schemas import QuerySql, SqlPublic
from data_plane.limits import check_query

router = APIRouter(prefix="/projects/{project}/queries", tags=["queries"])


@router.post("/sql", response_model=SqlPublic)
def query_sql(body: QuerySql, engine: ProjectEngine, limits: LimitsDep, body_bytes: BodyBytes) -> Any:
    check_query(body.query, body_bytes, limits)
    return {"sql": engine.query_sql(body.query, body.start_time, body.end_time)}

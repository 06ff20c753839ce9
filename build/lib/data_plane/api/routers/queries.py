"""Queries: the SQL a query description plans to (results come over Arrow Flight)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from data_plane.api.deps import ProjectEngine
from data_plane.api.schemas import QuerySql, SqlPublic
from data_plane.query.validate import check_query_spec

router = APIRouter(prefix="/projects/{project}/queries", tags=["queries"])


@router.post("/sql", response_model=SqlPublic)
def query_sql(body: QuerySql, engine: ProjectEngine) -> Any:
    check_query_spec(body.query)
    return {"sql": engine.query_sql(body.query, body.start_time, body.end_time)}

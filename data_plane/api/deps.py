"""Dependencies shared by the routers: the region, the caller, the project's engine.

Tenant scoping lives here: a route that takes ``ProjectEngine`` can only ever get the
engine of the project its API key is bound to.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from data_plane.engine import FeatureStoreEngine
from data_plane.region import Region
from tenancy.scope import Principal, authorize

_bearer = HTTPBearer(auto_error=False, description="an API key bound to one project")

PROJECT_PATTERN = r"^[A-Za-z0-9_.\-]{1,128}$"


# The dependencies are ``async``: they never block (key look-ups are cached; a miss is
# one indexed query), and a sync dependency would cost a thread-pool hop per request.
async def get_region(request: Request) -> Region:
    return request.app.state.region


RegionDep = Annotated[Region, Depends(get_region)]


async def get_principal(
    region: RegionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return region.keys.authenticate(credentials.credentials if credentials else None)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_project_engine(
    project: Annotated[str, Path(pattern=PROJECT_PATTERN)],
    principal: PrincipalDep,
    region: RegionDep,
) -> FeatureStoreEngine:
    authorize(principal, project)
    return region.engine(project)


ProjectEngine = Annotated[FeatureStoreEngine, Depends(get_project_engine)]

Name = Annotated[str, Path(max_length=256)]
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]

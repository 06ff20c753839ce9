"""Dependencies shared by the routers: the region, the caller, the project's engine.

Tenant scoping lives here: a route that takes ``ProjectEngine`` (or one of the writer
aliases) can only ever get the engine of a project its API key may reach, and only
when the key's role grants the permission the alias names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from data_plane.deployment_runner import DeploymentRunner
from data_plane.engine import FeatureStoreEngine
from data_plane.limits import limits_for
from data_plane.model_registry import ModelRegistry
from data_plane.region import Region
from tenancy import roles
from tenancy.plans import CostLimits
from tenancy.scope import Principal

_bearer = HTTPBearer(auto_error=False, description="an API key bound to one project")

PROJECT_PATTERN = r"^[A-Za-z0-9_.\-]{1,128}$"


# The dependencies are ``async``: key checks are cached (a miss is one indexed query or
# one call to the control plane), and a sync dependency costs a thread-pool hop on
# every request, hits included.
async def get_region(request: Request) -> Region:
    return request.app.state.region


RegionDep = Annotated[Region, Depends(get_region)]


def api_key(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials if credentials else None


async def get_caller(
    project: Annotated[str, Path(pattern=PROJECT_PATTERN)],
    region: RegionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, who must be a member of ``project``; FastAPI resolves it once per request."""
    return region.auth.authenticate(api_key(credentials), project, None)


CallerDep = Annotated[Principal, Depends(get_caller)]


async def get_whoami(
    region: RegionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    project: Annotated[str | None, Query(pattern=PROJECT_PATTERN)] = None,
) -> Principal:
    return region.auth.authenticate(api_key(credentials), project, None)


WhoAmIDep = Annotated[Principal, Depends(get_whoami)]


@dataclass(frozen=True, slots=True)
class ProjectAccess:
    """The caller, the region and the caller's project engine, checked for one permission."""

    caller: Principal
    region: Region
    engine: FeatureStoreEngine


async def bearer_credentials(request: Request) -> HTTPAuthorizationCredentials | None:
    """The request's ``Authorization: Bearer`` credentials, read as every route's security
    dependency reads them (None when missing or of another scheme)."""
    return await _bearer(request)


def read_access(
    region: Region, credentials: HTTPAuthorizationCredentials | None, project: str
) -> ProjectAccess:
    """What reading ``project`` with these credentials gets: 401 for a missing or unknown
    key, 403 for another project's key or one without ``project:read``. The same checks,
    in the same order, as ``ProjectEngine`` + ``CallerDep``; the vectors fast path
    (``data_plane.api.fast_vectors``) calls it too."""
    caller = region.auth.authenticate(api_key(credentials), project, roles.READ)
    return ProjectAccess(caller, region, region.engine(caller.project))


async def get_reader(
    project: Annotated[str, Path(pattern=PROJECT_PATTERN)],
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ProjectAccess:
    """``ProjectEngine`` + ``CallerDep`` + ``RegionDep`` as one dependency, for latency-bound
    routes: FastAPI walks a dependency's whole sub-tree on every use, cached or not, so
    those three cost ten resolutions per request (~0.1 ms); this costs two."""
    return read_access(request.app.state.region, credentials, project)


#: ``ProjectAccess`` for reading the project (``project:read``), resolved in one step.
ProjectReader = Annotated[ProjectAccess, Depends(get_reader)]


def _engine_for(permission: str) -> Callable[..., Awaitable[FeatureStoreEngine]]:
    async def project_engine(caller: CallerDep, region: RegionDep) -> FeatureStoreEngine:
        caller.require(permission)
        return region.engine(caller.project)

    return project_engine


#: The engine of the caller's project, for reading it (``project:read``).
ProjectEngine = Annotated[FeatureStoreEngine, Depends(_engine_for(roles.READ))]
#: ... for creating, writing and deleting feature groups.
GroupWriter = Annotated[FeatureStoreEngine, Depends(_engine_for(roles.FEATURE_GROUPS_WRITE))]
#: ... for creating and deleting feature views.
ViewWriter = Annotated[FeatureStoreEngine, Depends(_engine_for(roles.FEATURE_VIEWS_WRITE))]
#: ... for materializing training datasets.
TrainingDataWriter = Annotated[FeatureStoreEngine, Depends(_engine_for(roles.TRAINING_DATA_WRITE))]


def _registry_for(permission: str) -> Callable[..., Awaitable[ModelRegistry]]:
    async def model_registry(caller: CallerDep, region: RegionDep) -> ModelRegistry:
        caller.require(permission)
        return region.model_registry(region.engine(caller.project))

    return model_registry


#: The model registry of the caller's project, for reading it (``project:read``).
ModelReader = Annotated[ModelRegistry, Depends(_registry_for(roles.READ))]
#: ... for saving and deleting models (``models:write``).
ModelWriter = Annotated[ModelRegistry, Depends(_registry_for(roles.MODELS_WRITE))]


def _runner_for(permission: str) -> Callable[..., Awaitable[DeploymentRunner]]:
    async def deployments(caller: CallerDep, region: RegionDep) -> DeploymentRunner:
        caller.require(permission)
        return DeploymentRunner(region, region.engine(caller.project))

    return deployments


#: The deployments of the caller's project, for reading them (``project:read``).
DeploymentReader = Annotated[DeploymentRunner, Depends(_runner_for(roles.READ))]
#: ... for creating, starting, stopping and deleting them (``models:write``).
DeploymentWriter = Annotated[DeploymentRunner, Depends(_runner_for(roles.MODELS_WRITE))]


async def get_limits(caller: CallerDep, region: RegionDep) -> CostLimits:
    return limits_for(caller, region.settings.operator_limits)


#: What one request of the caller may cost (joins, spec and spine sizes, seconds).
LimitsDep = Annotated[CostLimits, Depends(get_limits)]


async def get_body_bytes(request: Request) -> int:
    """Bytes of the request body (already read and counted by the body limit)."""
    return len(await request.body())


BodyBytes = Annotated[int, Depends(get_body_bytes)]

Name = Annotated[str, Path(max_length=256)]
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]

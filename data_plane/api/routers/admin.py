"""The region's admin API (``/admin/v1``): what the control plane asks of the region.

Only the control plane calls it, with the region token (``GRANARY_REGION_TOKEN``); the
previous token (``GRANARY_PREVIOUS_REGION_TOKEN``) is accepted too while a rotation is
under way. Tenant and operator API keys never pass. Every call is idempotent.

Every answer names the region (``GRANARY_REGION_ID``) in its ``Granary-Region-Id``
header and, when it has a body, its ``region_id`` field: the control plane checks it
talks to the region it thinks.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from data_plane import heartbeat
from data_plane.admin import ProjectAdmin
from data_plane.api.deps import PROJECT_PATTERN
from data_plane.handoff import Handoff, catch_up, hand_off
from data_plane.settings import DataPlaneSettings
from granary_core.errors import Unauthenticated

ADMIN_PREFIX = "/admin/v1"

_region_bearer = HTTPBearer(
    auto_error=False, scheme_name="RegionToken", description="the region token of the control plane"
)


def _accepted(settings: DataPlaneSettings) -> list[bytes]:
    tokens = (settings.region_token, settings.previous_region_token)
    return [t.get_secret_value().encode() for t in tokens if t is not None]


async def require_region_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_region_bearer)]
) -> None:
    """401 unless the bearer token is the region token (or the previous one).

    Each accepted token is compared in constant time, and all of them every time, so
    the answer's timing tells neither how much of a guess matched nor which token did.
    """
    accepted = _accepted(request.app.state.settings)
    if not accepted:
        raise Unauthenticated("the admin API is off: this data plane has no GRANARY_REGION_TOKEN")
    if credentials is None:
        raise Unauthenticated("the admin API needs 'Authorization: Bearer <region token>'")
    given = credentials.credentials.encode()
    matches = [hmac.compare_digest(given, token) for token in accepted]
    if not any(matches):
        raise Unauthenticated("the region token is wrong")


REGION_ID_HEADER = "Granary-Region-Id"


def tell_region(request: Request, response: Response) -> None:
    response.headers[REGION_ID_HEADER] = request.app.state.settings.region_id


def get_admin(request: Request) -> ProjectAdmin:
    return ProjectAdmin(request.app.state.region)


AdminDep = Annotated[ProjectAdmin, Depends(get_admin)]
ProjectName = Annotated[str, Path(pattern=PROJECT_PATTERN, description="the project's name in the region")]

router = APIRouter(
    prefix=ADMIN_PREFIX, tags=["admin"], dependencies=[Depends(require_region_token), Depends(tell_region)]
)


class RegionAnswer(BaseModel):
    region_id: str = Field(description="the region that answered (its GRANARY_REGION_ID)")


class ProjectLayoutPublic(RegionAnswer):
    """Where the project's data lives in the region (named by the data plane alone)."""

    project: str
    group_topic_prefix: str = Field(description="each feature group's Kafka topic is this + its id")
    online_key_prefix: str = Field(description="prefix of every Redis key of the project")
    object_prefixes: list[str] = Field(description="S3 key prefixes (in the region's bucket)")


class ResiduePublic(RegionAnswer):
    """What of the project is still stored, per service (at most 100 names each)."""

    project: str
    empty: bool
    postgres: list[str]
    kafka: list[str]
    redis: list[str]
    s3: list[str]


class UsagePublic(RegionAnswer):
    project: str
    feature_groups: int
    offline_bytes: int = Field(description="bytes under the project's offline prefix, old versions included")
    online_rows: int | None = Field(description="keys under its online prefix; null without an online store")


@router.put("/projects/{project}", response_model=ProjectLayoutPublic)
def provision_project(project: ProjectName, admin: AdminDep) -> ProjectLayoutPublic:
    """Make the project exist in the region (idempotent). 409 for a deleted project."""
    layout = admin.provision(project)
    return ProjectLayoutPublic(
        region_id=admin.region.settings.region_id,
        project=layout.project,
        group_topic_prefix=layout.group_topic_prefix,
        online_key_prefix=layout.online_key_prefix,
        object_prefixes=list(layout.object_prefixes),
    )


class DeletedPublic(RegionAnswer):
    project: str
    group_ids: list[str] = Field(
        description="the project's groups, kept in its tombstone: pass them to the regions that hold "
        "copies of its data (standbys), whose replicated catalog may no longer name them"
    )


#: Group ids the caller knows the project had (the home's answer, given to a standby).
GroupIds = Annotated[list[str], Query(alias="group_id", max_length=10_000)]


@router.delete("/projects/{project}", response_model=DeletedPublic)
def delete_project(
    project: ProjectName,
    admin: AdminDep,
    group_ids: GroupIds = [],  # noqa: B006
    copy: Annotated[bool, Query(description="this region holds a copy of a project homed elsewhere")] = False,
) -> DeletedPublic:
    """Fence the project's writers out, then remove all of it, with every copy of its
    groups' topics (own and mirrored) (idempotent; calling it again finishes an
    interrupted deletion). Verify with ``GET .../residue``."""
    deleted = admin.delete(project, group_ids, copy)
    return DeletedPublic(region_id=admin.region.settings.region_id, project=project, group_ids=deleted)


@router.get("/projects/{project}/residue", response_model=ResiduePublic)
def project_residue(project: ProjectName, admin: AdminDep, group_ids: GroupIds = []) -> ResiduePublic:  # noqa: B006
    """What of the project is still stored; all lists are empty after a deletion."""
    residue = admin.residue(project, group_ids)
    region_id = admin.region.settings.region_id
    return ResiduePublic(region_id=region_id, project=project, empty=not any(residue.values()), **residue)


@router.get("/projects/{project}/usage", response_model=UsagePublic)
def project_usage(project: ProjectName, admin: AdminDep) -> UsagePublic:
    """The project's sizes now, measured as the usage reports measure them."""
    sizes = admin.usage(project)
    return UsagePublic(
        region_id=admin.region.settings.region_id,
        project=project,
        feature_groups=sizes["feature_groups"],
        offline_bytes=sizes["offline_bytes"],
        online_rows=sizes.get("online_rows"),
    )


class RoutingPublic(RegionAnswer):
    project: str
    home: bool = Field(description="whether this region takes the project's writes")
    epoch: int | None = Field(description="the routing epoch it takes them under; null when not home")
    copied_until_ms: dict[str, int | None] = Field(
        default_factory=dict,
        description="after a failover (PUT with ``lost``): per group topic mirrored from the lost region, "
        "the timestamp (epoch ms) of the newest record copied; its writes acknowledged later may be lost",
    )


class HomeRequest(BaseModel):
    epoch: int = Field(ge=0, description="the routing epoch the control plane gives this home")
    lost: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="a failover from this region: stop receiving its catalog first",
    )


def _routing(admin: ProjectAdmin, project: str, epoch: int | None) -> RoutingPublic:
    region_id = admin.region.settings.region_id
    return RoutingPublic(region_id=region_id, project=project, home=epoch is not None, epoch=epoch)


@router.get("/projects/{project}/home", response_model=RoutingPublic)
def project_home(project: ProjectName, admin: AdminDep) -> RoutingPublic:
    """Whether this region takes the project's writes, and under which epoch."""
    return _routing(admin, project, admin.routing(project))


@router.put("/projects/{project}/home", response_model=RoutingPublic)
def home_project(project: ProjectName, body: HomeRequest, admin: AdminDep) -> RoutingPublic:
    """Take the project's writes under ``epoch`` (a switchover's or failover's last step);
    409 ``fenced`` when this region writes it under a newer epoch already. A failover
    (``lost``) answers until when the lost region's feature data was copied here."""
    routing = _routing(admin, project, admin.home(project, body.epoch, lost=body.lost))
    if body.lost is not None:
        routing.copied_until_ms = admin.copied_until(project, body.lost)
    return routing


class HandoffPublic(RoutingPublic):
    """What the next home waits for before it takes the writes (``POST /catch-up``)."""

    beat: int = Field(description="this region's heartbeat written after its last write of the project")
    topics: dict[str, int] = Field(description="the project's group topics here, with their end offsets")


@router.delete("/projects/{project}/home", response_model=HandoffPublic)
def unhome_project(project: ProjectName, admin: AdminDep) -> HandoffPublic:
    """Stop taking the project's writes (a switchover's first step): answers once no
    write is under way; later writes get 409 ``moved``. ``epoch`` is the one it had;
    ``beat`` and ``topics`` are the barriers the next home waits on."""
    epoch = admin.unhome(project)
    handoff = hand_off(admin.region, admin.group_topics(project))
    return HandoffPublic(
        region_id=handoff.region_id,
        project=project,
        home=False,
        epoch=epoch,
        beat=handoff.beat,
        topics=handoff.topics,
    )


class FenceRequest(BaseModel):
    epoch: int = Field(ge=1, description="the project's routing epoch now, in the control plane")


class FencePublic(RegionAnswer):
    project: str
    fenced_epoch: int | None = Field(
        description="the older epoch this region stopped writing the project under; null: nothing to fence"
    )


@router.post("/projects/{project}/fence", response_model=FencePublic)
def fence_project(project: ProjectName, body: FenceRequest, admin: AdminDep) -> FencePublic:
    """A region that lost a project by a failover, back again: stop taking its writes
    if they are taken here under an epoch older than ``epoch`` (answers once none is
    under way). A home under ``epoch`` or newer is left alone."""
    fenced = admin.fence(project, body.epoch)
    return FencePublic(region_id=admin.region.settings.region_id, project=project, fenced_epoch=fenced)


class CatchUpRequest(BaseModel):
    source: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="the region that handed off")
    beat: int = Field(ge=0, description="its heartbeat to have applied (from DELETE .../home)")
    topics: dict[str, int] = Field(default_factory=dict, description="its group topics and end offsets")
    timeout_s: float = Field(default=60.0, gt=0, le=600)
    if_linked: bool = Field(
        default=False, description="answer at once when this region does not subscribe to the source"
    )


class CatchUpPublic(RegionAnswer):
    beat: int = Field(description="this region's heartbeat written once it had caught up")


@router.post("/catch-up", response_model=CatchUpPublic)
def catch_up_with(body: CatchUpRequest, admin: AdminDep) -> CatchUpPublic:
    """Answer once this region has applied the catalog and the mirrored feature data a
    region handed off; 504 naming what is missing after ``timeout_s``; 404 when it does
    not subscribe to the source (unless ``if_linked``)."""
    handoff = Handoff(body.source, body.beat, body.topics)
    beat = catch_up(admin.region, handoff, body.timeout_s, if_linked=body.if_linked)
    return CatchUpPublic(region_id=admin.region.settings.region_id, beat=beat)


class LagPublic(RegionAnswer):
    catalog_lag_ms: dict[str, float] = Field(
        description="per region it subscribes to: this clock minus that region's newest beat applied here"
    )


@router.get("/lag", response_model=LagPublic)
def replication_lag(admin: AdminDep) -> LagPublic:
    """How far behind each other region this region's catalog is: after a failover, what
    the lost region committed in its last ``catalog_lag_ms`` may be lost."""
    region = admin.region
    beats = heartbeat.beats(region.metadata, exclude=region.settings.region_id)
    return LagPublic(
        region_id=region.settings.region_id, catalog_lag_ms={r: b.age_ms for r, b in beats.items()}
    )

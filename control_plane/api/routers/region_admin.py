"""Operator API for regions (admin token only): what each region homes and how far
behind it is, a tenant's routing, and the failback of a region a failover left.

A failover leaves a **fence** for the lost region in the outbox (:mod:`control_plane.outbox`),
tried until the region answers. Failback is the operator's word that the region is back:
its pending fences are delivered now, and the answer says, per project, whether the
region had still been writing it under the old epoch. Re-seeding the region's catalog
is the replication tool's (``python -m replication catalog failback``): the control
plane holds no database credentials of a region.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from control_plane.api.access import AdminDep
from control_plane.api.deps import InfoDep, ServicesDep, UowDep
from control_plane.models import OutboxEntry, Project, Tenant
from control_plane.outbox import FENCE
from granary_core.errors import BackendUnavailable, GranaryError, NotFound

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class RegionStatus(BaseModel):
    name: str
    url: str
    reachable: bool = Field(description="whether its admin API answered just now")
    projects: int = Field(description="projects the control plane routes to it")
    pending_fences: int = Field(description="projects a failover took from it that it has not been told of")
    catalog_lag_ms: dict[str, float] = Field(
        default_factory=dict, description="per region it subscribes to: how far behind that region it is"
    )
    error: str | None = Field(default=None, description="why it could not be reached")


@router.get("/regions", response_model=list[RegionStatus])
def list_regions(_: AdminDep, uow: UowDep, services: ServicesDep) -> list[RegionStatus]:
    """Every region of this control plane, asked now: reachable, its lag, what it homes."""
    session = uow.session
    routed = dict(session.execute(select(Project.region, func.count()).group_by(Project.region)).all())
    fences = dict(
        session.execute(
            select(OutboxEntry.region, func.count())
            .where(OutboxEntry.action == FENCE, OutboxEntry.done_at.is_(None))
            .group_by(OutboxEntry.region)
        ).all()
    )
    statuses = []
    for name in services.regions.names():
        client = services.regions.get(name)
        status = RegionStatus(
            name=name,
            url=client.url,
            reachable=True,
            projects=routed.get(name, 0),
            pending_fences=fences.get(name, 0),
        )
        try:
            status.catalog_lag_ms = client.catalog_lag_ms()
        except GranaryError as exc:
            status.reachable, status.error = False, exc.message
        statuses.append(status)
    return statuses


class ProjectRouting(BaseModel):
    project: str
    #: The project's name in its regions.
    metadata_scope: str
    region: str
    epoch: int
    status: str
    unfenced_regions: list[str] = Field(description="regions a failover took it from, not yet told")


class TenantRouting(BaseModel):
    tenant: str
    projects: list[ProjectRouting]


@router.get("/tenants/{name}/routing", response_model=TenantRouting)
def tenant_routing(name: str, _: AdminDep, uow: UowDep) -> TenantRouting:
    """Where each of the tenant's projects is written, under which epoch."""
    session = uow.session
    tenant_id = session.scalar(select(Tenant.id).where(Tenant.name == name))
    if tenant_id is None:
        raise NotFound(f"tenant '{name}' not found")
    projects = session.scalars(select(Project).where(Project.tenant_id == tenant_id).order_by(Project.name))
    pending = _pending_fences(uow)
    return TenantRouting(
        tenant=name,
        projects=[
            ProjectRouting(
                project=p.name,
                metadata_scope=p.metadata_scope,
                region=p.region,
                epoch=p.epoch,
                status=p.status,
                unfenced_regions=sorted(pending.get(p.id, set())),
            )
            for p in projects
        ],
    )


def _pending_fences(uow) -> dict[str, set[str]]:
    rows = uow.session.execute(
        select(OutboxEntry.project_id, OutboxEntry.region).where(
            OutboxEntry.action == FENCE, OutboxEntry.done_at.is_(None)
        )
    )
    pending: dict[str, set[str]] = {}
    for project_id, region in rows:
        pending.setdefault(project_id, set()).add(region)
    return pending


class Fenced(BaseModel):
    project: str
    tenant: str
    #: Where the project is written now, under which epoch.
    region: str
    epoch: int
    fenced_epoch: int | None = Field(
        description="the old epoch the returned region was still writing it under (null: it was not)"
    )


class FailbackPublic(BaseModel):
    region: str
    fenced: list[Fenced]
    next_step: str


@router.post("/regions/{region}/failback", response_model=FailbackPublic)
def failback_region(
    region: str, _: AdminDep, uow: UowDep, services: ServicesDep, info: InfoDep
) -> FailbackPublic:
    """``region`` is back after a failover took projects from it: tell it now, per
    project, to stop writing under the old epoch (503 naming the region while it cannot
    be reached: nothing changes then). It returns as a standby, never a second writer."""
    client = services.regions.get(region)  # 404 naming the known ones
    session = uow.session
    entries = session.scalars(
        select(OutboxEntry)
        .where(OutboxEntry.action == FENCE, OutboxEntry.region == region, OutboxEntry.done_at.is_(None))
        .order_by(OutboxEntry.id)
        .with_for_update()  # waits out a delivery under way; then sees it done
    ).all()
    fenced: list[Fenced] = []
    for entry in entries:
        row = session.execute(
            select(Project, Tenant.name)
            .join(Tenant, Tenant.id == Project.tenant_id)
            .where(Project.id == entry.project_id)
        ).first()
        if row is not None and row[0].region != region:
            project, tenant = row
            try:
                old = client.fence(project.metadata_scope, project.epoch)
            except GranaryError as exc:
                raise BackendUnavailable(
                    f"region '{region}' cannot be fenced yet ({exc.message}); nothing changed, try again"
                ) from exc
            fenced.append(
                Fenced(
                    project=project.name,
                    tenant=tenant,
                    region=project.region,
                    epoch=project.epoch,
                    fenced_epoch=old,
                )
            )
        entry.done_at, entry.outcome, entry.last_error = services.dispatcher.now(), "done", None
    uow.audit(
        info.event(
            actor="admin",
            action="region.failback",
            tenant_id=None,
            target=region,
            detail={"fenced": len(fenced)},
        )
    )
    uow.commit()
    return FailbackPublic(
        region=region,
        fenced=fenced,
        next_step=(
            f"re-seed its catalog: python -m replication catalog failback {region}=URL OTHER=URL ... "
            "(the region's data plane materializes the mirrored topics as soon as they flow)"
        ),
    )

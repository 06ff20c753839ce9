"""Write operations shared by several routes: keys, public views, usage, project cleanup."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from control_plane.models import ApiKey, Project, Tenant, UsageGauge
from control_plane.regions import Regions
from control_plane.schemas import ApiKeyCreated, ProjectPublic, ProjectUsage, TenantPublic, UsagePublic
from control_plane.settings import ControlPlaneSettings
from granary_core.errors import BackendUnavailable, NotFound
from tenancy.keys import generate_key, hash_key
from tenancy.plans import Plan
from tenancy.quotas import RateLimiter
from tenancy.roles import Role

GAUGES = ("feature_groups", "offline_bytes", "online_rows", "model_deployments")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def issue_key(
    session: Session, *, tenant: Tenant, user_id: str, project: Project | None, scopes: list[str], name: str
) -> ApiKeyCreated:
    """Store a new key (hashed) and return the only copy of its plaintext."""
    key_id, plaintext = generate_key()
    session.add(
        ApiKey(
            key_id=key_id,
            key_hash=hash_key(plaintext),
            tenant_id=tenant.id,
            user_id=user_id,
            project_id=project.id if project else None,
            scopes=scopes,
            name=name,
        )
    )
    return ApiKeyCreated(
        key_id=key_id,
        api_key=plaintext,
        name=name,
        project=project.name if project else None,
        scopes=scopes,
        tenant=tenant.name,
    )


def tenant_public(tenant: Tenant) -> TenantPublic:
    return TenantPublic(
        id=tenant.id,
        name=tenant.name,
        kind=tenant.kind,
        status=tenant.status,
        plan=Plan.model_validate(tenant.plan),
        created_at=tenant.created_at,
        suspended_at=tenant.suspended_at,
    )


def project_public(project: Project, tenant_name: str, role: Role | None, settings: ControlPlaneSettings):
    region = settings.regions.get(project.region)
    return ProjectPublic(
        id=project.id,
        name=project.name,
        tenant=tenant_name,
        region=project.region,
        status=project.status,
        metadata_scope=project.metadata_scope,
        kafka_topic_prefix=project.kafka_topic_prefix,
        redis_key_prefix=project.redis_key_prefix,
        s3_prefixes=list(project.s3_prefixes),
        data_plane_url=region.url if region else "",
        role=role,
        created_at=project.created_at,
    )


def clean_region(regions: Regions, project: Project) -> None:
    """Remove the project from its region and verify that nothing of it is left.

    Failures, and residue found by the check, surface as 503 naming what is left;
    calling DELETE again finishes the job (every step is idempotent).
    """
    try:
        client = regions.get(project.region)
    except NotFound as exc:
        raise BackendUnavailable(f"project '{project.name}': {exc.message}") from exc
    client.delete_project(project.metadata_scope)
    residue = client.residue(project.metadata_scope)
    if not residue.empty():
        raise BackendUnavailable(
            f"project '{project.name}': region '{project.region}' still holds {residue}; "
            "it stays 'deleting': DELETE it again to finish"
        )


def record_gauges(session: Session, project: Project, values: dict[str, int]) -> None:
    """Store a project's current sizes (a region's report, or what its admin API said)."""
    for metric, value in values.items():
        stmt = insert(UsageGauge).values(
            project_id=project.id, tenant_id=project.tenant_id, metric=metric, value=value
        )
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[UsageGauge.project_id, UsageGauge.metric], set_={"value": value}
            )
        )


def usage_of(
    session: Session, limiter: RateLimiter, tenant: Tenant, project_id: str | None = None
) -> UsagePublic:
    stmt = select(Project).where(Project.tenant_id == tenant.id).order_by(Project.name)
    projects = list(session.scalars(stmt))
    gauges: dict[str, dict[str, int]] = {}
    for g in session.scalars(select(UsageGauge).where(UsageGauge.tenant_id == tenant.id)):
        gauges.setdefault(g.project_id, {})[g.metric] = g.value
    metered = limiter.usage(tenant.id)
    rows = [
        ProjectUsage(
            project=p.name,
            project_id=p.id,
            gauges={m: gauges.get(p.id, {}).get(m, 0) for m in GAUGES},
            metered=metered.get(p.id, {}),
        )
        for p in projects
        if project_id is None or p.id == project_id
    ]
    return UsagePublic(
        tenant=tenant.name,
        quotas=Plan.model_validate(tenant.plan).quotas,
        projects_used=len(projects),
        projects=rows,
    )


def tenant_total(session: Session, tenant_id: str, metric: str) -> int:
    values = session.scalars(
        select(UsageGauge.value).where(UsageGauge.tenant_id == tenant_id, UsageGauge.metric == metric)
    )
    return sum(values)

"""Plans: the quotas, regions and SLA tier a tenant buys.

A plan is a value stored with the tenant (JSON), not a row shared by tenants: an
enterprise contract changes one tenant's limits without touching anyone else's.

The free serverless sandbox (:data:`FREE_PLAN`) allows:

==============================  ==========  ======================================
quota                           free        unit
==============================  ==========  ======================================
``projects``                    1           projects per tenant
``feature_groups_per_project``  50          feature groups per project
``offline_bytes``               10 GiB      bytes of offline (Parquet/Delta) data
``online_rows``                 1,000,000   rows in the online store (all groups)
``online_reads_per_second``     100         feature-vector keys read per second
``ingestion_rows_per_second``   1,000       rows inserted per second
``model_deployments``           0           model deployments (none in the sandbox)
``max_joins_per_query``         64          joins in one query spec (nested ones too)
``max_spec_bytes``              1 MiB       bytes of a request carrying a query spec
``max_spine_bytes``             64 MiB      bytes of one spine (Arrow, as it arrives)
``max_spine_rows``              5,000,000   rows of one spine
``max_request_seconds``         120         seconds of work one request may take
==============================  ==========  ======================================

The last five are :class:`CostLimits`: what one request may cost the region's shared
data plane, checked before the work starts (refused with 422 ``limit_exceeded``, or
``time_limit_exceeded`` when a running request is stopped). Keys without a plan (the
region's operator keys) get ``DataPlaneSettings.operator_limits``, by default these
same values; the embedded store runs on the user's own machine and has none.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MiB = 1024**2
GiB = 1024**3

#: Quotas counted or sized (checked against current use, refused with 403).
COUNT_QUOTAS = ("projects", "feature_groups_per_project", "offline_bytes", "online_rows", "model_deployments")
#: Quotas on rates (token buckets in Redis, refused with 429).
RATE_QUOTAS = ("online_reads_per_second", "ingestion_rows_per_second")
#: Limits on what one request may cost (checked before the work, refused with 422).
COST_LIMITS = (
    "max_joins_per_query",
    "max_spec_bytes",
    "max_spine_bytes",
    "max_spine_rows",
    "max_request_seconds",
)

SlaTier = Literal["none", "standard", "premium"]


class CostLimits(BaseModel):
    """What one request may cost the shared data plane; see the module docstring."""

    model_config = ConfigDict(extra="forbid")

    max_joins_per_query: int = Field(default=64, ge=0)
    max_spec_bytes: int = Field(default=1 * MiB, ge=0)
    max_spine_bytes: int = Field(default=64 * MiB, ge=0)
    max_spine_rows: int = Field(default=5_000_000, ge=0)
    max_request_seconds: float = Field(default=120.0, gt=0)


class Quotas(CostLimits):
    """Limits of one tenant; every field is a maximum, ``0`` forbids the thing entirely."""

    projects: int = Field(default=1, ge=0)
    feature_groups_per_project: int = Field(default=50, ge=0)
    offline_bytes: int = Field(default=10 * GiB, ge=0)
    online_rows: int = Field(default=1_000_000, ge=0)
    online_reads_per_second: float = Field(default=100.0, ge=0)
    ingestion_rows_per_second: float = Field(default=1_000.0, ge=0)
    model_deployments: int = Field(default=0, ge=0)

    def limit(self, quota: str) -> float:
        known = COUNT_QUOTAS + RATE_QUOTAS + COST_LIMITS
        if quota not in known:
            raise ValueError(f"unknown quota '{quota}'; known: {', '.join(known)}")
        return getattr(self, quota)


class Plan(BaseModel):
    """What a tenant may use and where its data lives."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="free", min_length=1, max_length=64)
    quotas: Quotas = Field(default_factory=Quotas)
    #: Regions the tenant's data may live in; the home region must be one of them.
    allowed_regions: list[str] = Field(default_factory=list)
    #: The region that takes the tenant's writes; new projects are provisioned there.
    home_region: str = Field(min_length=1, max_length=64)
    sla_tier: SlaTier = "none"

    @model_validator(mode="after")
    def _home_is_allowed(self) -> Plan:
        if not self.allowed_regions:
            self.allowed_regions = [self.home_region]
        if self.home_region not in self.allowed_regions:
            raise ValueError(
                f"home region '{self.home_region}' is not among the allowed regions {self.allowed_regions}"
            )
        return self


def free_plan(region: str) -> Plan:
    """The serverless sandbox plan, homed in ``region``."""
    return Plan(name="free", quotas=Quotas(), allowed_regions=[region], home_region=region, sla_tier="none")

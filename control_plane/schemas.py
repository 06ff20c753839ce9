"""Request and response bodies (``XCreate`` in, ``XPublic`` out)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from granary_core.errors import InvalidInput
from tenancy.plans import Plan, Quotas, SlaTier
from tenancy.roles import Role

Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=3,
        max_length=320,
        pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$",
    ),
]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{1,62}$")]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignupCreate(_In):
    email: Email
    password: Password


class SignupPublic(BaseModel):
    status: str = "verification_sent"
    email: str


Token = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]


class VerifyCreate(_In):
    token: Token
    #: The password given at the sign-up that mailed ``token``.
    password: Password


class VerifyPublic(BaseModel):
    email: str
    tenant: str
    verified: bool = True


class PasswordResetCreate(_In):
    email: Email


class PasswordResetRequested(BaseModel):
    #: The same for unknown addresses: the answer reveals no account.
    status: str = "reset_mail_sent_if_registered"
    email: str


class PasswordResetConfirm(_In):
    token: Token
    password: Password


class PasswordResetDone(BaseModel):
    email: str
    #: Every key of the account, now revoked (login keys and named keys alike).
    revoked_keys: int


class LoginCreate(_In):
    email: Email
    password: Password


class ApiKeyCreated(BaseModel):
    """The only response that ever contains the plaintext key."""

    key_id: str
    api_key: str
    name: str
    project: str | None
    scopes: list[str]
    tenant: str


class LoginPublic(ApiKeyCreated):
    email: str


class PlanIn(_In):
    name: str = "enterprise"
    quotas: Quotas = Field(default_factory=Quotas)
    allowed_regions: list[str] = Field(default_factory=list)
    home_region: str
    sla_tier: SlaTier = "standard"

    def to_plan(self) -> Plan:
        try:
            return Plan(**self.model_dump())
        except ValidationError as exc:
            raise InvalidInput(f"plan: {exc.errors()[0]['msg']}") from exc


class TenantCreate(_In):
    name: Name
    plan: PlanIn
    admin_email: Email
    admin_password: Password | None = None


class QuotasPatch(_In):
    projects: int | None = Field(default=None, ge=0)
    feature_groups_per_project: int | None = Field(default=None, ge=0)
    offline_bytes: int | None = Field(default=None, ge=0)
    online_rows: int | None = Field(default=None, ge=0)
    online_reads_per_second: float | None = Field(default=None, ge=0)
    ingestion_rows_per_second: float | None = Field(default=None, ge=0)
    model_deployments: int | None = Field(default=None, ge=0)
    max_joins_per_query: int | None = Field(default=None, ge=0)
    max_spec_bytes: int | None = Field(default=None, ge=0)
    max_spine_bytes: int | None = Field(default=None, ge=0)
    max_spine_rows: int | None = Field(default=None, ge=0)
    max_request_seconds: float | None = Field(default=None, gt=0)


class TenantUpdate(_In):
    plan_name: str | None = Field(default=None, min_length=1, max_length=64)
    quotas: QuotasPatch | None = None
    allowed_regions: list[str] | None = None
    home_region: str | None = None
    sla_tier: SlaTier | None = None


class TenantPublic(BaseModel):
    id: str
    name: str
    kind: str
    status: str
    plan: Plan
    created_at: dt.datetime
    suspended_at: dt.datetime | None


class TenantCreated(BaseModel):
    tenant: TenantPublic
    admin_key: ApiKeyCreated


class InvitationCreate(_In):
    email: Email
    is_tenant_admin: bool = False


class InvitationPublic(BaseModel):
    """The same whether or not the address has an account elsewhere."""

    status: str = "invitation_sent"
    email: str
    tenant: str
    expires_at: dt.datetime


class InvitationAccept(_In):
    token: Token
    password: Password


class InvitationAccepted(BaseModel):
    email: str
    tenant: str


class UserPublic(BaseModel):
    id: str
    email: str
    verified: bool
    is_tenant_admin: bool
    created_at: dt.datetime


RegionName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Standbys = Annotated[
    list[RegionName],
    Field(
        max_length=8,
        description="regions besides the home that hold copies of the project (each one the home "
        "replicates to, among the tenant's allowed regions): moves go to one of them, and a "
        "deletion removes the copies there too",
    ),
]


class ProjectCreate(_In):
    name: Name
    #: One of the tenant's allowed regions; None places it in the tenant's home region.
    region: RegionName | None = None
    standbys: Standbys = []


class ProjectUpdate(_In):
    standbys: Standbys


ProjectStatus = Literal["provisioning", "ready", "deleting", "deleted", "failed"]


class ProjectPublic(BaseModel):
    """A project as its tenant sees it. Its region work happens after the answer:
    ``status`` is ``provisioning`` until the region made it (the prefixes are empty
    until then), ``deleting`` until the region removed it, and ``failed`` when the
    region kept refusing (``last_error`` says why; DELETE it, or ask an operator)."""

    id: str
    name: str
    tenant: str
    region: str
    status: ProjectStatus
    last_error: str | None = None
    metadata_scope: str
    kafka_topic_prefix: str
    redis_key_prefix: str
    s3_prefixes: list[str]
    data_plane_url: str
    epoch: int = Field(
        description="the routing epoch its home region takes writes under (raised by each move)"
    )
    standbys: list[str] = Field(description="regions besides the home that hold copies of the project")
    role: Role | None
    created_at: dt.datetime


class MemberPut(_In):
    role: Role


class MemberPublic(BaseModel):
    email: str
    user_id: str
    role: Role


class KeyCreate(_In):
    name: Annotated[str, StringConstraints(max_length=128)] = ""
    #: Bind the key to one project (by name); None reaches all the holder's projects.
    project: Name | None = None
    scopes: list[Annotated[str, StringConstraints(max_length=64)]] = Field(default_factory=lambda: ["*"])


class KeyPublic(BaseModel):
    key_id: str
    name: str
    project: str | None
    scopes: list[str]
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class UsageReport(_In):
    """Sizes a data plane reports for one project (absolute values, not deltas)."""

    project_id: Annotated[str, StringConstraints(max_length=32)]
    feature_groups: int | None = Field(default=None, ge=0)
    offline_bytes: int | None = Field(default=None, ge=0)
    online_rows: int | None = Field(default=None, ge=0)
    model_deployments: int | None = Field(default=None, ge=0)


class QuotaCheck(_In):
    """Ask whether a project may grow: e.g. one more feature group."""

    project_id: Annotated[str, StringConstraints(max_length=32)]
    quota: Annotated[str, StringConstraints(max_length=64)]
    adding: float = Field(default=1, ge=0)


class RateConsume(_In):
    project_id: Annotated[str, StringConstraints(max_length=32)]
    quota: Annotated[str, StringConstraints(max_length=64)]
    amount: float = Field(gt=0, le=1e9)


class ProjectUsage(BaseModel):
    project: str
    project_id: str
    gauges: dict[str, int]
    metered: dict[str, float]


class UsagePublic(BaseModel):
    tenant: str
    quotas: Quotas
    projects_used: int
    projects: list[ProjectUsage]


class AuditPublic(BaseModel):
    id: int
    at: dt.datetime
    actor: str
    key_id: str | None
    action: str
    target: str
    method: str
    path: str
    status: int
    client_ip: str
    detail: dict[str, Any]


class ErrorBody(BaseModel):
    code: str
    message: str
    quota: str | None = None
    limit: float | None = None
    current: float | None = None


RegionName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class MoveRequest(_In):
    from_region: RegionName = Field(description="the region the tenant's projects are homed in now")
    to_region: RegionName = Field(description="the region that takes their writes next")
    timeout_s: float = Field(default=60.0, gt=0, le=600, description="longest wait for each catch-up")


class MovePublic(BaseModel):
    """One project moved, with how long each phase took (milliseconds)."""

    project: str
    kind: Literal["switchover", "failover"]
    from_region: str
    to_region: str
    epoch: int
    drain_ms: float
    catch_up_ms: float
    writes_refused_ms: float
    lag_ms: float | None = Field(
        default=None, description="failover: the new home's catalog lag behind the old one when it took over"
    )
    copied_until_ms: dict[str, int | None] | None = Field(
        default=None,
        description="failover: per group topic, the time (epoch ms) of the newest record copied from the old "
        "home; feature rows it acknowledged later may be lost",
    )


class MovesPublic(BaseModel):
    tenant: str
    moved: list[MovePublic]

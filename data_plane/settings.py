"""Typed settings of one region's data plane services, from ``GRANARY_*`` variables.

``ops/region up NAME`` writes ``.regions/NAME/env`` with the connection variables;
services build :class:`DataPlaneSettings` once at their entrypoint and pass it down.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tenancy.plans import CostLimits
from tenancy.secrets import Token


class KubernetesSettings(BaseModel):
    """The cluster a region runs its model deployments on (``GRANARY_KUBERNETES``, JSON)."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(description="https://host:port of the Kubernetes API server")
    token: str = Field(description="a bearer token allowed to manage the namespace's objects")
    namespace: str = "granary"
    image: str = Field(default="granary/data-plane:latest", description="an image with the data plane")
    ca_cert: str | None = Field(default=None, description="file of the API server's CA certificate")
    #: Where the pods reach this data plane's REST API (its URL inside the cluster).
    data_plane_url: str = "http://granary-data-plane:8600"


class DataPlaneSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRANARY_", extra="ignore")

    pg_url: str = Field(description="SQLAlchemy URL of the metadata database (postgresql+psycopg://...)")
    #: The online store: a type of :mod:`data_plane.online.registry` (``redis``, ``sqlite``)
    #: or a URL (``redis://host:port/db``). Unset, ``redis_url`` names it; with neither, the
    #: region serves no feature vectors.
    online_store: str | None = None
    #: The online store's own config section, checked by its adapter (unknown options are
    #: refused), e.g. ``GRANARY_ONLINE_STORE_CONFIG='{"url": "redis://...", "socket_timeout": 2}'``.
    online_store_config: dict[str, Any] = Field(default_factory=dict)
    redis_url: str | None = Field(default=None, description="shorthand for online_store=redis at this URL")
    #: The offline store: a type of :mod:`data_plane.offline.registry` (``delta``: Delta
    #: tables in the region's S3 bucket, configured by the ``s3_*`` settings).
    offline_store: str = "delta"
    #: The offline store's own options (JSON), checked by its adapter.
    offline_store_config: dict[str, Any] = Field(default_factory=dict)
    kafka_bootstrap: str = Field(description="host:port of the region's Kafka brokers")
    s3_endpoint: str = Field(description="http(s)://host:port of the S3-compatible object store")
    s3_access_key: str
    s3_secret_key: str
    s3_bucket: str = "granary"
    s3_region: str = "us-east-1"
    #: Prefix of every Kafka topic and S3 key this data plane owns, so two data planes
    #: (or a test's own) can share one region's services without seeing each other.
    namespace: str = "granary"
    #: The region's name as ``ops/region up NAME`` writes it (``GRANARY_REGION``).
    region: str | None = None
    #: Which region this data plane is (``GRANARY_REGION_ID``; unset, ``GRANARY_REGION``,
    #: else ``local``). ``/health`` and every admin API answer carry it, so the control
    #: plane can check it talks to the region it thinks.
    region_id: str = Field(default="", pattern=r"^$|^[A-Za-z0-9_-]{1,64}$")
    #: Replication factor of the topics this data plane creates; unset, as many copies as
    #: the cluster has brokers, at most 3.
    topic_replication_factor: int | None = Field(default=None, ge=1)

    api_host: str = "127.0.0.1"
    api_port: int = 8600
    flight_host: str = "127.0.0.1"
    flight_port: int = 8815
    #: Where clients reach Flight; told to them by ``GET /api/v1/endpoints``.
    flight_public_uri: str | None = None
    materializer_metrics_port: int | None = None
    #: How often the materializer writes the region's replication heartbeat, in
    #: milliseconds (0: never). Other regions read their lag behind this one from it.
    heartbeat_ms: int = Field(default=500, ge=0)

    #: Deliberately broken, to prove the drills' checkers can fail (``tests/replication``):
    #: ``no-fencing`` takes writes of projects this region does not home, under any
    #: epoch; ``drop-writes`` acknowledges every 20th write without producing it. Never
    #: set outside those tests: the data plane logs an error at start when it is.
    test_only_break: Literal["", "no-fencing", "drop-writes"] = ""

    #: Largest request body the REST API reads, in bytes; more gets 413.
    max_body_bytes: int = 64 * 1024 * 1024
    #: What one request of an operator key (no plan) may cost: joins, spec and spine
    #: sizes, seconds of work. JSON, e.g. ``GRANARY_OPERATOR_LIMITS='{"max_request_seconds": 600}'``;
    #: tenants' keys get their plan's.
    operator_limits: CostLimits = Field(default_factory=CostLimits)
    #: Memory each project's DuckDB may hold for queries (a DuckDB size: ``"2GB"``); beyond
    #: it, joins and sorts spill to ``query_temp_directory``, so streamed reads (Flight,
    #: training dataset files) stay within it whatever the answer's size. Unset: DuckDB's
    #: default, 80% of the machine's memory, per project.
    query_memory_limit: str | None = None
    #: Where DuckDB spills; unset, ``<system temp>/granary-duckdb/<namespace>``.
    query_temp_directory: str | None = None
    #: How long ``wait=True`` writes wait for the materializer, in seconds.
    write_wait_seconds: float = 120.0
    #: The materializer compacts a group's offline table (``fg.compact()``) after this many
    #: of its commits since the last compaction (each adds files); 0 turns it off.
    compact_after_commits: int = 100
    #: API key look-ups are cached this long (seconds). With a control plane, its
    #: access-change messages drop cached answers at once; this is only the backstop.
    key_cache_seconds: float = 5.0
    #: While the control plane cannot be reached, a key it accepted this recently
    #: (seconds) is still served on that answer; older or unknown keys get 503.
    key_stale_seconds: float = 900.0
    #: A standby's mirrored records whose project or group has no catalog row here yet
    #: wait this long (seconds) for it before they are taken as deleted ones
    #: (:mod:`data_plane.ingest.arrival`).
    arrival_grace_seconds: float = 120.0

    #: The control plane this region serves (``/v1/internal`` API): it checks the keys
    #: of tenant users and the tenants' size quotas, and receives usage. Without it only
    #: the region's own operator keys (``create-key``) work and no quota applies.
    control_plane_url: str | None = None
    #: The control plane's ``GRANARY_CP_REGION_TOKEN``.
    control_plane_token: str | None = None
    #: The control plane's Redis: the tenants' rate buckets, shared by every region,
    #: and the channel of access changes. Required with ``control_plane_url``.
    control_plane_redis_url: str | None = None
    #: The control plane's ``GRANARY_CP_REDIS_PREFIX``.
    control_plane_redis_prefix: str = "granary:cp"
    #: Token the control plane presents on the admin API (``/admin/v1``: provision, delete,
    #: residue and usage of projects): its ``GRANARY_CP_REGIONS__<region>__TOKEN``.
    #: Unset, the admin API refuses every call.
    region_token: Token | None = None
    #: The token before the current one, still accepted while the control plane switches
    #: over (rotation: set the new one as ``region_token``, the old one here, then drop it).
    previous_region_token: Token | None = None
    #: How often the materializer reports each project's sizes to the control plane (s).
    usage_report_seconds: float = 15.0
    #: How many projects' engines (and feature servers) a process keeps; the least
    #: recently used is dropped beyond that, so a region with many projects does not grow.
    engine_cache_size: int = Field(default=256, ge=1)
    log_level: str = "INFO"
    #: With it, model deployments run as Kubernetes objects on that cluster
    #: (:mod:`data_plane.kubernetes_deployments`); without it, as processes of this region.
    kubernetes: KubernetesSettings | None = None

    @model_validator(mode="after")
    def _region_id_default(self) -> DataPlaneSettings:
        if not self.region_id:
            self.region_id = self.region or "local"
        return self

    @model_validator(mode="after")
    def _control_plane_complete(self) -> DataPlaneSettings:
        if self.control_plane_url and not (self.control_plane_token and self.control_plane_redis_url):
            raise ValueError(
                "GRANARY_CONTROL_PLANE_URL needs GRANARY_CONTROL_PLANE_TOKEN and "
                "GRANARY_CONTROL_PLANE_REDIS_URL"
            )
        return self

    def online_store_spec(self) -> tuple[str, dict[str, Any]] | None:
        """The online store's type (or URL) and config section; None without one."""
        if self.online_store and not (self.online_store == "redis" and self.redis_url):
            return self.online_store, dict(self.online_store_config)
        if self.redis_url:
            return "redis", {"url": self.redis_url, **self.online_store_config}
        return None

    @property
    def flight_uri(self) -> str:
        return self.flight_public_uri or f"grpc://{self.flight_host}:{self.flight_port}"

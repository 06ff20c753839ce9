"""Typed settings of the control plane, from ``GRANARY_CP_*`` variables.

Nested values use ``__``: ``GRANARY_CP_REGIONS='{"eu-1": {"pg_url": "..."}}'`` or
``GRANARY_CP_REGIONS__EU_1__PG_URL=...``. Built once at the entrypoint, passed down.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class RegionSettings(BaseModel):
    """How the control plane reaches one region's services, for provisioning and cleanup.

    A service left unset is not touched (a region without Kafka yet, or a test).
    """

    model_config = ConfigDict(extra="forbid")

    pg_url: str | None = Field(default=None, description="the region's metadata database")
    redis_url: str | None = None
    kafka_bootstrap: str | None = None
    s3_endpoint: str | None = None
    s3_access_key: str = "granary"
    s3_secret_key: SecretStr = SecretStr("granary-secret")
    s3_bucket: str = "granary"
    s3_region: str = "us-east-1"
    #: Longest wait for one call to a region service, in seconds.
    timeout_seconds: float = 15.0
    #: The data plane's ``GRANARY_NAMESPACE``: first part of its topic, key and object names.
    namespace: str = "granary"
    #: Where SDK users reach this region's data plane (told to them with their project).
    public_url: str = ""


class ControlPlaneSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRANARY_CP_", env_nested_delimiter="__", extra="ignore")

    database_url: str = Field(description="SQLAlchemy URL of the control plane's own PostgreSQL database")
    redis_url: str = Field(description="Redis for login throttling, rate-limit buckets and usage meters")
    #: Bearer token of the operator API (``/v1/admin/...``). Tenant keys never pass it.
    admin_token: SecretStr = Field(min_length=24)
    #: Token data planes present on ``/v1/internal/...`` (usage reports, quota checks).
    region_token: SecretStr = Field(min_length=24)

    regions: dict[str, RegionSettings] = Field(default_factory=dict)
    #: Home region of free sandbox tenants created by signup.
    sandbox_region: str = "local"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "Granary <no-reply@granary.localhost>"
    #: Base URL of this service as users see it (for the link in verification mail).
    public_url: str = "http://127.0.0.1:8700"

    #: Failed logins per (email, client IP) allowed within the window before 429.
    login_max_failures: int = 5
    login_window_seconds: int = 900
    verification_ttl_seconds: int = 24 * 3600
    #: Argon2id parameters of new password hashes (argon2-cffi defaults; tests lower them).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    #: Prefix of this control plane's Redis keys (tests use one per test).
    redis_prefix: str = "granary:cp"

    api_host: str = "127.0.0.1"
    api_port: int = 8700

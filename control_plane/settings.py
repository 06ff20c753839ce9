"""Typed settings of the control plane, from ``GRANARY_CP_*`` variables.

Nested values use ``__``: ``GRANARY_CP_REGIONS='{"eu-1": {"url": "...", "token": "..."}}'``
or ``GRANARY_CP_REGIONS__EU_1__URL=...``. Built once at the entrypoint, passed down.
"""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tenancy.secrets import Token


class RegionSettings(BaseModel):
    """How the control plane reaches one region: its data plane, and the region token.

    Projects are provisioned, deleted, verified and measured through the data plane's
    admin API (``/admin/v1``); the control plane holds no credentials of the region's
    PostgreSQL, Redis, Kafka or S3.
    """

    model_config = ConfigDict(extra="forbid")

    #: The data plane's REST API; SDK users are sent here too (``data_plane_url``).
    url: str = Field(description="base URL of the region's data plane, e.g. http://127.0.0.1:8600")
    #: The data plane's ``GRANARY_REGION_TOKEN``, presented on its admin API.
    token: Token
    #: Where the control plane reaches the admin API when not at ``url`` (a network of
    #: the operator's own between the control plane and its regions).
    admin_url: str | None = Field(
        default=None, description="base URL of the data plane's admin API; default: url"
    )
    #: Longest wait for one admin call, in seconds (a delete waits for Kafka to finish).
    timeout_seconds: float = 120.0


class Limits(BaseModel):
    """Attempts allowed within one fixed window, counted per key; 0 lifts that key's limit.

    Every key is counted at once, so guesses spread over many client addresses hit
    ``per_address`` and guesses spread over many accounts hit ``per_client``.
    """

    model_config = ConfigDict(extra="forbid")

    #: One address from one client address (the tightest: a user mistyping).
    per_address_client: int = Field(ge=0)
    #: One address from any client address.
    per_address: int = Field(ge=0)
    #: One client address, whatever the addresses it tries.
    per_client: int = Field(ge=0)
    #: Everyone together: the last line against a botnet.
    overall: int = Field(ge=0)
    window_seconds: int = Field(gt=0)


class ControlPlaneSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRANARY_CP_", env_nested_delimiter="__", extra="ignore")

    database_url: str = Field(description="SQLAlchemy URL of the control plane's own PostgreSQL database")
    redis_url: str = Field(description="Redis for login throttling, rate-limit buckets and usage meters")
    #: Bearer token of the operator API (``/v1/admin/...``). Tenant keys never pass it.
    admin_token: Token
    #: Token data planes present on ``/v1/internal/...`` (usage reports, quota checks).
    region_token: Token

    regions: dict[str, RegionSettings] = Field(default_factory=dict)
    #: Home region of free sandbox tenants created by signup (``GRANARY_CP_SANDBOX_REGION``);
    #: unset, the only region of ``regions``. It must be one of ``regions``.
    sandbox_region: str = ""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "Granary <no-reply@granary.localhost>"
    #: Base URL of this service as users see it (for the link in verification mail).
    public_url: str = "http://127.0.0.1:8700"

    #: Failed logins allowed before 429 (a right password counts nothing).
    login_limits: Limits = Limits(
        per_address_client=5, per_address=20, per_client=50, overall=1000, window_seconds=900
    )
    #: Sign-ups allowed before 429 (each one counts: each mails someone).
    signup_limits: Limits = Limits(
        per_address_client=3, per_address=3, per_client=10, overall=200, window_seconds=3600
    )
    #: Password-reset requests allowed before 429 (each one counts).
    reset_limits: Limits = Limits(
        per_address_client=3, per_address=5, per_client=20, overall=500, window_seconds=3600
    )
    #: Invitations a tenant may send before 429 (``per_client`` counts per tenant).
    invite_limits: Limits = Limits(
        per_address_client=3, per_address=5, per_client=50, overall=1000, window_seconds=3600
    )
    verification_ttl_seconds: int = 24 * 3600
    invitation_ttl_seconds: int = 7 * 24 * 3600
    reset_ttl_seconds: int = 3600
    #: Addresses or networks (CIDR) of the reverse proxies in front of this service whose
    #: ``X-Forwarded-For`` is believed. Empty (the default): the peer address is the client.
    trusted_proxies: list[str] = Field(default_factory=list)
    #: Argon2id parameters of new password hashes (argon2-cffi defaults; tests lower them).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    #: Prefix of this control plane's Redis keys (tests use one per test).
    redis_prefix: str = "granary:cp"

    #: The region outbox (``control_plane.outbox``): seconds between looks for due
    #: entries when nothing woke the dispatcher, the first retry's wait (doubling up to
    #: the max) and the failed attempts after which a project is ``failed``.
    outbox_poll_seconds: float = Field(default=5.0, gt=0)
    outbox_backoff_seconds: float = Field(default=1.0, gt=0)
    outbox_max_backoff_seconds: float = Field(default=300.0, gt=0)
    outbox_max_attempts: int = Field(default=12, ge=1)
    #: Seconds between two attempts to fence a region a failover took projects from.
    outbox_fence_retry_seconds: float = Field(default=2.0, gt=0)

    #: Level of the JSON log lines on stderr (``tenancy.logs``).
    log_level: str = "INFO"
    api_host: str = "127.0.0.1"
    api_port: int = 8700

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(f"trusted_proxies: {entry!r} is not an IP address or network") from exc
        return value

    @model_validator(mode="after")
    def _sandbox_region_is_known(self) -> ControlPlaneSettings:
        if not self.sandbox_region:
            self.sandbox_region = next(iter(self.regions)) if len(self.regions) == 1 else "local"
        if self.regions and self.sandbox_region not in self.regions:
            raise ValueError(
                f"sandbox_region {self.sandbox_region!r} is not one of the regions {sorted(self.regions)}: "
                "set GRANARY_CP_SANDBOX_REGION"
            )
        return self

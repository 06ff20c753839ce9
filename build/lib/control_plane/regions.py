"""Provisioning and cleanup of a project's resources in a region: one small seam.

:class:`RegionClient` is what the control plane calls; :class:`ServicesRegionClient`
implements it directly against the region's services (PostgreSQL, Kafka, Redis, S3),
because the data plane exposes no admin endpoints for this yet. A REST adapter can
replace it without touching the callers.

Names follow the data plane's layout (``data_plane/region.py``) for a project whose
region-side name (``metadata_scope``) is the control plane's project id ``P``:

==============  =====================================================================
service         what belongs to the project
==============  =====================================================================
PostgreSQL      ``projects`` row named ``P`` (feature groups, views, commits cascade),
                ``api_keys`` of ``P``, ingestion checkpoints/failures of its topics
Kafka           ``{ns}.fg.{id}`` for each of its feature groups, and ``{ns}.P.*``
Redis           keys under ``{ns}.P:``
S3              objects under ``{ns}/offline/P/`` and ``{ns}/training_datasets/P/``
==============  =====================================================================

Every step is idempotent, so a delete interrupted half-way is finished by a retry.
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass, field

from sqlalchemy import create_engine, inspect, text

from control_plane.settings import RegionSettings
from data_plane.online.keys import scan_pattern
from granary.errors import BackendUnavailable, NotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProjectScope:
    """Where a project's data lives in its region."""

    project_id: str
    tenant_id: str
    region: str
    metadata_scope: str
    kafka_topic_prefix: str
    redis_key_prefix: str
    s3_prefixes: tuple[str, ...]

    @classmethod
    def new(cls, project_id: str, tenant_id: str, region: str, namespace: str) -> ProjectScope:
        return cls(
            project_id=project_id,
            tenant_id=tenant_id,
            region=region,
            metadata_scope=project_id,
            kafka_topic_prefix=f"{namespace}.{project_id}.",
            redis_key_prefix=f"{namespace}.{project_id}:",
            s3_prefixes=(
                f"{namespace}/offline/{project_id}/",
                f"{namespace}/training_datasets/{project_id}/",
            ),
        )


@dataclass
class Residue:
    """What of a project is still stored in a region (empty after a complete delete)."""

    postgres: list[str] = field(default_factory=list)
    kafka: list[str] = field(default_factory=list)
    redis: list[str] = field(default_factory=list)
    s3: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.postgres or self.kafka or self.redis or self.s3)


class RegionClient(abc.ABC):
    """What the control plane asks of a region."""

    @abc.abstractmethod
    def provision_project(self, scope: ProjectScope) -> None:
        """Make the project exist in the region (idempotent)."""

    @abc.abstractmethod
    def delete_project(self, scope: ProjectScope) -> None:
        """Remove everything of the project from the region (idempotent)."""

    @abc.abstractmethod
    def residue(self, scope: ProjectScope) -> Residue:
        """What of the project is still there; used to verify deletes."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class ServicesRegionClient(RegionClient):
    """Talks to the region's services directly; services left unset are skipped."""

    def __init__(self, name: str, settings: RegionSettings) -> None:
        self.name = name
        self.settings = settings
        self._pg = (
            create_engine(settings.pg_url, pool_pre_ping=True, pool_size=2) if settings.pg_url else None
        )

    # ------------------------------------------------------------------ PostgreSQL
    def _tables(self) -> set[str]:
        assert self._pg is not None
        return set(inspect(self._pg).get_table_names())

    def _group_ids(self, scope: ProjectScope) -> list[int]:
        if self._pg is None or "feature_groups" not in self._tables():
            return []
        with self._pg.connect() as c:
            rows = c.execute(
                text(
                    "SELECT fg.id FROM feature_groups fg JOIN projects p ON p.id = fg.project_id "
                    "WHERE p.name = :name"
                ),
                {"name": scope.metadata_scope},
            )
            return [r[0] for r in rows]

    def _group_topics(self, scope: ProjectScope) -> list[str]:
        return [f"{self.settings.namespace}.fg.{gid}" for gid in self._group_ids(scope)]

    def provision_project(self, scope: ProjectScope) -> None:
        if self._pg is None:
            return
        try:
            tables = self._tables()
            if "projects" in tables:
                with self._pg.begin() as c:
                    c.execute(
                        text(
                            "INSERT INTO projects (name, created_at) VALUES (:name, now()) "
                            "ON CONFLICT (name) DO NOTHING"
                        ),
                        {"name": scope.metadata_scope},
                    )
        except Exception as exc:
            raise BackendUnavailable(f"region {self.name}: cannot provision project metadata: {exc}") from exc

    def delete_project(self, scope: ProjectScope) -> None:
        topics = self._group_topics(scope) if self._pg is not None else []
        self._delete_kafka(scope, topics)
        self._delete_redis(scope)
        self._delete_s3(scope)
        self._delete_postgres(scope, topics)

    def _delete_postgres(self, scope: ProjectScope, topics: list[str]) -> None:
        if self._pg is None:
            return
        try:
            tables = self._tables()
            with self._pg.begin() as c:
                if topics and "ingest_checkpoints" in tables:
                    for table in ("ingest_checkpoints", "ingest_failures"):
                        if table in tables:
                            c.execute(text(f"DELETE FROM {table} WHERE topic = ANY(:t)"), {"t": topics})
                if "api_keys" in tables:
                    c.execute(text("DELETE FROM api_keys WHERE project = :p"), {"p": scope.metadata_scope})
                if "projects" in tables:
                    # feature groups, views, commits and training datasets cascade
                    c.execute(text("DELETE FROM projects WHERE name = :p"), {"p": scope.metadata_scope})
        except Exception as exc:
            raise BackendUnavailable(f"region {self.name}: cannot delete project metadata: {exc}") from exc

    # ------------------------------------------------------------------ Kafka
    def _kafka_admin(self):
        from kafka import KafkaAdminClient

        return KafkaAdminClient(
            bootstrap_servers=self.settings.kafka_bootstrap,
            client_id="granary-control-plane",
            request_timeout_ms=int(self.settings.timeout_seconds * 1000),
            bootstrap_timeout_ms=int(self.settings.timeout_seconds * 1000),
        )

    def _kafka_topics(self, scope: ProjectScope, extra: list[str]) -> list[str]:
        if not self.settings.kafka_bootstrap:
            return []
        admin = self._kafka_admin()
        try:
            existing = set(admin.list_topics())
        finally:
            admin.close()
        return sorted(t for t in existing if t.startswith(scope.kafka_topic_prefix) or t in set(extra))

    def _delete_kafka(self, scope: ProjectScope, extra_topics: list[str]) -> None:
        if not self.settings.kafka_bootstrap:
            return
        from kafka.errors import KafkaError, UnknownTopicOrPartitionError

        try:
            topics = self._kafka_topics(scope, extra_topics)
            if not topics:
                return
            admin = self._kafka_admin()
            try:
                admin.delete_topics(topics, timeout_ms=int(self.settings.timeout_seconds * 1000))
            except UnknownTopicOrPartitionError:
                pass
            finally:
                admin.close()
        except KafkaError as exc:
            raise BackendUnavailable(f"region {self.name}: cannot delete Kafka topics: {exc}") from exc

    # ------------------------------------------------------------------ Redis
    def _redis(self):
        import redis

        return redis.Redis.from_url(
            self.settings.redis_url or "",
            socket_timeout=self.settings.timeout_seconds,
            socket_connect_timeout=self.settings.timeout_seconds,
        )

    def _redis_keys(self, scope: ProjectScope, limit: int | None = None) -> list[str]:
        client = self._redis()
        try:
            found: list[str] = []
            pattern = scan_pattern(scope.redis_key_prefix)
            for key in client.scan_iter(match=pattern, count=1000):
                found.append(key.decode() if isinstance(key, bytes) else key)
                if limit and len(found) >= limit:
                    break
            return found
        finally:
            client.close()

    def _delete_redis(self, scope: ProjectScope) -> None:
        if not self.settings.redis_url:
            return
        import redis

        client = self._redis()
        try:
            batch: list[bytes] = []
            for key in client.scan_iter(match=scan_pattern(scope.redis_key_prefix), count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    client.unlink(*batch)
                    batch = []
            if batch:
                client.unlink(*batch)
        except redis.RedisError as exc:
            raise BackendUnavailable(f"region {self.name}: cannot delete Redis keys: {exc}") from exc
        finally:
            client.close()

    # ------------------------------------------------------------------ S3
    def _s3(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.settings.s3_endpoint,
            aws_access_key_id=self.settings.s3_access_key,
            aws_secret_access_key=self.settings.s3_secret_key.get_secret_value(),
            region_name=self.settings.s3_region,
            config=Config(
                connect_timeout=self.settings.timeout_seconds,
                read_timeout=self.settings.timeout_seconds,
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def _s3_keys(self, scope: ProjectScope) -> list[str]:
        from botocore.exceptions import ClientError

        client = self._s3()
        keys: list[str] = []
        for prefix in scope.s3_prefixes:
            try:
                for page in client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.settings.s3_bucket, Prefix=prefix
                ):
                    keys.extend(obj["Key"] for obj in page.get("Contents", []))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
                    return []
                raise
        return keys

    def _delete_s3(self, scope: ProjectScope) -> None:
        if not self.settings.s3_endpoint:
            return
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            keys = self._s3_keys(scope)
            client = self._s3()
            for start in range(0, len(keys), 1000):
                chunk = keys[start : start + 1000]
                # one DELETE per object: DeleteObjects needs Content-MD5, which not
                # every S3-compatible server accepts with newer SDK checksums
                for key in chunk:
                    client.delete_object(Bucket=self.settings.s3_bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise BackendUnavailable(f"region {self.name}: cannot delete S3 objects: {exc}") from exc

    # ------------------------------------------------------------------ verification
    def residue(self, scope: ProjectScope) -> Residue:
        out = Residue()
        topics: list[str] = []
        if self._pg is not None:
            tables = self._tables()
            topics = self._group_topics(scope)
            with self._pg.connect() as c:
                if "projects" in tables:
                    n = c.execute(
                        text("SELECT count(*) FROM projects WHERE name = :p"), {"p": scope.metadata_scope}
                    ).scalar_one()
                    out.postgres += [f"projects:{scope.metadata_scope}"] * n
                if "api_keys" in tables:
                    n = c.execute(
                        text("SELECT count(*) FROM api_keys WHERE project = :p"), {"p": scope.metadata_scope}
                    ).scalar_one()
                    out.postgres += [f"api_keys:{scope.metadata_scope}"] * n
        if self.settings.kafka_bootstrap:
            out.kafka = self._kafka_topics(scope, topics)
        if self.settings.redis_url:
            out.redis = self._redis_keys(scope, limit=100)
        if self.settings.s3_endpoint:
            out.s3 = self._s3_keys(scope)
        return out

    def close(self) -> None:
        if self._pg is not None:
            self._pg.dispose()


class Regions:
    """The region clients by name, built from settings (tests may pass their own)."""

    def __init__(self, clients: dict[str, RegionClient]) -> None:
        self._clients = clients

    @classmethod
    def from_settings(cls, regions: dict[str, RegionSettings]) -> Regions:
        return cls({name: ServicesRegionClient(name, cfg) for name, cfg in regions.items()})

    def names(self) -> list[str]:
        return sorted(self._clients)

    def get(self, name: str) -> RegionClient:
        client = self._clients.get(name)
        if client is None:
            raise NotFound(f"region '{name}' is not known to this control plane; known: {self.names()}")
        return client

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

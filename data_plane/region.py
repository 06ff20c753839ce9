"""The shared resources of one region's data plane, built once per process.

Every service (REST API, Flight server, materializer) holds one :class:`Region`: one
metadata connection pool, one object store, one online store (whose connections every
project shares) and a bounded cache of :class:`FeatureStoreEngine`, one per project,
created on first use. Tenancy
decides which project a request may reach; the engine's catalog keeps every query
inside that project.
"""

from __future__ import annotations

import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from data_plane.catalog import Catalog
from data_plane.engine import FeatureStoreEngine
from data_plane.ingest.gateway import IngestGateway
from data_plane.ingest.topics import Topics
from data_plane.kubernetes_deployments import KubernetesConfig, KubernetesDeployments
from data_plane.layout import Layout
from data_plane.metadata.db import upgrade as upgrade_metadata
from data_plane.model_registry import ModelRegistry
from data_plane.offline.registry import open_offline_store
from data_plane.offline.s3 import S3Config, ensure_bucket
from data_plane.online.base import OnlineStore
from data_plane.online.registry import open_online_store, split_spec
from data_plane.query.memory import QueryMemory
from data_plane.quotas import QuotaGate
from data_plane.settings import DataPlaneSettings
from data_plane.supervisor import ProcessSupervisor
from granary_core.errors import BackendUnavailable, NotSupported
from tenancy.authn import ACCESS_CHANNEL, AccessEvents, RegionAuthenticator, connect_shared_redis
from tenancy.control_plane_client import ControlPlaneClient
from tenancy.db import upgrade as upgrade_tenancy
from tenancy.quotas import RateLimiter
from tenancy.store import KeyStore


def _metadata_engine(url: str) -> Engine:
    """A pooled engine sized for the REST thread pool; pre-ping survives PG restarts."""
    engine = create_engine(url, pool_size=10, max_overflow=30, pool_pre_ping=True)
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _utc(dbapi_connection: Any, _record: Any) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET TIME ZONE 'UTC'")

    return engine


def _control_plane(
    settings: DataPlaneSettings,
) -> tuple[ControlPlaneClient | None, AccessEvents | None, RateLimiter | None]:
    """The control plane client, its access-change listener and the shared rate buckets."""
    if not settings.control_plane_url:
        return None, None, None
    assert settings.control_plane_token and settings.control_plane_redis_url  # settings validate it
    client = ControlPlaneClient(
        settings.control_plane_url,
        settings.control_plane_token,
        cache_seconds=settings.key_cache_seconds,
        stale_seconds=settings.key_stale_seconds,
    )
    shared = connect_shared_redis(settings.control_plane_redis_url)
    prefix = settings.control_plane_redis_prefix
    events = AccessEvents(shared, f"{prefix}:{ACCESS_CHANNEL}", client)
    return client, events, RateLimiter(shared, prefix=f"{prefix}:rl")


def _kubernetes(settings: DataPlaneSettings) -> KubernetesDeployments | None:
    config = settings.kubernetes
    if config is None:
        return None
    return KubernetesDeployments(
        KubernetesConfig(
            host=config.host,
            token=config.token,
            namespace=config.namespace,
            image=config.image,
            ca_cert=config.ca_cert,
        )
    )


def migrate_metadata(metadata: Engine) -> None:
    """Bring the region's metadata and tenancy tables to head.

    Every service does this when it starts; any number may start at once (each history
    migrates under a PostgreSQL advisory lock, see :mod:`tenancy.migrate`).
    """
    upgrade_metadata(metadata)
    upgrade_tenancy(metadata)


class Region:
    def __init__(self, settings: DataPlaneSettings, migrate: bool = True) -> None:
        self.settings = settings
        self.layout = Layout(settings.namespace)
        self.metadata = _metadata_engine(settings.pg_url)
        if migrate:
            migrate_metadata(self.metadata)
        self.s3 = S3Config(
            endpoint=settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            bucket=settings.s3_bucket,
            region=settings.s3_region,
        )
        ensure_bucket(self.s3)
        self.offline = open_offline_store(settings.offline_store, settings.offline_store_config, self.s3)
        self.filesystem = self.s3.filesystem()
        self.keys = KeyStore(self.metadata, settings.key_cache_seconds)
        self.control_plane, self._access_events, limiter = _control_plane(settings)
        self.auth = RegionAuthenticator(self.keys, self.control_plane)
        self.quotas = QuotaGate(self.control_plane, limiter)
        self._sessions = sessionmaker(self.metadata, expire_on_commit=False)
        spec = settings.online_store_spec()
        #: The online store's type name ("redis", "sqlite"): what ``/health`` calls it.
        self.online_kind, online_config = split_spec(*spec) if spec else (None, {})
        #: The region's online store (one connection pool); projects get ``for_project`` views.
        self.online: OnlineStore | None = (
            open_online_store(self.online_kind, online_config, project="") if self.online_kind else None
        )
        # Least recently used first; ``_serving`` holds feature servers of cached engines only.
        self._engines: OrderedDict[str, FeatureStoreEngine] = OrderedDict()
        self._live: weakref.WeakValueDictionary[str, FeatureStoreEngine] = weakref.WeakValueDictionary()
        self._ingest: IngestGateway | None = None
        self._serving: dict[str, Any] = {}
        self._lock = threading.Lock()
        #: The processes of this region's running model deployments.
        self.deployments = ProcessSupervisor()
        #: The cluster running them instead, when ``GRANARY_KUBERNETES`` names one.
        self.kubernetes = _kubernetes(settings)
        self.deployments_dir = Path(tempfile.gettempdir()) / "granary-deployments" / settings.namespace
        #: Every project's DuckDB limit and spill directory (``GRANARY_QUERY_MEMORY_LIMIT``).
        self.query_memory = QueryMemory(
            settings.query_memory_limit,
            settings.query_temp_directory
            or str(Path(tempfile.gettempdir()) / "granary-duckdb" / settings.namespace),
        )

    def engine(self, project: str) -> FeatureStoreEngine:
        """The project's engine; the caller has already authorized ``project``."""
        with self._lock:
            engine = self._engines.get(project)
            if engine is not None:
                self._engines.move_to_end(project)
                return engine
            # An evicted engine still in use is taken back, so a project never has two
            # engines at once (each has its own write lock).
            engine = self._live.get(project)
            if engine is None:
                engine = FeatureStoreEngine(
                    Catalog(
                        self.metadata,
                        project,
                        region_id=self.settings.region_id,
                        fencing=self.settings.test_only_break != "no-fencing",
                    ),
                    self.offline,
                    offline_root=self.s3.uri(self.layout.offline_root()),
                    online=self.online_store(project),
                    memory=self.query_memory,
                )
                self._live[project] = engine
            self._engines[project] = engine
            while len(self._engines) > self.settings.engine_cache_size:
                evicted, _ = self._engines.popitem(last=False)
                self._serving.pop(evicted, None)
            return engine

    def cached_projects(self) -> list[str]:
        """Projects whose engines are cached, least recently used first."""
        with self._lock:
            return list(self._engines)

    def online_store(self, project: str) -> OnlineStore | None:
        """The project's view of the region's online store (None without one)."""
        if self.online is None:
            return None
        return self.online.for_project(self.layout.online_store_prefix(project))

    def serving(self, engine: FeatureStoreEngine) -> Any:
        """The project's feature server (plans cached per view), made on first use."""
        from data_plane.serving import FeatureServer

        with self._lock:
            project = engine.catalog.project
            server = self._serving.get(project)
            if server is None:
                if engine.online is None:
                    raise NotSupported("this region has no online store configured")
                server = FeatureServer(engine.catalog, engine.online)
                if self._engines.get(project) is engine:  # not for an engine evicted meanwhile
                    self._serving[project] = server
            return server

    def forget_serving(self, engine: FeatureStoreEngine, name: str, version: int) -> None:
        server = self._serving.get(engine.catalog.project)
        if server is not None:
            server.forget(name, version)

    def model_registry(self, engine: FeatureStoreEngine) -> ModelRegistry:
        """The project's model registry: its artifacts under the region's bucket."""
        root = self.s3.uri(self.layout.models_prefix(engine.catalog.project)).removeprefix("s3://")
        return ModelRegistry(engine.catalog, self.filesystem, root)

    def training_root(self, project: str) -> str:
        return self.s3.uri(self.layout.training_prefix(project))

    def forget_project(self, project: str) -> None:
        """Drop the project's cached engine and feature server (it is being deleted)."""
        with self._lock:
            self._engines.pop(project, None)
            self._live.pop(project, None)
            self._serving.pop(project, None)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A metadata unit of work outside any project (ingestion bookkeeping)."""
        with self._sessions() as session, session.begin():
            yield session

    @property
    def ingest(self) -> IngestGateway:
        """The Kafka producer side, made on first use (Flight and the materializer never do)."""
        with self._lock:
            if self._ingest is None:
                topics = Topics(
                    self.settings.kafka_bootstrap,
                    self.settings.namespace,
                    replication_factor=self.settings.topic_replication_factor,
                )
                self._ingest = IngestGateway(
                    self.settings.kafka_bootstrap,
                    topics,
                    drop_every=20 if self.settings.test_only_break == "drop-writes" else 0,
                )
            return self._ingest

    def check_object_store(self) -> None:
        info = self.filesystem.get_file_info(self.s3.bucket)
        if info.type == pafs.FileType.NotFound:
            raise BackendUnavailable(f"bucket {self.s3.bucket} is missing")

    def check_metadata(self) -> None:
        with self.metadata.connect() as connection:
            connection.execute(text("SELECT 1"))

    def close(self) -> None:
        self.deployments.close()
        if self.kubernetes is not None:
            self.kubernetes.close()
        if self._access_events is not None:
            self._access_events.close()
        if self.control_plane is not None:
            self.control_plane.close()
        if self._ingest is not None:
            self._ingest.close()
            self._ingest.topics.close()
        if self.online is not None:
            self.online.close()
        self.metadata.dispose()

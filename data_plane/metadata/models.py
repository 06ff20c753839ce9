"""The metadata schema: one SQLAlchemy model set for SQLite (embedded) and PostgreSQL.

Feature data never lives here, only what describes it: groups, their commits (the
time-travel index into the offline table's versions), views and training datasets.

The tables come in two sets, one declarative base each:

- the **catalog** (:class:`CatalogBase`): what every region must see to serve a
  project (projects, feature groups, feature views, training datasets). A project's
  rows are replicated from its home region to the others, so ids are UUIDv7
  (:mod:`granary_core.ids`), never a sequence, and every row names its project
  (``project_id``; a project row is its own ``id``): a region's publication is
  filtered by the projects it homes, so a project moves between regions without any
  of its rows being rewritten.
- **region-local state** (:class:`RegionBase`): what one region's stores did (commits
  into this region's Delta tables, offsets of this region's Kafka cluster, failed
  messages). Another region has its own and must never receive these rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from granary_core.ids import ID_LENGTH, new_id
from granary_core.sqltypes import UTCDateTime, utcnow


class Base(DeclarativeBase):
    """One metadata (and so one Alembic history) holding both sets of tables."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class CatalogBase(Base):
    """A catalog table: replicated from its project's home region to every other region."""

    __abstract__ = True

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)


class RegionBase(Base):
    """Region-local state: what this region's own stores did; never replicated."""

    __abstract__ = True


def published_tables() -> list[str]:
    """What a region's publication carries: the catalog and the heartbeats."""
    return [*catalog_tables(), HeartbeatRecord.__tablename__]


def catalog_tables() -> list[str]:
    """The tables a region publishes, parents first (the order subscribers apply them)."""
    return [t.name for t in Base.metadata.sorted_tables if t.name in _CATALOG]


def project_column(table: str) -> str:
    """The column of a catalog table naming the project its rows belong to."""
    return "id" if table == ProjectRecord.__tablename__ else "project_id"


def replica_identity(table: str) -> str | None:
    """The unique index a catalog table replicates by (None: its primary key).

    A publication that filters rows by project and publishes updates and deletes may
    filter only on replica identity columns (PostgreSQL 15), so each table's identity
    is ``(id, project_id)``: unique because ``id`` is."""
    return None if table == ProjectRecord.__tablename__ else f"{table}_replica_identity"


def region_tables() -> list[str]:
    """This region's own tables: never published."""
    published = set(published_tables())
    return [t.name for t in Base.metadata.sorted_tables if t.name not in published]


class ProjectRecord(CatalogBase):
    __tablename__ = "projects"

    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: active, deleting or deleted (a tombstone): see :mod:`data_plane.lifecycle`.
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    #: The project's groups that were deleted (one by one, or all with the project): the
    #: copies of their topics in other regions are found by these ids once the catalog
    #: rows are gone.
    deleted_group_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


class FeatureGroupRecord(CatalogBase):
    __tablename__ = "feature_groups"
    __table_args__ = (
        UniqueConstraint("project_id", "name", "version"),
        UniqueConstraint("id", "project_id", name="feature_groups_replica_identity"),
    )

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(256))
    version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    primary_key: Mapped[list[Any]] = mapped_column(JSON)
    event_time: Mapped[str | None] = mapped_column(String(256), nullable=True)
    partition_key: Mapped[list[Any]] = mapped_column(JSON, default=list)
    online_enabled: Mapped[bool] = mapped_column(default=False)
    ttl_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    features: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    transformations: Mapped[list[Any]] = mapped_column(JSON, default=list)
    location: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: feature name -> its description (names without data yet are kept too)
    feature_descriptions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: tag name -> JSON value, as Hopsworks' fg.add_tag
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Hopsworks' statistics_config: {"enabled", "histograms", "correlations", "columns"}
    statistics_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: the expectation suite inserts are validated against, with its ingestion policy
    expectation_suite: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class CommitRecord(RegionBase):
    """A version of a group's Delta table in this region: the time-travel index.

    Region-local: a standby region materializes the same rows into its own table, whose
    versions and Kafka offsets are its own."""

    __tablename__ = "commits"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    feature_group_id: Mapped[str] = mapped_column(
        ForeignKey("feature_groups.id", ondelete="CASCADE"), index=True
    )
    table_version: Mapped[int] = mapped_column(Integer)
    committed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    operation: Mapped[str] = mapped_column(String(32))
    rows_inserted: Mapped[int] = mapped_column(Integer, default=0)
    rows_updated: Mapped[int] = mapped_column(Integer, default=0)
    rows_deleted: Mapped[int] = mapped_column(Integer, default=0)
    # Last Kafka offset this commit consumed (remote ingestion); None for direct writes.
    source_offset: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The routing epoch its rows were accepted under (data_plane.routing).
    epoch: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: what the written rows look like (data_plane.statistics.describe), when enabled
    statistics: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)


class ValidationReportRecord(RegionBase):
    """One insert's validation against its group's expectation suite.

    Region-local, like a commit: it describes an insert this region accepted or refused.
    ``feature_group_id`` has no foreign key on purpose: the ingest gateway validates
    while it holds the group's row ``FOR UPDATE``, which a foreign key check would wait
    on; reports go with their group in ``Catalog.delete_group``.
    """

    __tablename__ = "validation_reports"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    feature_group_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    validated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    success: Mapped[bool] = mapped_column()
    #: INGESTED or REJECTED (a STRICT suite refused the rows)
    ingestion_result: Mapped[str] = mapped_column(String(16))
    report: Mapped[dict[str, Any]] = mapped_column(JSON)


class IngestCheckpointRecord(RegionBase):
    """Next Kafka offset to consume per topic partition: ``next_offset`` moves with each
    offline commit, ``online_next_offset`` as the online store catches up (it may run
    ahead of the offline side, never behind what a ``wait=True`` writer was told)."""

    __tablename__ = "ingest_checkpoints"

    topic: Mapped[str] = mapped_column(String(249), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    online_next_offset: Mapped[int] = mapped_column(BigInteger, default=0)


class IngestFailureRecord(RegionBase):
    """A message the materializer could not apply; the waiting writer reads why."""

    __tablename__ = "ingest_failures"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    topic: Mapped[str] = mapped_column(String(249), index=True)
    partition: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FeatureViewRecord(CatalogBase):
    __tablename__ = "feature_views"
    __table_args__ = (
        UniqueConstraint("project_id", "name", "version"),
        UniqueConstraint("id", "project_id", name="feature_views_replica_identity"),
    )

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(256))
    version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    query: Mapped[dict[str, Any]] = mapped_column(JSON)
    labels: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: Features of the query read only when asked (Hopsworks' helper columns).
    inference_helper_columns: Mapped[list[Any]] = mapped_column(JSON, default=list)
    training_helper_columns: Mapped[list[Any]] = mapped_column(JSON, default=list)
    transformations: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TrainingDatasetRecord(CatalogBase):
    __tablename__ = "training_datasets"
    __table_args__ = (
        UniqueConstraint("feature_view_id", "version"),
        UniqueConstraint("id", "project_id", name="training_datasets_replica_identity"),
    )

    #: The view's project, repeated so that a publication can filter the row by project.
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    feature_view_id: Mapped[str] = mapped_column(
        ForeignKey("feature_views.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    data_format: Mapped[str] = mapped_column(String(16))
    location: Mapped[str] = mapped_column(Text)
    query_sql: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    statistics: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ModelRecord(CatalogBase):
    """A model version of the registry: catalog metadata (every region must see it).

    Lineage is by name and version, not by foreign key: deleting a feature view or a
    training dataset that a model names is refused by the catalog (``InUse``), so the
    model never points at something gone, and the model outlives no lineage silently.
    """

    __tablename__ = "models"
    __table_args__ = (
        UniqueConstraint("project_id", "name", "version"),
        UniqueConstraint("id", "project_id", name="models_replica_identity"),
        Index("ix_models_lineage", "project_id", "feature_view", "feature_view_version"),
    )

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(256))
    version: Mapped[int] = mapped_column(Integer)
    framework: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    input_example: Mapped[Any] = mapped_column(JSON, nullable=True)
    model_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    feature_view: Mapped[str | None] = mapped_column(String(256), nullable=True)
    feature_view_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    training_dataset_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    artifacts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: "uploading" until every artifact of the manifest is stored, then "ready".
    state: Mapped[str] = mapped_column(String(16), default="uploading")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeploymentRecord(CatalogBase):
    """A model deployment: catalog metadata (every region must see it). Its processes
    are region-local and not recorded: the region that runs it supervises them.

    ``tenant_id`` is the tenant that last started it (None for operator keys and
    embedded), so the ``model_deployments`` quota counts a tenant's running deployments
    across its projects.
    """

    __tablename__ = "deployments"
    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        UniqueConstraint("id", "project_id", name="deployments_replica_identity"),
    )

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(256))
    model_name: Mapped[str] = mapped_column(String(256))
    model_version: Mapped[int] = mapped_column(Integer)
    #: The predictor script's source (a class ``Predict``), as the SDK read it.
    script: Mapped[str] = mapped_column(Text)
    resources: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: RUNNING or STOPPED: what the user asked for; the live state is the supervisor's.
    desired_state: Mapped[str] = mapped_column(String(16), default="STOPPED")
    tenant_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HeartbeatRecord(Base):
    """A region's heartbeat: each region writes its own row, which its publication
    carries to the others (see :mod:`data_plane.heartbeat`). Neither catalog nor
    region-local: published, but filtered by region, not by project."""

    __tablename__ = "replication_heartbeats"

    region_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    beat_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class HomedProjectRecord(RegionBase):
    """A project this region is home to: the region's publication carries its rows.
    Region-local: each region knows what it homes (see :mod:`data_plane.publication`)."""

    __tablename__ = "homed_projects"

    project_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    since: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    #: The routing epoch it is homed under: writes carrying another are refused
    #: (:mod:`data_plane.routing`).
    epoch: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


_CATALOG = frozenset(m.__tablename__ for m in CatalogBase.__subclasses__())

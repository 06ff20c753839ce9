"""The metadata repository: every read and write of feature-store metadata.

All queries are scoped to one project here, so no caller can reach another project's
objects by forgetting a filter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from data_plane import lifecycle, publication, routing
from data_plane.metadata.models import (
    CommitRecord,
    FeatureGroupRecord,
    FeatureViewRecord,
    IngestCheckpointRecord,
    ModelRecord,
    ProjectRecord,
    TrainingDatasetRecord,
    ValidationReportRecord,
)
from granary_core.errors import (
    AlreadyExists,
    FeatureGroupNotFound,
    FeatureViewNotFound,
    InUse,
    TrainingDatasetNotFound,
)
from granary_core.ids import new_id
from granary_core.specs import (
    CommitInfo,
    FeatureGroupInfo,
    FeatureInfo,
    FeatureViewInfo,
    TrainingDatasetInfo,
)


@dataclass(frozen=True)
class Checkpoint:
    """An ingestion position: the last Kafka offset of ``topic``/``partition`` consumed.

    Recorded in the same transaction as the commit that consumed it, so a restarted
    materializer resumes exactly after the last write that became visible.
    """

    topic: str
    partition: int
    offset: int
    #: The routing epoch the consumed records were accepted under (their commit's).
    epoch: int = 0


def save_checkpoint(session: Session, checkpoint: Checkpoint) -> None:
    """Move a topic partition's checkpoint forward inside the caller's transaction."""
    record = session.get(IngestCheckpointRecord, (checkpoint.topic, checkpoint.partition))
    if record is None:
        session.add(
            IngestCheckpointRecord(
                topic=checkpoint.topic, partition=checkpoint.partition, next_offset=checkpoint.offset + 1
            )
        )
    else:
        record.next_offset = max(record.next_offset, checkpoint.offset + 1)


def _group_info(record: FeatureGroupRecord) -> FeatureGroupInfo:
    features = [
        FeatureInfo(
            name=f["name"],
            type=f["type"],
            primary=f["name"] in record.primary_key,
            event_time=f["name"] == record.event_time,
            description=(record.feature_descriptions or {}).get(f["name"], ""),
        )
        for f in record.features or []
    ]
    return FeatureGroupInfo(
        id=record.id,
        name=record.name,
        version=record.version,
        description=record.description,
        primary_key=list(record.primary_key),
        event_time=record.event_time,
        partition_key=list(record.partition_key or []),
        online_enabled=record.online_enabled,
        ttl_seconds=record.ttl_seconds,
        features=features,
        transformations=list(record.transformations or []),
        location=record.location,
        created_at=record.created_at,
        feature_descriptions=dict(record.feature_descriptions or {}),
        tags=dict(record.tags or {}),
        statistics_config=dict(record.statistics_config or {}),
        expectation_suite=record.expectation_suite,
    )


def _commit_info(record: CommitRecord) -> CommitInfo:
    return CommitInfo(
        commit_id=record.id,
        table_version=record.table_version,
        committed_at=record.committed_at,
        operation=record.operation,
        rows_inserted=record.rows_inserted,
        rows_updated=record.rows_updated,
        rows_deleted=record.rows_deleted,
        epoch=record.epoch,
    )


def _commit_statistics(record: CommitRecord) -> dict[str, Any]:
    return {
        "commit_id": record.id,
        "committed_at": record.committed_at.isoformat(),
        "statistics": record.statistics,
    }


def _view_info(record: FeatureViewRecord) -> FeatureViewInfo:
    return FeatureViewInfo(
        id=record.id,
        name=record.name,
        version=record.version,
        description=record.description,
        query=record.query,
        labels=list(record.labels),
        transformations=list(record.transformations or []),
        created_at=record.created_at,
        inference_helper_columns=list(record.inference_helper_columns or []),
        training_helper_columns=list(record.training_helper_columns or []),
    )


class Catalog:
    def __init__(self, engine: Engine, project: str, region_id: str = "local", fencing: bool = True) -> None:
        """A project used here first is made here, and this region (``region_id``) is its
        home: it takes the project's writes (:mod:`data_plane.routing`). ``fencing``
        False (a deliberately broken build, ``test_only_break``) takes them anyway."""
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.region_id = region_id
        self._fencing = fencing
        with self.session() as session:
            record = session.scalar(select(ProjectRecord).where(ProjectRecord.name == project))
            if record is None:
                record = ProjectRecord(id=new_id(), name=project)
                # homed before its row exists, so the row's insert is published too
                publication.home(session.connection(), region_id, [record.id])
                session.add(record)
                session.flush()
            self.project_id = record.id
        self.project = project

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the project's deletion fence over the ``with`` block (see
        :mod:`data_plane.lifecycle`); 404 when the project is being or was deleted.
        The block must not take the fence again."""
        with self.session() as session:
            self.refuse_unless_writable(session)
            yield

    def refuse_unless_writable(self, session: Session) -> int:
        """Hold the project's fence in ``session``'s transaction and check that a write
        may go on here: 404 for a deleted project, ``Moved``/``Fenced`` when this region
        does not take its writes. Returns the routing epoch the write is accepted under."""
        connection = session.connection()
        lifecycle.refuse_unless_active(connection, self.project)
        if not self._fencing:
            return routing.homed_epoch(connection, self.project_id) or 0
        return routing.refuse_unless_home(connection, self.project, self.project_id, self.region_id)

    # feature groups ---------------------------------------------------------------
    def _group(self, session: Session, name: str, version: int | None) -> FeatureGroupRecord:
        query = select(FeatureGroupRecord).where(
            FeatureGroupRecord.project_id == self.project_id, FeatureGroupRecord.name == name
        )
        if version is None:
            query = query.order_by(FeatureGroupRecord.version.desc()).limit(1)
        else:
            query = query.where(FeatureGroupRecord.version == version)
        record = session.scalar(query)
        if record is None:
            at = "any version" if version is None else f"version {version}"
            raise FeatureGroupNotFound(
                f"feature group '{name}' {at} does not exist in project '{self.project}'"
            )
        return record

    def create_group(self, *, admit: Callable[[int], None] | None = None, **fields: Any) -> FeatureGroupInfo:
        """Insert a feature group.

        Args:
            admit: called with the project's current number of feature groups before the
                insert, raising to refuse it (a quota). The count runs under a lock of the
                project's row that the inserting transaction holds until it commits, so
                concurrent creates are counted one after another, never past a limit.
                (SQLite has no row locks; it serializes writers itself.)
        """
        try:
            with self.session() as session:
                if admit is not None:
                    session.execute(
                        select(ProjectRecord.id).where(ProjectRecord.id == self.project_id).with_for_update()
                    )
                    admit(
                        session.scalar(
                            select(func.count())
                            .select_from(FeatureGroupRecord)
                            .where(FeatureGroupRecord.project_id == self.project_id)
                        )
                        or 0
                    )
                record = FeatureGroupRecord(project_id=self.project_id, **fields)
                session.add(record)
                session.flush()
                return _group_info(record)
        except IntegrityError as exc:
            raise AlreadyExists(
                f"feature group '{fields['name']}' version {fields['version']} already exists"
            ) from exc

    def get_group(self, name: str, version: int | None = None) -> FeatureGroupInfo:
        with self.session() as session:
            return _group_info(self._group(session, name, version))

    def next_group_version(self, name: str) -> int:
        with self.session() as session:
            latest = session.scalar(
                select(func.max(FeatureGroupRecord.version)).where(
                    FeatureGroupRecord.project_id == self.project_id, FeatureGroupRecord.name == name
                )
            )
        return (latest or 0) + 1

    def list_groups(self, name: str | None = None) -> list[FeatureGroupInfo]:
        query = select(FeatureGroupRecord).where(FeatureGroupRecord.project_id == self.project_id)
        if name is not None:
            query = query.where(FeatureGroupRecord.name == name)
        with self.session() as session:
            records = session.scalars(query.order_by(FeatureGroupRecord.name, FeatureGroupRecord.version))
            return [_group_info(r) for r in records]

    def update_group(self, name: str, version: int, changes: dict[str, Any]) -> FeatureGroupInfo:
        """Set the given fields (``granary_core.specs.GROUP_UPDATES``) of one group version."""
        with self.session() as session:
            record = self._group(session, name, version)
            for field_name, value in changes.items():
                setattr(record, field_name, value)
            session.flush()
            return _group_info(record)

    def delete_group(self, name: str, version: int) -> FeatureGroupInfo:
        """Delete the group's row; the project's row keeps its id among its deleted groups,
        so a deletion of the project finds the copies of its topic that other regions
        (standbys) still hold once this row is gone there too."""
        with self.session() as session:
            record = self._group(session, name, version)
            info = _group_info(record)
            session.execute(
                delete(ValidationReportRecord).where(
                    ValidationReportRecord.feature_group_id == str(record.id)
                )
            )
            project = session.execute(
                select(ProjectRecord).where(ProjectRecord.id == self.project_id).with_for_update()
            ).scalar_one()
            project.deleted_group_ids = [*(project.deleted_group_ids or ()), str(record.id)]
            session.delete(record)
            return info

    def add_validation_report(self, group_id: Any, report: dict[str, Any], ingested: bool) -> None:
        with self.session() as session:
            session.add(
                ValidationReportRecord(
                    feature_group_id=str(group_id),
                    success=bool(report["success"]),
                    ingestion_result="INGESTED" if ingested else "REJECTED",
                    report=report,
                )
            )

    def validation_reports(self, group_id: Any, limit: int | None = None) -> list[dict[str, Any]]:
        """Reports of a group, newest first: the report with its id, time and ingestion result."""
        query = (
            select(ValidationReportRecord)
            .where(ValidationReportRecord.feature_group_id == str(group_id))
            .order_by(ValidationReportRecord.id.desc())
            .limit(limit)
        )
        with self.session() as session:
            return [
                {
                    **r.report,
                    "id": r.id,
                    "validated_at": r.validated_at.isoformat(),
                    "ingestion_result": r.ingestion_result,
                }
                for r in session.scalars(query)
            ]

    def record_commit(
        self,
        group_id: str,
        features: list[dict[str, str]],
        operation: str,
        table_version: int,
        rows_inserted: int = 0,
        rows_updated: int = 0,
        rows_deleted: int = 0,
        source: Checkpoint | None = None,
        statistics: dict[str, Any] | None = None,
    ) -> CommitInfo:
        """Record a new table version and the schema it has, in one transaction.

        With ``source``, the ingestion checkpoint moves in that same transaction.
        ``statistics`` describe the rows written (``data_plane.statistics.describe``).
        """
        with self.session() as session:
            group = session.get(FeatureGroupRecord, group_id)
            if group is None:
                raise FeatureGroupNotFound(f"feature group id {group_id} was deleted during the write")
            group.features = features
            commit = CommitRecord(
                feature_group_id=group_id,
                table_version=table_version,
                operation=operation,
                rows_inserted=rows_inserted,
                rows_updated=rows_updated,
                rows_deleted=rows_deleted,
                source_offset=None if source is None else source.offset,
                epoch=self._epoch(session) if source is None else source.epoch,
                statistics=statistics,
            )
            session.add(commit)
            if source is not None:
                save_checkpoint(session, source)
            session.flush()
            return _commit_info(commit)

    def _epoch(self, session: Session) -> int:
        """The epoch this region writes the project under (0 where it has no routing)."""
        connection = session.connection()
        if connection.dialect.name != "postgresql":
            return 0
        return routing.homed_epoch(connection, self.project_id) or 0

    def commit_statistics(self, group_id: str, at: dt.datetime | None = None) -> dict[str, Any] | None:
        """The newest commit with statistics at or before ``at`` (default: now):
        ``{"commit_id", "committed_at", "statistics"}``, or None."""
        query = select(CommitRecord).where(
            CommitRecord.feature_group_id == group_id, CommitRecord.statistics.is_not(None)
        )
        if at is not None:
            query = query.where(CommitRecord.committed_at <= at)
        with self.session() as session:
            record = session.scalar(query.order_by(CommitRecord.table_version.desc()).limit(1))
            return None if record is None else _commit_statistics(record)

    def store_commit_statistics(
        self, group_id: str, commit_id: str, statistics: dict[str, Any]
    ) -> dict[str, Any]:
        """Replace the statistics of one of the group's commits (``fg.compute_statistics()``
        describing the rows visible at it); returned as :meth:`commit_statistics` returns
        them. Like the commit, they stay in this region: commits are region-local."""
        query = select(CommitRecord).where(
            CommitRecord.id == commit_id, CommitRecord.feature_group_id == group_id
        )
        with self.session() as session:
            record = session.scalar(query)
            if record is None:
                raise FeatureGroupNotFound(
                    f"commit {commit_id} of feature group id {group_id} was deleted while its "
                    "statistics were computed"
                )
            record.statistics = statistics
            session.flush()
            return _commit_statistics(record)

    def commit_at(self, group_id: str, at: dt.datetime | None = None) -> CommitInfo | None:
        """The commit visible at ``at`` (default: now): the newest at or before it, or
        None before the group's first commit."""
        query = select(CommitRecord).where(CommitRecord.feature_group_id == group_id)
        if at is not None:
            query = query.where(CommitRecord.committed_at <= at)
        with self.session() as session:
            record = session.scalar(query.order_by(CommitRecord.table_version.desc()).limit(1))
            return None if record is None else _commit_info(record)

    def commits(self, group_id: str, limit: int | None = None) -> list[CommitInfo]:
        query = (
            select(CommitRecord)
            .where(CommitRecord.feature_group_id == group_id)
            .order_by(CommitRecord.table_version.desc())
            .limit(limit)
        )
        with self.session() as session:
            return [_commit_info(r) for r in session.scalars(query)]

    def version_at(self, group_id: str, wallclock: dt.datetime | None) -> int:
        """The table version visible at ``wallclock`` (now if None); -1 before any commit."""
        query = select(CommitRecord.table_version).where(CommitRecord.feature_group_id == group_id)
        if wallclock is not None:
            query = query.where(CommitRecord.committed_at <= wallclock)
        query = query.order_by(CommitRecord.table_version.desc()).limit(1)
        with self.session() as session:
            version = session.scalar(query)
        return -1 if version is None else version

    # feature views ----------------------------------------------------------------
    def _view(self, session: Session, name: str, version: int | None) -> FeatureViewRecord:
        query = select(FeatureViewRecord).where(
            FeatureViewRecord.project_id == self.project_id, FeatureViewRecord.name == name
        )
        if version is None:
            query = query.order_by(FeatureViewRecord.version.desc()).limit(1)
        else:
            query = query.where(FeatureViewRecord.version == version)
        record = session.scalar(query)
        if record is None:
            at = "any version" if version is None else f"version {version}"
            raise FeatureViewNotFound(
                f"feature view '{name}' {at} does not exist in project '{self.project}'"
            )
        return record

    def create_view(self, **fields: Any) -> FeatureViewInfo:
        try:
            with self.session() as session:
                record = FeatureViewRecord(project_id=self.project_id, **fields)
                session.add(record)
                session.flush()
                return _view_info(record)
        except IntegrityError as exc:
            raise AlreadyExists(
                f"feature view '{fields['name']}' version {fields['version']} already exists"
            ) from exc

    def get_view(self, name: str, version: int | None = None) -> FeatureViewInfo:
        with self.session() as session:
            return _view_info(self._view(session, name, version))

    def next_view_version(self, name: str) -> int:
        with self.session() as session:
            latest = session.scalar(
                select(func.max(FeatureViewRecord.version)).where(
                    FeatureViewRecord.project_id == self.project_id, FeatureViewRecord.name == name
                )
            )
        return (latest or 0) + 1

    def list_views(self, name: str | None = None) -> list[FeatureViewInfo]:
        query = select(FeatureViewRecord).where(FeatureViewRecord.project_id == self.project_id)
        if name is not None:
            query = query.where(FeatureViewRecord.name == name)
        with self.session() as session:
            records = session.scalars(query.order_by(FeatureViewRecord.name, FeatureViewRecord.version))
            return [_view_info(r) for r in records]

    def _refuse_if_models_use(
        self, session: Session, what: str, name: str, version: int, td_version: int | None = None
    ) -> None:
        """Lineage: a model trained on the view (or on that training dataset) keeps it."""
        query = select(ModelRecord.name, ModelRecord.version).where(
            ModelRecord.project_id == self.project_id,
            ModelRecord.feature_view == name,
            ModelRecord.feature_view_version == version,
        )
        if td_version is not None:
            query = query.where(ModelRecord.training_dataset_version == td_version)
        users = session.execute(query.order_by(ModelRecord.name, ModelRecord.version)).all()
        if users:
            named = ", ".join(f"'{n}' v{v}" for n, v in users)
            raise InUse(
                f"{what} is used by model {named} in project '{self.project}': delete the model first"
            )

    def delete_view(self, name: str, version: int) -> None:
        with self.session() as session:
            record = self._view(session, name, version)
            self._refuse_if_models_use(session, f"feature view '{name}' v{version}", name, version)
            session.delete(record)

    # training datasets --------------------------------------------------------------
    def _td_info(self, view: FeatureViewRecord, record: TrainingDatasetRecord) -> TrainingDatasetInfo:
        return TrainingDatasetInfo(
            feature_view=view.name,
            feature_view_version=view.version,
            version=record.version,
            description=record.description,
            data_format=record.data_format,
            location=record.location,
            query_sql=record.query_sql,
            options=record.options,
            statistics=record.statistics,
            created_at=record.created_at,
        )

    def next_training_dataset_version(self, view_name: str, view_version: int) -> int:
        with self.session() as session:
            view = self._view(session, view_name, view_version)
            latest = session.scalar(
                select(func.max(TrainingDatasetRecord.version)).where(
                    TrainingDatasetRecord.feature_view_id == view.id
                )
            )
        return (latest or 0) + 1

    def create_training_dataset(
        self, view_name: str, view_version: int, **fields: Any
    ) -> TrainingDatasetInfo:
        with self.session() as session:
            view = self._view(session, view_name, view_version)
            record = TrainingDatasetRecord(project_id=self.project_id, feature_view_id=view.id, **fields)
            session.add(record)
            session.flush()
            return self._td_info(view, record)

    def _training_dataset(
        self, session: Session, view_name: str, view_version: int, version: int
    ) -> tuple[FeatureViewRecord, TrainingDatasetRecord]:
        view = self._view(session, view_name, view_version)
        record = session.scalar(
            select(TrainingDatasetRecord).where(
                TrainingDatasetRecord.feature_view_id == view.id,
                TrainingDatasetRecord.version == version,
            )
        )
        if record is None:
            raise TrainingDatasetNotFound(
                f"feature view '{view_name}' v{view_version} has no training dataset version {version}"
            )
        return view, record

    def get_training_dataset(self, view_name: str, view_version: int, version: int) -> TrainingDatasetInfo:
        with self.session() as session:
            return self._td_info(*self._training_dataset(session, view_name, view_version, version))

    def delete_training_dataset(self, view_name: str, view_version: int, version: int) -> TrainingDatasetInfo:
        """Forget a training dataset version (the caller removes its files); refused while
        a model names it."""
        with self.session() as session:
            view, record = self._training_dataset(session, view_name, view_version, version)
            what = f"training dataset version {version} of feature view '{view_name}' v{view_version}"
            self._refuse_if_models_use(session, what, view_name, view_version, version)
            info = self._td_info(view, record)
            session.delete(record)
            return info

    def list_training_datasets(self, view_name: str, view_version: int) -> list[TrainingDatasetInfo]:
        with self.session() as session:
            view = self._view(session, view_name, view_version)
            records = session.scalars(
                select(TrainingDatasetRecord)
                .where(TrainingDatasetRecord.feature_view_id == view.id)
                .order_by(TrainingDatasetRecord.version)
            )
            return [self._td_info(view, r) for r in records]

"""What the control plane asks of a region about one project: provision it, delete
it, show what of it is left, and measure it. Served by ``/admin/v1`` (region token).

Deletion is complete because writers are fenced out first (:mod:`data_plane.lifecycle`):
once the project is marked ``deleting`` no REST write, materialized record or online
row of it can land, so what is removed next stays removed:

1. Kafka: its feature groups' topics, waited for until Kafka no longer lists them
   (deletion finishes in the background, and a listed topic would count as residue);
0. its running model deployments' processes are stopped (their keys revoked);
2. S3: every object under its prefixes (offline tables, training datasets, models);
3. the online store: every row of the project (its ``drop_project``);
4. metadata: its groups (their commits cascade), views (their training datasets
   cascade), models, deployments, operator keys and the ingestion bookkeeping of its topics; its
   ``projects`` row stays as the ``deleted`` tombstone that keeps it fenced.

Metadata goes last, since it is what finds the topics: every step is idempotent, so a
deletion interrupted anywhere is finished by calling it again.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow.fs as pafs
from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from data_plane import lifecycle, publication, routing
from data_plane.layout import ProjectLayout
from data_plane.metadata.models import (
    DeploymentRecord,
    FeatureGroupRecord,
    FeatureViewRecord,
    IngestCheckpointRecord,
    IngestFailureRecord,
    ModelRecord,
    ProjectRecord,
)
from data_plane.offline.s3 import delete_tree
from data_plane.region import Region
from data_plane.usage import project_sizes
from granary_core.errors import AlreadyExists, BackendUnavailable, Fenced, NotFound
from granary_core.ids import new_id
from tenancy.models import ApiKeyRecord

#: Longest wait for Kafka to finish deleting a project's topics, in seconds.
TOPIC_DELETION_SECONDS = 60.0
#: At most this many names of each kind are listed in a residue report.
RESIDUE_LIMIT = 100


class ProjectAdmin:
    """Provisioning, deletion, residue and usage of the region's projects."""

    def __init__(self, region: Region) -> None:
        self.region = region

    # provisioning ---------------------------------------------------------------------
    def provision(self, project: str) -> ProjectLayout:
        """Make the project exist here (idempotent); where its data will live.

        A deleted project's name is not used again: its tombstone fences it for good.
        """
        try:
            with self.region.metadata.begin() as connection:
                status = lifecycle.status_of(connection, project)
                if status is None:
                    # homed before its row exists, so the row's insert is published too
                    project_id = new_id()
                    publication.home(connection, self.region.settings.region_id, [project_id])
                    connection.execute(insert(ProjectRecord).values(id=project_id, name=project))
                    status = lifecycle.ACTIVE
        except IntegrityError:  # created by its first use at the same moment
            with self.region.metadata.connect() as connection:
                status = lifecycle.status_of(connection, project)
        if status != lifecycle.ACTIVE:
            raise AlreadyExists(f"project '{project}' is {status} in this region; use a new name")
        return self._layout(project)

    # routing --------------------------------------------------------------------------
    def routing(self, project: str) -> int | None:
        """The epoch this region takes the project's writes under; None when it does not."""
        with self.region.metadata.connect() as connection:
            return routing.homed_epoch(connection, self._project_id(connection, project))

    def home(self, project: str, epoch: int, lost: str | None = None) -> int:
        """Take the project's writes from now on, under ``epoch`` (idempotent); refused
        with ``Fenced`` when this region already writes it under a newer epoch. The
        project must be here (provisioned, or its catalog rows replicated).

        ``lost``: a failover from that region; this one stops receiving its catalog first,
        so nothing it still commits (cut off, not dead) arrives here, and no project is
        published from both (which would send changes back and forth).
        """
        with self.region.metadata.begin() as connection:
            if lost is not None:
                publication.stop_receiving(connection, lost)
            project_id = self._project_id(connection, project)
            current = routing.homed_epoch(connection, project_id)
            if current is not None and current > epoch:
                raise Fenced(f"project '{project}' is written here under epoch {current}, newer than {epoch}")
            publication.home(connection, self.region.settings.region_id, [project_id], epoch)
        for group_id in self._group_ids(project):  # so the materializer finds them at once
            self.region.ingest.topics.ensure(group_id)
        return epoch

    def copied_until(self, project: str, source: str) -> dict[str, int | None]:
        """Per group topic of the project mirrored here from ``source``: the timestamp
        (epoch ms) of the newest record copied (None: none yet). After a failover from
        ``source``, its writes acknowledged after that time may be lost."""
        layout = self.region.layout
        mirrored = [layout.mirrored_group_topic(source, group_id) for group_id in self._group_ids(project)]
        return self.region.ingest.topics.last_record_times(mirrored)

    def unhome(self, project: str) -> int | None:
        """Stop taking the project's writes: once this returns, no write of it is under
        way here and every later one is refused with ``Moved``. Returns the epoch it was
        written under (None when it was not homed here)."""
        with self.region.metadata.begin() as connection:
            lifecycle.drain(connection, project)
            project_id = self._project_id(connection, project)
            epoch = routing.homed_epoch(connection, project_id)
            publication.unhome(connection, self.region.settings.region_id, [project_id])
        return epoch

    def fence(self, project: str, epoch: int) -> int | None:
        """Stop taking the project's writes if this region takes them under an epoch
        older than ``epoch`` (the control plane's, after a failover away from here);
        a home under ``epoch`` or newer is left alone, so a fence that arrives late
        never unhomes a project that has since moved back. Returns the epoch it stopped
        writing under (None: nothing to fence)."""
        with self.region.metadata.begin() as connection:
            lifecycle.drain(connection, project)
            project_id = self._project_id(connection, project)
            current = routing.homed_epoch(connection, project_id)
            if current is None or current >= epoch:
                return None
            publication.unhome(connection, self.region.settings.region_id, [project_id])
        return current

    @staticmethod
    def _project_id(connection: Connection, project: str) -> str:
        project_id = connection.scalar(
            select(ProjectRecord.id).where(
                ProjectRecord.name == project, ProjectRecord.status == lifecycle.ACTIVE
            )
        )
        if project_id is None:
            raise NotFound(f"project '{project}' is not in this region (or is deleted)")
        return project_id

    # deletion -------------------------------------------------------------------------
    def delete(self, project: str, group_ids: Sequence[str] = (), copy: bool = False) -> list[str]:
        """Fence the project's writers out, then remove everything of it (idempotent).

        Its groups are those this region's catalog names, those its tombstone remembers,
        and ``group_ids``: the control plane passes the home's answer to the standbys, whose
        replicated catalog rows may be gone by then. Every copy of their topics here goes
        too (own, and mirrored from other regions). Returns the groups, which the tombstone
        keeps, so calling it again answers the same. ``copy``: this region holds a copy of
        a project homed elsewhere, whose catalog row is the home's to make (no tombstone
        is made where it has none yet)."""
        lifecycle.mark_deleting(self.region.metadata, project, tombstone=not copy)
        self.region.forget_project(project)
        self.region.deployments.stop_project(project)
        group_ids = self._remember_groups(project, group_ids)
        topics = self.region.ingest.topics.copies(group_ids)
        self._delete_topics(topics)
        self._delete_objects(project)
        self._delete_online(project)
        self._delete_metadata(project, topics)
        return group_ids

    def _remember_groups(self, project: str, given: Sequence[str]) -> list[str]:
        """The project's groups (:meth:`_groups`), kept in its tombstone."""
        group_ids = self._groups(project, given)
        with self.region.metadata.begin() as connection:
            connection.execute(
                update(ProjectRecord).where(ProjectRecord.name == project).values(deleted_group_ids=group_ids)
            )
        return group_ids

    def _groups(self, project: str, given: Sequence[str]) -> list[str]:
        """The groups this region's catalog names, those the tombstone remembers, and ``given``."""
        with self.region.metadata.connect() as connection:
            remembered = connection.scalar(
                select(ProjectRecord.deleted_group_ids).where(ProjectRecord.name == project)
            )
        return sorted({*self._group_ids(project), *(remembered or ()), *given})

    def group_topics(self, project: str) -> list[str]:
        """The project's group topics in this region's Kafka."""
        layout = self.region.layout
        return [layout.group_topic(group_id) for group_id in self._group_ids(project)]

    def _group_ids(self, project: str) -> list[str]:
        query = (
            select(FeatureGroupRecord.id)
            .join(ProjectRecord, ProjectRecord.id == FeatureGroupRecord.project_id)
            .where(ProjectRecord.name == project)
        )
        with self.region.metadata.connect() as connection:
            return list(connection.scalars(query))

    def _delete_topics(self, topics: list[str]) -> None:
        """Delete the topics and wait until Kafka no longer lists them."""
        admin = self.region.ingest.topics
        admin.delete_topics(topics)
        waiting = Retrying(
            stop=stop_after_delay(TOPIC_DELETION_SECONDS),
            wait=wait_fixed(0.2),
            retry=retry_if_result(bool),
            retry_error_callback=lambda state: state.outcome.result(),
        )
        left = waiting(admin.existing, topics)
        if left:
            raise BackendUnavailable(
                f"Kafka still lists topics {left} {TOPIC_DELETION_SECONDS:.0f} s after their deletion"
            )

    def _object_paths(self, project: str) -> list[str]:
        """The project's prefixes as paths of the region's filesystem (``bucket/prefix``)."""
        s3 = self.region.s3
        return [s3.uri(prefix).removeprefix("s3://") for prefix in self._layout(project).object_prefixes]

    def _delete_objects(self, project: str) -> None:
        filesystem = self.region.filesystem
        for path in self._object_paths(project):
            try:
                delete_tree(filesystem, path)
            except OSError as exc:
                raise BackendUnavailable(f"S3: cannot delete the objects under {path}/: {exc}") from exc

    def _delete_online(self, project: str) -> None:
        online = self.region.online_store(project)
        if online is not None:
            online.drop_project()

    def _delete_metadata(self, project: str, topics: list[str]) -> None:
        with self.region.metadata.begin() as connection:
            project_id = connection.scalar(select(ProjectRecord.id).where(ProjectRecord.name == project))
            if topics:
                for record in (IngestCheckpointRecord, IngestFailureRecord):
                    connection.execute(delete(record).where(record.topic.in_(topics)))
            if project_id is not None:
                # commits and training datasets go with their group and view (ON DELETE CASCADE)
                connection.execute(
                    delete(FeatureGroupRecord).where(FeatureGroupRecord.project_id == project_id)
                )
                for record in (DeploymentRecord, ModelRecord, FeatureViewRecord):  # models name views
                    connection.execute(delete(record).where(record.project_id == project_id))
            connection.execute(delete(ApiKeyRecord).where(ApiKeyRecord.project == project))
            connection.execute(
                update(ProjectRecord).where(ProjectRecord.name == project).values(status=lifecycle.DELETED)
            )

    # verification ---------------------------------------------------------------------
    def residue(self, project: str, group_ids: Sequence[str] = ()) -> dict[str, list[str]]:
        """What of the project is still stored, by service (``postgres``, ``kafka``,
        ``redis``, ``s3``); every list is empty once a deletion is complete. Kafka is
        looked at for every copy of its groups' topics (those of :meth:`delete`)."""
        postgres: list[str] = []
        with self.region.metadata.connect() as connection:
            status = lifecycle.status_of(connection, project)
            if status not in (None, lifecycle.DELETED):
                postgres.append(f"projects/{project} ({status})")
            for record in (FeatureGroupRecord, FeatureViewRecord, ModelRecord):
                rows = connection.execute(
                    select(record.name, record.version)
                    .join(ProjectRecord, ProjectRecord.id == record.project_id)
                    .where(ProjectRecord.name == project)
                )
                postgres += [f"{record.__tablename__}/{name}_v{version}" for name, version in rows]
            deployments = connection.scalars(
                select(DeploymentRecord.name)
                .join(ProjectRecord, ProjectRecord.id == DeploymentRecord.project_id)
                .where(ProjectRecord.name == project)
            )
            postgres += [f"deployments/{name}" for name in deployments]
            keys = connection.scalars(select(ApiKeyRecord.key_id).where(ApiKeyRecord.project == project))
            postgres += [f"api_keys/{key_id}" for key_id in keys]
        return {
            "postgres": postgres[:RESIDUE_LIMIT],
            "kafka": self.region.ingest.topics.copies(self._groups(project, group_ids))[:RESIDUE_LIMIT],
            "redis": self._online_keys(project),
            "s3": self._objects(project),
        }

    def _objects(self, project: str) -> list[str]:
        found: list[str] = []
        for path in self._object_paths(project):
            selector = pafs.FileSelector(path, recursive=True, allow_not_found=True)
            found += [info.path for info in self.region.filesystem.get_file_info(selector)]
        return found[:RESIDUE_LIMIT]

    def _online_keys(self, project: str) -> list[str]:
        online = self.region.online_store(project)
        return [] if online is None else online.stored_keys(RESIDUE_LIMIT)

    # usage ----------------------------------------------------------------------------
    def usage(self, project: str) -> dict[str, int]:
        """The project's sizes, as the usage reporter measures them."""
        return project_sizes(self.region, project, len(self._group_ids(project)))

    def _layout(self, project: str) -> ProjectLayout:
        return self.region.layout.of_project(project)

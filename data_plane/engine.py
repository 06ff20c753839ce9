"""One project's feature store: metadata, offline store, online store, queries.

The engine is what both the embedded SDK and the data plane services call. It takes
and returns Arrow and the plain descriptions in :mod:`granary_core.specs`, never a
user's dataframe type.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from data_plane import deadline, validation
from data_plane.catalog import Catalog, Checkpoint
from data_plane.group_metadata import check_updates
from data_plane.layout import group_location
from data_plane.offline.base import OfflineStore, SupportsCompaction, WriteResult
from data_plane.query.memory import QueryMemory
from data_plane.query.plan import SPINE, output_columns, to_sql
from data_plane.query.resolve import Resolver, duckdb_type
from data_plane.statistics import describe
from granary_core import schema as schemas
from granary_core.errors import InvalidInput, NotSupported, ValidationFailed
from granary_core.specs import CommitInfo, FeatureGroupInfo, FeatureViewInfo, check_helper_columns
from granary_core.storage_types import check_ttl
from granary_core.transformation_specs import check_view_inputs

OnInsert = Callable[[FeatureGroupInfo, pa.Table], pa.Table]

STREAM_BATCH_ROWS = 64 * 1024  # rows per streamed batch: ~1.5 MB at 3 numeric columns


def _read_spec(name: str, version: int, wallclock_time: dt.datetime | None) -> dict[str, Any]:
    """The query of a plain feature group read: every feature, as of ``wallclock_time``."""
    spec: dict[str, Any] = {"fg": {"name": name, "version": version}, "features": None, "joins": []}
    if wallclock_time is not None:
        spec["as_of"] = wallclock_time.isoformat()
    return spec


def _dedupe_last(table: pa.Table, keys: list[str]) -> pa.Table:
    """Keep the last row per key in one insert, as a later insert would replace it."""
    indexed = table.append_column("__row", pa.array(range(table.num_rows), pa.int64()))
    last = indexed.group_by(keys, use_threads=False).aggregate([("__row", "max")])
    if last.num_rows == table.num_rows:
        return table
    return table.take(np.sort(last["__row_max"].to_numpy()))


class FeatureStoreEngine:
    def __init__(
        self,
        catalog: Catalog,
        offline: OfflineStore,
        offline_root: str,
        online: Any | None = None,
        on_insert: OnInsert | None = None,
        memory: QueryMemory | None = None,
    ) -> None:
        """``memory``: DuckDB's memory limit and spill directory for this engine's queries
        (default: DuckDB's, 80% of the machine's memory)."""
        self.catalog = catalog
        self.offline = offline
        self.offline_root = offline_root
        self.online = online
        self._on_insert = on_insert
        # Nothing runs on this connection itself: a DuckDB connection serves one call at a
        # time ("connection is busy" to the others), so every call takes a cursor of its own.
        # GLOBAL, so that cursors answer in UTC too whatever the machine's time zone.
        self._database = (memory or QueryMemory()).connect()
        self._database.execute("SET GLOBAL TimeZone = 'UTC'")
        self._write_lock = threading.Lock()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection of its own for one call (cheap: the same database); the
        caller closes it. Under a request's deadline, the deadline can interrupt it
        (``data_plane.deadline``)."""
        cursor = self._database.cursor()
        deadline.watch(cursor)
        return cursor

    # feature groups -------------------------------------------------------------------
    def create_feature_group(
        self,
        name: str,
        version: int | None,
        primary_key: list[str],
        event_time: str | None = None,
        online_enabled: bool = False,
        description: str = "",
        partition_key: list[str] | None = None,
        ttl_seconds: float | None = None,
        transformations: list[dict[str, Any]] | None = None,
        admit: Callable[[int], None] | None = None,
        features: list[dict[str, str]] | None = None,
        **metadata: Any,
    ) -> FeatureGroupInfo:
        """Register a feature group; ``admit`` is the catalog's quota hook (``Catalog.create_group``).

        ``features`` (``[{"name", "type"}]``, stored type names) declares the schema now,
        as Terraform does; without it the first insert fixes it.

        ``metadata``: the changeable fields (``granary_core.specs.GROUP_UPDATES``, checked
        by :func:`data_plane.group_metadata.check_updates`), e.g. feature descriptions.
        """
        if not name or not name.replace("_", "").isalnum():
            raise InvalidInput(f"feature group name {name!r}: use letters, digits and underscores")
        # Feature names are lower case (granary_core.schema.lower_names), as in Hopsworks.
        primary_key = [c.lower() for c in primary_key]
        event_time = event_time.lower() if event_time else None
        partition_key = [c.lower() for c in partition_key or []]
        if not primary_key:
            raise InvalidInput(f"feature group '{name}': primary_key must name at least one column")
        if event_time is not None and event_time in primary_key:
            raise InvalidInput(f"feature group '{name}': event time '{event_time}' cannot be a primary key")
        check_ttl(f"feature group '{name}'", ttl_seconds)
        declared = (
            schemas.declared_features(features, primary_key, event_time, f"feature group '{name}'")
            if features
            else []
        )
        metadata = check_updates(f"feature group '{name}'", {"description": description, **metadata})
        version = version if version is not None else self.catalog.next_group_version(name)
        return self.catalog.create_group(
            name=name,
            version=version,
            primary_key=list(primary_key),
            event_time=event_time,
            online_enabled=online_enabled,
            partition_key=list(partition_key or []),
            ttl_seconds=ttl_seconds,
            transformations=list(transformations or []),
            location=group_location(self.catalog.project, name, version),
            admit=admit,
            features=declared,
            **metadata,
        )

    def update_feature_group(self, name: str, version: int, changes: dict[str, Any]) -> FeatureGroupInfo:
        """Change descriptive metadata (``granary_core.specs.GROUP_UPDATES``); data is untouched."""
        checked = check_updates(f"feature group '{name}' v{version}", changes)
        return self.catalog.update_group(name, version, checked)

    def location(self, info: FeatureGroupInfo) -> str:
        # Joined as text, not Path: the root may be a URI such as s3://bucket/offline.
        if "://" in self.offline_root:
            return f"{self.offline_root.rstrip('/')}/{info.location}"
        return str(Path(self.offline_root) / info.location)

    def delete_feature_group(self, name: str, version: int) -> None:
        info = self.catalog.delete_group(name, version)
        self.offline.drop(self.location(info))
        if self.online is not None and info.online_enabled:
            self.online.drop(info)

    def prepare_insert(
        self, info: FeatureGroupInfo, data: pa.Table, overwrite: bool = False, transform: bool = True
    ) -> tuple[pa.Table, pa.Schema]:
        """Everything an insert checks before writing: the rows to write and the
        group's schema after them. Raises before anything is stored."""
        where = f"feature group '{info.name}' v{info.version}"
        table = schemas.lower_names(data, where)
        table = schemas.event_time_from_epoch_ms(schemas.normalize(table, where), info.event_time)
        if transform and self._on_insert is not None:
            table = self._on_insert(info, table)
        schemas.check_keys(table, where, info.primary_key, info.event_time)
        if transform and info.expectation_suite:
            self._validate(info, table, where)
        stored = schemas.schema_from_json([{"name": f.name, "type": f.type} for f in info.features])
        return schemas.reconcile(table, None if overwrite else stored, where)

    def _validate(self, info: FeatureGroupInfo, table: pa.Table, where: str) -> None:
        """Check the rows against the group's suite and store the report; under STRICT a
        failed expectation refuses the rows (the report is stored, marked REJECTED)."""
        suite = info.expectation_suite or {}
        report = validation.validate(suite, table)
        strict = suite.get("validation_ingestion_policy") == "STRICT"
        refused = strict and not report["success"]
        self.catalog.add_validation_report(info.id, report, ingested=not refused)
        if refused:
            failed = ", ".join(validation.failed_expectations(report))
            raise ValidationFailed(
                f"{where}: the STRICT expectation suite refused the rows; failed: {failed}. Nothing was "
                "written; fg.get_latest_validation_report() has the details"
            )

    def insert(
        self,
        name: str,
        version: int,
        data: pa.Table,
        overwrite: bool = False,
        source: Checkpoint | None = None,
        transform: bool = True,
        write_online: bool = True,
    ) -> CommitInfo:
        """Validate fully, then write offline, then online, then record the commit.

        A failure anywhere leaves the group as it was: before the offline write nothing
        has happened; after it, the offline table is restored to its previous version.
        ``source`` is the ingestion position this write consumed (the materializer's
        Kafka offset); it is recorded in the commit's own transaction. ``transform=False``
        skips on-insert transformations for rows that already went through
        :meth:`prepare_insert` (the remote path prepares before producing to Kafka).
        ``write_online=False`` leaves the online store to the caller (the materializer
        updates it from its own consumer, so freshness does not wait for the Delta write).
        """
        info = self.catalog.get_group(name, version)
        table, grown = self.prepare_insert(info, data, overwrite, transform)
        keys = [*info.primary_key, *([info.event_time] if info.event_time else [])]
        table = _dedupe_last(table, keys)
        location = self.location(info)
        stats = self._commit_statistics(info, table)
        with self._write_lock:
            previous = self.catalog.version_at(info.id, None)
            if overwrite:
                result = self.offline.overwrite(location, table)
            else:
                result = self.offline.upsert(location, table, keys)
            try:
                if write_online and self.online is not None and info.online_enabled:
                    self.online.write(info, table, overwrite=overwrite)
                return self.catalog.record_commit(
                    info.id,
                    schemas.schema_to_json(grown),
                    "overwrite" if overwrite else "upsert",
                    result.table_version,
                    rows_inserted=result.rows_inserted,
                    rows_updated=result.rows_updated,
                    source=source,
                    statistics=stats,
                )
            except BaseException:
                self.offline.restore(location, previous)
                raise

    @staticmethod
    def _commit_statistics(info: FeatureGroupInfo, table: pa.Table) -> dict[str, Any] | None:
        """Statistics of the rows a commit writes, when the group's config enables them
        (``columns`` limits them to those features)."""
        config = info.statistics_config
        if not config.get("enabled"):
            return None
        columns = [c for c in config.get("columns") or table.column_names if c in table.column_names]
        return describe(table.select(columns)) if columns else None  # none of its features written

    def compute_statistics(
        self,
        name: str,
        version: int,
        wallclock_time: dt.datetime | None = None,
        columns: list[str] | None = None,
    ) -> dict[str, Any] | None:
        """Describe every row visible at the commit current at ``wallclock_time`` (default:
        the latest) and store that on the commit, replacing what its insert recorded, as
        Hopsworks' ``compute_statistics()`` saves what it computes: ``commit_statistics``
        returns it afterwards, until a later commit records its own.

        ``columns`` (any case) limits them to those features, default the group's
        ``statistics_config["columns"]``, else every feature; a name that is no feature
        is refused before the scan. Returns ``{"commit_id", "committed_at",
        "statistics"}``, or None when no commit is visible then (no data): there is
        nothing to describe nor a commit to store on.
        """
        info = self.catalog.get_group(name, version)
        commit = self.catalog.commit_at(info.id, wallclock_time)
        if commit is None:
            return None
        wanted = [c.lower() for c in (columns or info.statistics_config.get("columns") or [])]
        features = [f.name for f in info.features]
        unknown = [c for c in wanted if c not in features]
        if unknown:
            raise InvalidInput(
                f"feature group '{name}' v{version}: statistics columns {unknown} are not features "
                f"of the group; its features: {features}"
            )
        table = self._read_commit(info, commit.table_version)
        stats = describe(table.select(wanted) if wanted else table)
        return self.catalog.store_commit_statistics(info.id, commit.commit_id, stats)

    def _read_commit(self, info: FeatureGroupInfo, table_version: int) -> pa.Table:
        """The group's rows at one table version, planned as a plain read plans them.
        Pinned to the version, not to its commit's time: a commit made in the same
        instant would be visible at that time too."""
        with closing(self.cursor()) as cursor:

            def relation(group: FeatureGroupInfo, _: dt.datetime | None) -> str:
                columns = {f.name: duckdb_type(f.type) for f in group.features}
                return self.offline.relation(cursor, self.location(group), table_version, columns)

            plan = Resolver(lambda _name, _version: info, relation).plan(
                _read_spec(info.name, info.version, None)
            )
            return cursor.sql(to_sql(plan)).to_arrow_table()

    def remove_rows(
        self,
        name: str,
        version: int,
        data: pa.Table,
        source: Checkpoint | None = None,
        write_online: bool = True,
    ) -> CommitInfo:
        info = self.catalog.get_group(name, version)
        where = f"feature group '{name}' v{version}: remove_rows"
        table = schemas.normalize(data, where)
        schemas.check_keys(table, where, info.primary_key, info.event_time)
        keys = [*info.primary_key, *([info.event_time] if info.event_time else [])]
        with self._write_lock:
            result: WriteResult = self.offline.delete(self.location(info), table.select(keys), keys)
            if result.table_version < 0:
                raise InvalidInput(f"{where}: the group has no data")
            if write_online and self.online is not None and info.online_enabled:
                self.online.remove(info, table.select(keys))
            features = [{"name": f.name, "type": f.type} for f in info.features]
            return self.catalog.record_commit(
                info.id,
                features,
                "delete",
                result.table_version,
                rows_deleted=result.rows_deleted,
                source=source,
            )

    def compact(
        self,
        name: str,
        version: int,
        source: Checkpoint | None = None,
        target_file_bytes: int | None = None,
    ) -> CommitInfo:
        """Rewrite the group's offline table, one or more small files per insert, into few
        large files: a new ``compact`` commit with the same rows, so reads open fewer files.

        Time travel is kept: every earlier commit stays readable, so the files its version
        reads stay stored (until the group is deleted); files no recorded commit reads (left
        by failed writes, or older than the first commit) are deleted. ``source`` is as for
        :meth:`insert` (the materializer's Kafka offset of a compaction request).
        """
        info = self.catalog.get_group(name, version)
        where = f"feature group '{name}' v{version}: compact"
        if not isinstance(self.offline, SupportsCompaction):
            raise NotSupported(f"{where}: this offline store cannot compact")
        location = self.location(info)
        with self._write_lock:
            previous = self.catalog.version_at(info.id, None)
            if previous < 0:
                raise InvalidInput(f"{where}: the group has no data")
            keep = {c.table_version for c in self.catalog.commits(info.id)}
            result = self.offline.compact(location, keep, target_file_bytes)
            features = [{"name": f.name, "type": f.type} for f in info.features]
            try:
                return self.catalog.record_commit(
                    info.id, features, "compact", result.table_version, source=source
                )
            except BaseException:
                self.offline.restore(location, previous)
                raise

    def relation_for(
        self, info: FeatureGroupInfo, wallclock: dt.datetime | None, con: duckdb.DuckDBPyConnection
    ) -> str | None:
        """SQL for the group's rows at ``wallclock``; ``con`` is the connection that will
        run it (an object-store adapter registers its scan there)."""
        version = self.catalog.version_at(info.id, wallclock)
        if version < 0:
            return None
        columns = {f.name: duckdb_type(f.type) for f in info.features}
        return self.offline.relation(con, self.location(info), version, columns)

    def read(
        self,
        name: str,
        version: int,
        wallclock_time: dt.datetime | None = None,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
    ) -> pa.Table:
        spec = _read_spec(name, version, wallclock_time)
        return self.run_query(spec, start_time=start_time, end_time=end_time)

    def stream_read(
        self,
        name: str,
        version: int,
        wallclock_time: dt.datetime | None = None,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
    ) -> pa.RecordBatchReader:
        """:meth:`read` as record batches, produced while the scan runs (see :meth:`stream_query`)."""
        spec = _read_spec(name, version, wallclock_time)
        return self.stream_query(spec, start_time=start_time, end_time=end_time)

    def commit_details(self, name: str, version: int, limit: int | None = None) -> list[CommitInfo]:
        info = self.catalog.get_group(name, version)
        return self.catalog.commits(info.id, limit)

    # queries ----------------------------------------------------------------------------
    def _resolver(self, con: duckdb.DuckDBPyConnection) -> Resolver:
        return Resolver(
            lambda n, v: self.catalog.get_group(n, v),
            lambda info, wallclock: self.relation_for(info, wallclock, con),
        )

    def query_sql(
        self,
        spec: dict[str, Any],
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
    ) -> str:
        with closing(self.cursor()) as cursor:
            return to_sql(self._resolver(cursor).plan(spec, None, start_time, end_time))

    def run_query(
        self,
        spec: dict[str, Any],
        spine: pa.Table | None = None,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
        include_keys: bool = False,
    ) -> pa.Table:
        """Run a query as one DuckDB statement; a spine becomes the left side.

        ``include_keys`` adds the first group's primary key and event time even when
        not selected: feature views need them to return keys on request.
        """
        cursor, relation = self._relation(spec, spine, start_time, end_time, include_keys)
        try:
            return relation.to_arrow_table()
        except duckdb.BinderException as exc:
            raise InvalidInput(f"query could not be planned: {exc}") from exc
        finally:
            cursor.close()

    def stream_query(
        self,
        spec: dict[str, Any],
        spine: pa.Table | None = None,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
        include_keys: bool = False,
        batch_rows: int = STREAM_BATCH_ROWS,
    ) -> pa.RecordBatchReader:
        """:meth:`run_query` as record batches of up to ``batch_rows`` rows, handed out as
        DuckDB produces them, so memory stays at a few batches however large the result
        (blocking operators, such as the build side of a join, still hold their input).

        Planning errors are raised here; errors while the query runs are raised by the
        reader. The DuckDB cursor is closed when the reader is exhausted or dropped.
        """
        cursor, relation = self._relation(spec, spine, start_time, end_time, include_keys)
        try:
            reader = relation.to_arrow_reader(batch_rows)
        except duckdb.BinderException as exc:
            cursor.close()
            raise InvalidInput(f"query could not be planned: {exc}") from exc
        except BaseException:
            cursor.close()
            raise

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                yield from reader
            finally:
                reader.close()
                cursor.close()

        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    def _relation(
        self,
        spec: dict[str, Any],
        spine: pa.Table | None,
        start_time: dt.datetime | None,
        end_time: dt.datetime | None,
        include_keys: bool,
    ) -> tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyRelation]:
        """A fresh cursor and the query's (not yet run) relation on it; the caller closes
        the cursor."""
        cursor = self.cursor()
        try:
            spine_columns = None
            if spine is not None:
                spine = schemas.normalize(spine, "spine")
                spine_columns = spine.column_names
                cursor.register(SPINE, spine)
            plan = self._resolver(cursor).plan(spec, spine_columns, start_time, end_time, include_keys)
            return cursor, cursor.sql(to_sql(plan))
        except duckdb.BinderException as exc:
            cursor.close()
            raise InvalidInput(f"query could not be planned: {exc}") from exc
        except BaseException:
            cursor.close()
            raise

    # feature views ----------------------------------------------------------------------
    def create_feature_view(
        self,
        name: str,
        version: int | None,
        query: dict[str, Any],
        labels: list[str] | None = None,
        description: str = "",
        transformations: list[dict[str, Any]] | None = None,
        inference_helper_columns: list[str] | None = None,
        training_helper_columns: list[str] | None = None,
    ) -> FeatureViewInfo:
        """Store a view of ``query``. Helper columns are features of the query that are
        not model inputs: reads return them only when asked (see FeatureViewInfo)."""
        if not name or not name.replace("_", "").isalnum():
            raise InvalidInput(f"feature view name {name!r}: use letters, digits and underscores")
        # Planning validates joins, names and filters before anything is stored. Labels
        # may be query features or come with the spine, so they are checked when read.
        with closing(self.cursor()) as cursor:
            plan = self._resolver(cursor).plan(query)
            to_sql(plan)
        columns = [out for _, _, out in output_columns(plan)]
        check_view_inputs(f"feature view '{name}'", columns, transformations or [])
        helpers = {
            "inference_helper_columns": list(dict.fromkeys(inference_helper_columns or [])),
            "training_helper_columns": list(dict.fromkeys(training_helper_columns or [])),
        }
        check_helper_columns(f"feature view '{name}'", columns, list(labels or []), helpers)
        version = version if version is not None else self.catalog.next_view_version(name)
        return self.catalog.create_view(
            name=name,
            version=version,
            query=query,
            labels=list(labels or []),
            description=description,
            transformations=list(transformations or []),
            **helpers,
        )

    def feature_view_schema(self, info: FeatureViewInfo) -> list[tuple[str, str]]:
        with closing(self.cursor()) as cursor:
            sql = to_sql(self._resolver(cursor).plan(info.query))
            return [(c[0], c[1]) for c in cursor.sql(f"DESCRIBE {sql}").fetchall()]

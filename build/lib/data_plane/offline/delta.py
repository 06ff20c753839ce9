"""Offline store on Delta Lake tables (delta-rs), read by DuckDB as plain Parquet.

Delta gives atomic commits, merge (upsert), deletes and immutable versions, so a
failed insert leaves no trace and every past version stays readable. DuckDB reads the
Parquet files of the chosen version directly: no Delta reader on the hot path.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection
from pathlib import Path

import duckdb
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from data_plane.offline.base import CompactResult, WriteResult

# Every version must stay readable for time travel. delta-rs checkpoints a table every
# 100 commits and then deletes log entries older than ``logRetentionDuration`` (30 days
# by default), after which older versions no longer load; a century keeps them all.
TABLE_CONFIGURATION = {"delta.logRetentionDuration": "interval 36500 days"}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _match_predicate(keys: list[str]) -> str:
    return " AND ".join(f"t.{_quote(k)} = s.{_quote(k)}" for k in keys)


class DeltaOfflineStore:
    """Local-disk Delta tables; ``location`` is a directory path.

    ``storage_options`` go to delta-rs unchanged, so a subclass can point the same
    writes at an object store (see :mod:`data_plane.offline.s3`).
    """

    def __init__(self, storage_options: dict[str, str] | None = None) -> None:
        self.storage_options = storage_options

    def _open(self, location: str) -> DeltaTable | None:
        try:
            return DeltaTable(location, storage_options=self.storage_options)
        except TableNotFoundError:
            return None

    def upsert(self, location: str, table: pa.Table, keys: list[str]) -> WriteResult:
        existing = self._open(location)
        if existing is None:
            write_deltalake(
                location,
                table,
                mode="append",
                configuration=TABLE_CONFIGURATION,
                storage_options=self.storage_options,
            )
            return WriteResult(0, rows_inserted=table.num_rows)
        metrics = (
            existing.merge(
                table,
                predicate=_match_predicate(keys),
                source_alias="s",
                target_alias="t",
                merge_schema=True,
            )
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute()
        )
        return WriteResult(
            existing.version(),
            rows_inserted=metrics["num_target_rows_inserted"],
            rows_updated=metrics["num_target_rows_updated"],
        )

    def overwrite(self, location: str, table: pa.Table) -> WriteResult:
        write_deltalake(
            location,
            table,
            mode="overwrite",
            schema_mode="overwrite",
            configuration=TABLE_CONFIGURATION,
            storage_options=self.storage_options,
        )
        written = DeltaTable(location, storage_options=self.storage_options)
        return WriteResult(written.version(), rows_inserted=table.num_rows)

    def delete(self, location: str, keys_table: pa.Table, keys: list[str]) -> WriteResult:
        existing = self._open(location)
        if existing is None:
            return WriteResult(-1)
        metrics = (
            existing.merge(
                keys_table.select(keys),
                predicate=_match_predicate(keys),
                source_alias="s",
                target_alias="t",
            )
            .when_matched_delete()
            .execute()
        )
        return WriteResult(existing.version(), rows_deleted=metrics["num_target_rows_deleted"])

    def relation(
        self,
        con: duckdb.DuckDBPyConnection,
        location: str,
        table_version: int | None,
        columns: dict[str, str],
    ) -> str | None:
        table = self._open(location)
        if table is None or table_version == -1:
            return None
        if table_version is not None:
            table.load_as_version(table_version)
        files = table.file_uris()
        if not files:
            return None
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        scan = f"read_parquet([{listed}], union_by_name = true)"
        present = {field.name for field in table.schema().fields}
        missing = [
            f"CAST(NULL AS {typ}) AS {_quote(name)}" for name, typ in columns.items() if name not in present
        ]
        if missing:
            return f"(SELECT *, {', '.join(missing)} FROM {scan})"
        return scan

    def compact(
        self, location: str, keep_versions: Collection[int], target_file_bytes: int | None = None
    ) -> CompactResult:
        """``optimize.compact()`` (bin-packing into files of ``target_file_bytes``, delta-rs
        default 100 MiB), then vacuum with ``keep_versions``: a file goes only when no kept
        version and not the newest reads it. Vacuum records two commits of its own (no data
        change), so the version returned is the newest one, the same rows as the compacted.
        """
        table = self._open(location)
        if table is None:
            return CompactResult(-1)
        metrics = table.optimize.compact(target_size=target_file_bytes)
        removed = int(metrics.get("numFilesRemoved", 0))
        deleted = []
        if removed:
            deleted = table.vacuum(
                retention_hours=0,
                dry_run=False,
                enforce_retention_duration=False,
                keep_versions=sorted({v for v in keep_versions if v >= 0}),
            )
            table.update_incremental()
        return CompactResult(
            table.version(),
            files_removed=removed,
            files_added=int(metrics.get("numFilesAdded", 0)),
            files_deleted=len(deleted),
        )

    def restore(self, location: str, table_version: int) -> None:
        if table_version < 0:
            self.drop(location)
            return
        table = self._open(location)
        if table is not None and table.version() != table_version:
            table.restore(table_version)

    def drop(self, location: str) -> None:
        shutil.rmtree(Path(location), ignore_errors=True)

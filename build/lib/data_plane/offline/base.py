"""The offline store seam: versioned tables of feature rows, readable by DuckDB.

Every write makes a new table version; a version is immutable, which is what makes
time travel exact: reading version N returns the rows that were visible when N was
committed. The engine imports this module only, never an adapter.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import duckdb
import pyarrow as pa


@dataclass(frozen=True)
class WriteResult:
    table_version: int
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0


@dataclass(frozen=True)
class CompactResult:
    """What a compaction did; ``table_version`` is the newest version after it."""

    table_version: int
    files_removed: int = 0
    files_added: int = 0
    files_deleted: int = 0  # unreferenced files removed from storage (vacuum)


class OfflineStore(Protocol):
    def upsert(self, location: str, table: pa.Table, keys: list[str]) -> WriteResult:
        """Insert rows; a row whose ``keys`` match a stored row replaces it."""
        ...

    def overwrite(self, location: str, table: pa.Table) -> WriteResult:
        """Replace the whole content (a new version; old versions stay readable)."""
        ...

    def delete(self, location: str, keys_table: pa.Table, keys: list[str]) -> WriteResult:
        """Delete the stored rows whose ``keys`` match a row of ``keys_table``."""
        ...

    def relation(
        self,
        con: duckdb.DuckDBPyConnection,
        location: str,
        table_version: int | None,
        columns: dict[str, str],
    ) -> str | None:
        """SQL for a DuckDB relation over one version (newest if None); None if empty.

        ``columns`` (name -> DuckDB type) is the group's current schema: columns added
        after that version read as nulls, so every version has the same shape. An
        adapter may register objects on ``con`` (the S3 adapter registers a
        ``pyarrow.dataset``), so the caller runs the SQL on that same connection.
        """
        ...

    def restore(self, location: str, table_version: int) -> None:
        """Undo writes after ``table_version`` (-1: nothing was stored), as a new version."""
        ...

    def drop(self, location: str) -> None:
        """Remove every version; used when a feature group is deleted."""
        ...


@runtime_checkable
class SupportsCompaction(Protocol):
    """An offline store that can rewrite a table's many small files into few large ones."""

    def compact(
        self, location: str, keep_versions: Collection[int], target_file_bytes: int | None = None
    ) -> CompactResult:
        """Rewrite small files as a new version with the same rows, then delete the files
        that neither that version nor any version in ``keep_versions`` reads.

        ``keep_versions`` are the versions readers may still ask for (every recorded
        commit), so time travel to them keeps working; other old versions may break.
        """
        ...

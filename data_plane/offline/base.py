"""The offline store seam: versioned tables of feature rows, readable by DuckDB.

Every write makes a new table version; a version is immutable, which is what makes
time travel exact: reading version N returns the rows that were visible when N was
committed. The engine imports this module only, never an adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import duckdb
import pyarrow as pa


@dataclass(frozen=True)
class WriteResult:
    table_version: int
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0


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

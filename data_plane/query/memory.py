"""How much memory an engine's DuckDB may hold, and where it spills the rest.

Point-in-time joins sort both sides and a read's answer can be larger than the machine.
DuckDB keeps its working memory under ``memory_limit`` by writing what does not fit to
``temp_directory``; a streamed read (``FeatureStoreEngine.stream_query``) then holds a
few batches besides, so its peak memory is set here, not by the answer's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from granary_core.errors import InvalidInput


@dataclass(frozen=True)
class QueryMemory:
    """``limit``: a DuckDB size such as ``"2GB"`` or ``"512MiB"`` (None: DuckDB's default,
    80% of the machine's memory). ``temp_directory``: where DuckDB spills (None: its own
    default, ``.tmp`` in the working directory)."""

    limit: str | None = None
    temp_directory: str | None = None

    def config(self) -> dict[str, str]:
        """The ``duckdb.connect(config=...)`` entries."""
        config = {}
        if self.limit:
            config["memory_limit"] = self.limit
        if self.temp_directory:
            config["temp_directory"] = self.temp_directory
        return config

    def connect(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB database under these settings; a malformed size is refused
        naming the setting."""
        try:
            return duckdb.connect(config=self.config())
        except (duckdb.InvalidInputException, duckdb.ParserException) as exc:
            raise InvalidInput(f"query memory limit {self.limit!r}: {exc}") from exc

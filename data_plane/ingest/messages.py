"""The ingestion record: one insert (or delete, or compaction) of one feature group.

The value is the rows as an Arrow IPC stream, already validated and transformed by
the REST API; headers say what to do with them. ``produced_ms`` (epoch milliseconds,
UTC) is when the API produced it, which gives the materialization lag; ``epoch`` the
routing epoch the home region accepted it under (:mod:`data_plane.routing`), which the
commit applying it records in every region.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import pyarrow as pa

from granary_core.wire import ipc_to_table, table_to_ipc

OPERATIONS = ("upsert", "overwrite", "delete", "compact")  # compact carries no rows


@dataclass(frozen=True)
class IngestMessage:
    project: str
    group_id: str
    name: str
    version: int
    operation: str
    batch_id: str
    produced_ms: int
    table: pa.Table
    epoch: int = 0

    @classmethod
    def new(
        cls,
        project: str,
        group_id: str,
        name: str,
        version: int,
        operation: str,
        table: pa.Table,
        epoch: int = 0,
    ) -> IngestMessage:
        if operation not in OPERATIONS:
            raise ValueError(f"unknown ingestion operation {operation!r}")
        return cls(
            project,
            group_id,
            name,
            version,
            operation,
            uuid.uuid4().hex,
            int(time.time() * 1000),
            table,
            epoch,
        )

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("project", self.project.encode()),
            ("group_id", self.group_id.encode()),
            ("name", self.name.encode()),
            ("version", str(self.version).encode()),
            ("op", self.operation.encode()),
            ("batch_id", self.batch_id.encode()),
            ("produced_ms", str(self.produced_ms).encode()),
            ("epoch", str(self.epoch).encode()),
        ]

    def value(self) -> bytes:
        return table_to_ipc(self.table)

    @staticmethod
    def project_of(headers: list[tuple[str, bytes]]) -> str:
        """The record's project, without decoding its rows."""
        return next(v.decode() for k, v in headers if k == "project")

    @classmethod
    def decode(cls, headers: list[tuple[str, bytes]], value: bytes) -> IngestMessage:
        h = {k: v.decode() for k, v in headers}
        table, _ = ipc_to_table(value, "ingestion record")
        return cls(
            h["project"],
            h["group_id"],
            h["name"],
            int(h["version"]),
            h["op"],
            h["batch_id"],
            int(h["produced_ms"]),
            table,
            int(h.get("epoch", "0")),  # records produced before routing epochs: 0
        )

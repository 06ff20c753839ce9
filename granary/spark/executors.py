"""Inserting a Spark DataFrame into a managed project from Spark's executors.

Each partition is sent by the executor that holds it, through the data plane's REST
API with the caller's API key, as any client's insert is: validated, metered and
acknowledged by the region, with no credentials but the key. The driver only collects
one small row per commit, so a DataFrame no single machine holds goes in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from granary.project import Project
from granary.remote import RemoteBackend
from granary_core.frames import slices
from granary_core.specs import CommitInfo

#: Rows per insert request: an executor sends its partition in slices of this many rows.
ROWS_PER_REQUEST = 200_000


def insert_from_executors(
    frame: Any, connection: tuple[str, str, str], name: str, version: int, wait: bool
) -> CommitInfo | None:
    """Insert ``frame`` partition by partition from the executors; the newest commit
    (``wait``), else None once every row is acknowledged."""
    host, api_key, project = connection
    rows = ROWS_PER_REQUEST

    def send(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        group = (
            Project(RemoteBackend(host, api_key, project))
            .get_feature_store()
            .get_feature_group(name, version)
        )
        for table in slices(batches, rows):
            commit = group.insert(table, wait=wait)
            yield pa.RecordBatch.from_pylist(
                [{"table_version": commit.table_version if commit else -1, "rows": table.num_rows}]
            )

    sent = frame.mapInArrow(send, "table_version long, rows long").collect()
    if not wait or not sent:
        return None
    newest = max(row["table_version"] for row in sent)
    commits = RemoteBackend(host, api_key, project).commit_details(name, version)
    return next(c for c in commits if c.table_version == newest)

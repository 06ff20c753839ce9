"""Offline store on Delta Lake tables in S3-compatible object storage.

Writes are the local adapter's (delta-rs speaks S3 through ``storage_options``).
Reads differ: DuckDB cannot load its httpfs extension on machines without internet
access, so the Parquet files of a table version are opened as a ``pyarrow.dataset``
over ``pyarrow.fs.S3FileSystem`` and registered into the caller's DuckDB connection.
DuckDB still plans the query and pushes projections and filters into the scan.

One writer per table at a time is assumed (the region's materializer owns each
feature group's topic), which is why ``AWS_S3_ALLOW_UNSAFE_RENAME`` is acceptable.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlparse

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
from pydantic import BaseModel, ConfigDict, Field

from data_plane.offline.delta import DeltaOfflineStore, _quote
from granary_core.errors import BackendUnavailable


@dataclass(frozen=True)
class S3Config:
    """Where the region's object store is and how to sign requests to it."""

    endpoint: str  # e.g. http://127.0.0.1:9000
    access_key: str
    secret_key: str
    bucket: str
    region: str = "us-east-1"

    def storage_options(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_ALLOW_HTTP": "true" if self.endpoint.startswith("http://") else "false",
            "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
            "AWS_FORCE_PATH_STYLE": "true",
        }

    def filesystem(self) -> pafs.S3FileSystem:
        # The AWS SDK inside pyarrow adds CRC64NVME checksum trailers to uploads by
        # default; S3-compatible servers reject them (S3Proxy always, versitygw now and
        # then, as a 400 on CompleteMultipartUpload). Only checksum when required. The
        # SDK reads these at its first use, so they are set before the filesystem exists.
        os.environ.setdefault("AWS_REQUEST_CHECKSUM_CALCULATION", "WHEN_REQUIRED")
        os.environ.setdefault("AWS_RESPONSE_CHECKSUM_VALIDATION", "WHEN_REQUIRED")
        url = urlparse(self.endpoint)
        return pafs.S3FileSystem(
            endpoint_override=url.netloc,
            scheme=url.scheme or "http",
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            allow_bucket_creation=True,
            force_virtual_addressing=False,
        )

    def uri(self, *parts: str) -> str:
        return "s3://" + "/".join([self.bucket, *[p.strip("/") for p in parts if p]])


def delete_tree(filesystem: pafs.FileSystem, path: str) -> None:
    """Delete every object under ``path`` (``bucket/prefix``), then its directory markers,
    deepest first. One batch delete of it all is refused by S3-compatible servers that
    keep directories (versitygw: "Directory object not empty") when a marker comes
    before its contents."""
    selector = pafs.FileSelector(path, recursive=True, allow_not_found=True)
    infos = filesystem.get_file_info(selector)
    for info in infos:
        if info.type == pafs.FileType.File:
            filesystem.delete_file(info.path)
    folders = [info.path for info in infos if info.type == pafs.FileType.Directory]
    for folder in [*sorted(folders, key=lambda p: p.count("/"), reverse=True), path]:
        with contextlib.suppress(FileNotFoundError):
            filesystem.delete_dir(folder)


def ensure_bucket(config: S3Config) -> None:
    """Create the region's bucket if missing (idempotent)."""
    fs = config.filesystem()
    try:
        if fs.get_file_info(config.bucket).type == pafs.FileType.NotFound:
            fs.create_dir(config.bucket)
    except OSError as exc:
        raise BackendUnavailable(f"object store at {config.endpoint}: {exc}") from exc


class _Snapshots:
    """Files and schema of (location, version): versions are immutable, so cache them."""

    def __init__(self, size: int = 512) -> None:
        self._items: OrderedDict[tuple[str, int], tuple[list[str], pa.Schema]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> tuple[list[str], pa.Schema] | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, int], value: tuple[list[str], pa.Schema]) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class DeltaOfflineStoreConfig(BaseModel):
    """The ``delta`` offline store's own options (``GRANARY_OFFLINE_STORE_CONFIG``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Table versions whose file lists and schemas are kept in memory, so reads of a
    #: version already seen make no S3 listing.
    snapshot_cache: int = Field(default=512, ge=1)


class S3DeltaOfflineStore(DeltaOfflineStore):
    """Delta tables under ``s3://bucket/...``; ``location`` is a full ``s3://`` URI."""

    Config = DeltaOfflineStoreConfig

    def __init__(self, config: S3Config, snapshot_cache: int = 512) -> None:
        super().__init__(config.storage_options())
        self.config = config
        self._fs = config.filesystem()
        self._snapshots = _Snapshots(snapshot_cache)

    @classmethod
    def open(cls, options: DeltaOfflineStoreConfig, objects: S3Config) -> S3DeltaOfflineStore:
        return cls(objects, options.snapshot_cache)

    def _snapshot(self, location: str, table_version: int | None) -> tuple[list[str], pa.Schema] | None:
        if table_version is not None:
            cached = self._snapshots.get((location, table_version))
            if cached is not None:
                return cached
        table = self._open(location)
        if table is None:
            return None
        if table_version is not None:
            table.load_as_version(table_version)
        files = [uri.removeprefix("s3://") for uri in table.file_uris()]
        schema = pa.schema(table.schema().to_arrow())
        snapshot = (files, schema)
        self._snapshots.put((location, table.version()), snapshot)
        return snapshot

    def relation(
        self,
        con: duckdb.DuckDBPyConnection,
        location: str,
        table_version: int | None,
        columns: dict[str, str],
    ) -> str | None:
        if table_version == -1:
            return None
        snapshot = self._snapshot(location, table_version)
        if snapshot is None or not snapshot[0]:
            return None
        files, schema = snapshot
        dataset = pads.dataset(files, schema=schema, format="parquet", filesystem=self._fs)
        digest = hashlib.sha1(location.encode()).hexdigest()[:12]
        name = f"__s3_{digest}_v{table_version if table_version is not None else 'latest'}"
        con.register(name, dataset)
        missing = [
            f"CAST(NULL AS {typ}) AS {_quote(col)}" for col, typ in columns.items() if col not in schema.names
        ]
        if missing:
            return f"(SELECT *, {', '.join(missing)} FROM {name})"
        return name

    def drop(self, location: str) -> None:
        delete_tree(self._fs, location.removeprefix("s3://"))

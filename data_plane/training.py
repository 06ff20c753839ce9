"""Training data: splits, statistics and training datasets materialized as files.

A training dataset version records everything needed to recreate it (the query, its
SQL, the time range, the split and seed) and the statistics of every split, which the
model-dependent transformations later read so training and serving scale alike.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import numbers
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from data_plane import tfrecords
from data_plane.catalog import Catalog
from data_plane.engine import FeatureStoreEngine
from data_plane.offline.s3 import delete_tree
from data_plane.statistics import statistics
from granary_core.errors import InvalidInput
from granary_core.frames import to_utc
from granary_core.specs import FeatureViewInfo, TrainingDatasetInfo
from granary_core.storage_types import type_from_string

FORMATS = ("parquet", "csv", "tfrecord")
MEMORY = "memory"  # a version recorded by in-memory training data: no files
# Rows per streamed training batch: 16k rows of 50 float features are ~7 MB, so a reader
# holds little beside DuckDB's own limit however wide the view.
TRAINING_BATCH_ROWS = 16 * 1024


@dataclass
class SplitOptions:
    """How to cut training data: at random (sizes + seed) or by event-time ranges."""

    test_size: float | None = None
    validation_size: float | None = None
    seed: int = 42
    ranges: dict[str, tuple[dt.datetime | None, dt.datetime | None]] | None = None

    def to_dict(self) -> dict[str, Any]:
        ranges = None
        if self.ranges:
            ranges = {k: [v.isoformat() if v else None for v in pair] for k, pair in self.ranges.items()}
        return {
            "test_size": self.test_size,
            "validation_size": self.validation_size,
            "seed": self.seed,
            "ranges": ranges,
        }

    @classmethod
    def from_dict(cls, data: Any) -> SplitOptions:
        """Options as they arrive over the wire, checked field by field: ``InvalidInput``
        names the field, so a malformed option never reaches the split."""
        if not isinstance(data, dict):
            raise InvalidInput(f"options: expected an object, got {type(data).__name__}")
        unknown = sorted(set(data) - _OPTION_FIELDS)
        if unknown:
            raise InvalidInput(f"options: unknown field(s) {unknown}; known: {sorted(_OPTION_FIELDS)}")
        seed = data.get("seed", 42)
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**64:
            raise InvalidInput(f"options.seed: expected an integer in [0, 2**64), got {seed!r}")
        return cls(
            _size(data.get("test_size"), "options.test_size"),
            _size(data.get("validation_size"), "options.validation_size"),
            int(seed),
            _ranges(data.get("ranges")),
        )

    @property
    def names(self) -> list[str]:
        if self.ranges:
            return list(self.ranges)
        if self.test_size is None:
            return []
        return ["train", "validation", "test"] if self.validation_size else ["train", "test"]


_OPTION_FIELDS = {"test_size", "validation_size", "seed", "ranges"}


def _size(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise InvalidInput(f"{where}: expected a fraction in [0, 1), got {value!r}")
    return float(value)


def _ranges(value: Any) -> dict[str, tuple[dt.datetime | None, dt.datetime | None]] | None:
    if not value:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(f"options.ranges: expected an object of split name -> [start, end], got {value!r}")
    ranges = {}
    for name, pair in value.items():
        where = f"options.ranges.{name}"
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise InvalidInput(f"{where}: expected [start, end], got {pair!r}")
        ranges[name] = (to_utc(pair[0], f"{where}[0]"), to_utc(pair[1], f"{where}[1]"))
    return ranges


def key_columns(engine: FeatureStoreEngine, view: FeatureViewInfo) -> tuple[list[str], str | None]:
    """The root group's primary key and event time: what X leaves out by default."""
    root = engine.catalog.get_group(view.query["fg"]["name"], int(view.query["fg"]["version"]))
    return root.primary_key, root.event_time


def training_table(
    engine: FeatureStoreEngine,
    view: FeatureViewInfo,
    start_time: dt.datetime | None = None,
    end_time: dt.datetime | None = None,
    spine: pa.Table | None = None,
) -> pa.Table:
    return engine.run_query(view.query, spine, start_time, end_time, include_keys=True)


def training_stream(
    engine: FeatureStoreEngine,
    view: FeatureViewInfo,
    start_time: dt.datetime | None = None,
    end_time: dt.datetime | None = None,
    spine: pa.Table | None = None,
) -> pa.RecordBatchReader:
    """:func:`training_table` as record batches handed out while DuckDB produces them:
    memory stays at the engine's DuckDB limit and a few batches, whatever the rows."""
    return engine.stream_query(
        view.query, spine, start_time, end_time, include_keys=True, batch_rows=TRAINING_BATCH_ROWS
    )


def _random_split(table: pa.Table, options: SplitOptions, order: list[str]) -> dict[str, pa.Table]:
    sizes = {"test": options.test_size or 0.0, "validation": options.validation_size or 0.0}
    if sizes["test"] + sizes["validation"] >= 1.0:
        raise InvalidInput("test_size + validation_size must leave rows for training")
    # DuckDB returns rows in no fixed order; sort so the seed alone decides the split.
    present = [c for c in order if c in table.column_names]
    if present:
        table = table.take(pc.sort_indices(table, [(c, "ascending") for c in present]))
    n = table.num_rows
    position = np.random.default_rng(options.seed).permutation(n)
    n_test = round(n * sizes["test"])
    n_val = round(n * sizes["validation"])
    cuts = {"test": position[:n_test], "validation": position[n_test : n_test + n_val]}
    cuts["train"] = position[n_test + n_val :]
    return {name: table.take(np.sort(cuts[name])) for name in options.names}


def split_tables(
    engine: FeatureStoreEngine,
    view: FeatureViewInfo,
    options: SplitOptions,
    start_time: dt.datetime | None = None,
    end_time: dt.datetime | None = None,
    spine: pa.Table | None = None,
) -> dict[str, pa.Table]:
    if options.ranges:
        return {
            name: training_table(engine, view, lo, hi, spine) for name, (lo, hi) in options.ranges.items()
        }
    table = training_table(engine, view, start_time, end_time, spine)
    if not options.names:
        return {"train": table}
    primary_key, event_time = key_columns(engine, view)
    order = [*primary_key, *([event_time] if event_time else []), *table.column_names]
    return _random_split(table, options, order)


def split_streams(
    engine: FeatureStoreEngine,
    view: FeatureViewInfo,
    options: SplitOptions,
    start_time: dt.datetime | None = None,
    end_time: dt.datetime | None = None,
    spine: pa.Table | None = None,
) -> dict[str, pa.Table | Callable[[], pa.RecordBatchReader]]:
    """:func:`split_tables` for streaming: each split that is a query of its own (no
    split, or time ranges) is a callable opening a reader, run only when called, so one
    query runs at a time. A random split needs every row before it can cut (the seeded
    permutation is over the sorted rows), so its splits are tables.
    """
    if options.ranges:
        return {
            name: functools.partial(engine.stream_query, view.query, spine, lo, hi, include_keys=True)
            for name, (lo, hi) in options.ranges.items()
        }
    if not options.names:
        return {
            "train": functools.partial(
                engine.stream_query, view.query, spine, start_time, end_time, include_keys=True
            )
        }
    return split_tables(engine, view, options, start_time, end_time, spine)


def create_training_dataset(
    engine: FeatureStoreEngine,
    view: FeatureViewInfo,
    root: str,
    data_format: str = "parquet",
    options: SplitOptions | None = None,
    start_time: dt.datetime | None = None,
    end_time: dt.datetime | None = None,
    spine: pa.Table | None = None,
    description: str = "",
    filesystem: pafs.FileSystem | None = None,
) -> TrainingDatasetInfo:
    """Write the splits under ``root`` (a local folder, or with ``filesystem`` a URI
    such as ``s3://bucket/prefix`` on that filesystem) and record the version.

    A split that is a query of its own (no split, or time ranges) streams to its file
    batch by batch and its statistics are read back from the file, so memory is bounded
    by the engine's DuckDB limit (``QueryMemory``), not by the rows written. A random
    split is cut in memory: its seeded permutation is over every row.

    ``data_format="memory"`` writes no files: it records what in-memory training data
    (``fv.train_test_split`` and friends) was read, with the statistics of its splits,
    as Hopsworks does, so ``init_serving(training_dataset_version=n)`` finds them.
    Reading that version back runs its query again (:func:`open_version`).
    """
    if data_format not in (*FORMATS, MEMORY):
        raise InvalidInput(f"data_format {data_format!r} is not one of {', '.join((*FORMATS, MEMORY))}")
    options = options or SplitOptions()
    if data_format == MEMORY:
        splits = split_tables(engine, view, options, start_time, end_time, spine)
        return record_memory_read(engine, view, options, start_time, end_time, spine, splits, description)
    version = engine.catalog.next_training_dataset_version(view.name, view.version)
    if filesystem is None:
        location = str(Path(root) / f"{view.name}_v{view.version}" / str(version))
    else:
        location = f"{root.rstrip('/')}/{view.name}_v{view.version}/{version}"
    fs, folder = _filesystem(location, filesystem)
    fs.create_dir(folder, recursive=True)
    rows, stats, schema = {}, {}, None
    for name, split in split_streams(engine, view, options, start_time, end_time, spine).items():
        reader = split() if callable(split) else split
        path = f"{folder}/{name}.{data_format}"
        schema = schema or reader.schema
        if data_format == "tfrecord":
            where = f"training dataset {view.name} v{view.version} #{version}, split {name}"
            with tempfile.TemporaryDirectory() as scratch:
                copy = f"{scratch}/{name}.parquet"
                rows[name] = _write_tfrecord(reader, fs, path, copy, where)
                stats[name] = statistics(ds.dataset(copy, format="parquet"), engine.cursor())
            continue
        rows[name] = _write(reader, fs, path, data_format)
        stats[name] = statistics(split_dataset(fs, path, data_format, reader.schema), engine.cursor())
    write_schema(fs, folder, schema)
    return record_version(
        engine,
        view,
        version,
        description,
        data_format,
        location,
        options,
        start_time,
        end_time,
        None if spine is None else spine.num_rows,
        rows,
        stats,
    )


def write_schema(fs: pafs.FileSystem, folder: str, schema: pa.Schema) -> None:
    """The columns and types of a version's splits, beside them: CSV and TFRecord
    files do not carry their own types, and every reader of a version reads this."""
    with fs.open_output_stream(f"{folder}/schema.json") as out:
        out.write(json.dumps([{"name": f.name, "type": str(f.type)} for f in schema]).encode())


def _write(source: pa.Table | pa.RecordBatchReader, fs: pafs.FileSystem, path: str, data_format: str) -> int:
    """Write a split to one file a batch at a time; the rows written."""
    batches = source.to_batches() if isinstance(source, pa.Table) else source
    rows = 0
    with fs.open_output_stream(path) as out:
        writer_type = pq.ParquetWriter if data_format == "parquet" else pacsv.CSVWriter
        with writer_type(out, source.schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
                rows += batch.num_rows
    return rows


def _write_tfrecord(
    source: pa.Table | pa.RecordBatchReader, fs: pafs.FileSystem, path: str, copy: str, where: str
) -> int:
    """Write a split as TFRecord a batch at a time, and the same batches to ``copy``, a
    local Parquet file: DuckDB cannot scan TFRecord, and the statistics read the copy."""
    batches = source.to_batches() if isinstance(source, pa.Table) else source
    with fs.open_output_stream(path) as out, pq.ParquetWriter(copy, source.schema) as described:

        def teed() -> Iterator[pa.RecordBatch]:
            for batch in batches:
                described.write_batch(batch)
                yield batch

        return tfrecords.write(teed(), source.schema, out, where)


def split_dataset(fs: pafs.FileSystem, path: str, data_format: str, schema: pa.Schema) -> ds.Dataset:
    """A written split, one file or a folder of part files (Spark's), as a dataset DuckDB
    can scan (CSV read back with its own types)."""
    if data_format == "parquet":
        return ds.dataset(path, filesystem=fs, format="parquet")
    types = dict(zip(schema.names, schema.types, strict=True))
    options = pacsv.ConvertOptions(
        column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False
    )
    return ds.dataset(path, filesystem=fs, schema=schema, format=ds.CsvFileFormat(convert_options=options))


def record_memory_read(
    engine: FeatureStoreEngine,
    view: FeatureViewInfo,
    options: SplitOptions,
    start_time: dt.datetime | None,
    end_time: dt.datetime | None,
    spine: pa.Table | None,
    splits: dict[str, pa.Table],
    description: str = "",
) -> TrainingDatasetInfo:
    """Record a version for splits read in memory, from the splits themselves: a caller
    that holds them (the embedded store) runs the query once, not once to record and
    once to read.

    Its statistics cover only the features the view's model-dependent transformations
    take (what ``init_serving(training_dataset_version=n)`` needs): describing every
    column of a million-row read costs more than the read itself. Materialized
    versions (files) describe every column.
    """
    version = engine.catalog.next_training_dataset_version(view.name, view.version)
    transformed = sorted({f for t in view.transformations for f in t.get("features") or []})
    rows = {name: t.num_rows for name, t in splits.items()}
    stats = {name: _statistics(t, transformed) for name, t in splits.items()}
    return record_version(
        engine,
        view,
        version,
        description,
        MEMORY,
        "",
        options,
        start_time,
        end_time,
        None if spine is None else spine.num_rows,
        rows,
        stats,
    )


def record_version(
    engine: FeatureStoreEngine,
    view: FeatureViewInfo,
    version: int,
    description: str,
    data_format: str,
    location: str,
    options: SplitOptions,
    start_time: dt.datetime | None,
    end_time: dt.datetime | None,
    spine_rows: int | None,
    rows: dict[str, int],
    stats: dict[str, Any],
) -> TrainingDatasetInfo:
    """Record a version: the rows and statistics of each split."""
    recorded = {
        "splits": options.to_dict(),
        "start_time": start_time.isoformat() if start_time else None,
        "end_time": end_time.isoformat() if end_time else None,
        "spine_rows": spine_rows,
        "rows": rows,
    }
    sql = engine.query_sql(view.query, start_time, end_time)
    return engine.catalog.create_training_dataset(
        view.name,
        view.version,
        version=version,
        description=description,
        data_format=data_format,
        location=location,
        query_sql=sql,
        options=recorded,
        statistics=stats,
    )


def _statistics(table: pa.Table, columns: list[str]) -> dict[str, Any]:
    kept = [c for c in columns if c in table.column_names]
    return statistics(table.select(kept)) if kept else {}


def _filesystem(location: str, filesystem: pafs.FileSystem | None) -> tuple[pafs.FileSystem, str]:
    """The filesystem and its path for a location (``s3://b/k`` is ``b/k`` there)."""
    if filesystem is None:
        return pafs.LocalFileSystem(), location
    return filesystem, location.split("://", 1)[-1]


def open_version(
    engine: FeatureStoreEngine, info: TrainingDatasetInfo, filesystem: pafs.FileSystem | None = None
) -> dict[str, Callable[[], pa.RecordBatchReader]]:
    """A version's splits: its files, or for an in-memory version its query run again
    with the recorded split (the same seed over the same rows gives the same split)."""
    if info.data_format != MEMORY:
        return open_training_dataset(info, filesystem)
    where = f"training dataset version {info.version} of '{info.feature_view}' v{info.feature_view_version}"
    if info.options.get("spine_rows") is not None:
        raise InvalidInput(
            f"{where} was read in memory with a spine, which is not stored; pass the spine again "
            "to fv.train_test_split, or write files with fv.create_train_test_split"
        )
    view = engine.catalog.get_view(info.feature_view, info.feature_view_version)
    options = SplitOptions.from_dict(info.options["splits"])
    start, end = (to_utc(info.options.get(k), k) for k in ("start_time", "end_time"))
    tables = split_tables(engine, view, options, start, end)
    return {
        name: functools.partial(pa.RecordBatchReader.from_batches, t.schema, t.to_batches())
        for name, t in tables.items()
    }


def delete_training_dataset(
    catalog: Catalog,
    view_name: str,
    view_version: int,
    version: int,
    filesystem: pafs.FileSystem | None = None,
) -> None:
    """Forget a training dataset version, then remove its files (refused, keeping both,
    while a model names it: ``Catalog.delete_training_dataset``)."""
    info = catalog.delete_training_dataset(view_name, view_version, version)
    if info.data_format != MEMORY:
        fs, folder = _filesystem(info.location, filesystem)
        delete_tree(fs, folder)


def read_training_dataset(
    engine: FeatureStoreEngine, info: TrainingDatasetInfo, filesystem: pafs.FileSystem | None = None
) -> dict[str, pa.Table]:
    return {
        name: open_split().read_all() for name, open_split in open_version(engine, info, filesystem).items()
    }


def open_training_dataset(
    info: TrainingDatasetInfo, filesystem: pafs.FileSystem | None = None, batch_rows: int = 64 * 1024
) -> dict[str, Callable[[], pa.RecordBatchReader]]:
    """Each split's file as a callable opening a reader of its record batches: a file is
    opened only when called and read a batch at a time."""
    fs, folder = _filesystem(info.location, filesystem)
    if fs.get_file_info(f"{folder}/schema.json").type == pafs.FileType.NotFound:
        raise InvalidInput(f"training dataset files are missing at {info.location}")
    with fs.open_input_stream(f"{folder}/schema.json") as stream:
        fields = json.loads(stream.read())
    opener = {"parquet": _open_parquet, "csv": _open_csv, "tfrecord": _open_tfrecord}[info.data_format]
    return {
        name: functools.partial(opener, fs, f"{folder}/{name}.{info.data_format}", fields, batch_rows)
        for name in info.options["rows"]
    }


def _is_folder(fs: pafs.FileSystem, path: str) -> bool:
    return fs.get_file_info(path).type == pafs.FileType.Directory


def _open_parquet(
    fs: pafs.FileSystem, path: str, fields: list[dict[str, str]], batch_rows: int
) -> pa.RecordBatchReader:
    if _is_folder(fs, path):
        dataset = ds.dataset(path, filesystem=fs, format="parquet")
        return dataset.scanner(batch_size=batch_rows).to_reader()
    source = fs.open_input_file(path)
    try:
        file = pq.ParquetFile(source)
    except BaseException:
        source.close()
        raise

    def batches() -> Iterator[pa.RecordBatch]:
        with source:
            yield from file.iter_batches(batch_size=batch_rows)

    return pa.RecordBatchReader.from_batches(file.schema_arrow, batches())


def _open_tfrecord(
    fs: pafs.FileSystem, path: str, fields: list[dict[str, str]], batch_rows: int
) -> pa.RecordBatchReader:
    """A TFRecord split, typed by the schema written beside it. Read whole: the ``tfrecord``
    reader takes a local file, and TFRecord files feed TensorFlow more than they feed back."""
    schema = pa.schema([(f["name"], type_from_string(f["type"])) for f in fields])
    with fs.open_input_stream(path) as stream:
        table = tfrecords.read(stream, schema, path)
    return pa.RecordBatchReader.from_batches(schema, table.to_batches(max_chunksize=batch_rows))


def _open_csv(
    fs: pafs.FileSystem, path: str, fields: list[dict[str, str]], batch_rows: int
) -> pa.RecordBatchReader:
    types = {f["name"]: type_from_string(f["type"]) for f in fields}
    if _is_folder(fs, path):
        schema = pa.schema(list(types.items()))
        return split_dataset(fs, path, "csv", schema).scanner(batch_size=batch_rows).to_reader()
    stream = fs.open_input_stream(path)
    try:
        options = pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False
        )
        reader = pacsv.open_csv(stream, convert_options=options)
    except BaseException:
        stream.close()
        raise

    def batches() -> Iterator[pa.RecordBatch]:
        with stream:
            yield from reader

    return pa.RecordBatchReader.from_batches(reader.schema, batches())

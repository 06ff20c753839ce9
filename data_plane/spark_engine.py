"""Spark as the engine of reads and training datasets beyond one machine.

The same feature view query that DuckDB runs in one process runs here as a Spark job
over the same Delta tables (a local folder, or ``s3://`` read as ``s3a://``), at the
table versions the catalog names, so time travel and point-in-time correctness are the
catalog's, not Spark's. The plan is the one :class:`Resolver` makes for DuckDB, written
in Spark SQL (:mod:`data_plane.query.spark_sql`). Writes go the other way: Spark stages
the rows as Parquet beside the offline tables, and the engine inserts them a slice at a
time, so validation, the online store and commits stay the engine's.

pyspark is imported only by the caller that made the session: this module never
starts one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from data_plane.engine import FeatureStoreEngine
from data_plane.offline.s3 import delete_tree
from data_plane.query.plan import SPINE, to_sql
from data_plane.query.resolve import Resolver
from data_plane.query.spark_sql import SPARK
from data_plane.statistics import statistics
from data_plane.training import SplitOptions, record_version, split_dataset, write_schema
from granary_core.errors import InvalidInput, NotSupported
from granary_core.frames import slices
from granary_core.specs import FeatureGroupInfo, FeatureViewInfo, TrainingDatasetInfo

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: Rows per commit when a Spark DataFrame is inserted: each slice is read from the staged
#: Parquet files and committed on its own, so the driver holds one slice at a time.
ROWS_PER_COMMIT = 1_000_000

_SPARK_TYPES = {
    "int64": "bigint",
    "uint64": "decimal(20,0)",
    "double": "double",
    "string": "string",
    "bool": "boolean",
    "binary": "binary",
    "date32[day]": "date",
    "timestamp[us, tz=UTC]": "timestamp",
}
SPARK_FORMATS = ("parquet", "csv")


def spark_uri(location: str) -> str:
    """Where Spark finds a path of the store: ``s3://`` through Hadoop's S3A."""
    if location.startswith("s3://"):
        return "s3a://" + location.removeprefix("s3://")
    if "://" in location:
        return location
    return Path(location).resolve().as_uri()


class SparkEngine:
    """Runs one store's feature view reads, training datasets and inserts on a Spark
    session; ``filesystem`` is the store's (pyarrow) view of the same paths."""

    def __init__(self, engine: FeatureStoreEngine, spark: SparkSession, filesystem: pafs.FileSystem) -> None:
        self.engine = engine
        self.spark = spark
        self.filesystem = filesystem
        # Spark writes times as INT96 by default, which other readers take for times
        # without a zone; the store's times are UTC instants in microseconds.
        spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")

    # reads ------------------------------------------------------------------------------
    def query(
        self,
        spec: dict[str, Any],
        spine: DataFrame | None = None,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
        include_keys: bool = False,
    ) -> DataFrame:
        """The query as a (lazy) Spark DataFrame; the tables it reads are fixed now."""
        views: list[str] = []
        try:
            resolver = Resolver(
                lambda n, v: self.engine.catalog.get_group(n, v),
                lambda info, wallclock: self._register(info, wallclock, views),
                SPARK,
            )
            spine_columns = None if spine is None else list(spine.columns)
            plan = resolver.plan(spec, spine_columns, start_time, end_time, include_keys)
            sql = to_sql(plan, SPARK)
            if spine is not None:
                name = self._view(spine, views)
                sql = f"WITH {SPINE} AS (SELECT * FROM {name})\n{sql}"
            return self.spark.sql(sql)
        finally:
            # The DataFrame holds the analysed plan: the names are no longer needed.
            for name in views:
                self.spark.catalog.dropTempView(name)

    def _view(self, frame: DataFrame, views: list[str]) -> str:
        name = f"__granary_{uuid.uuid4().hex}"
        frame.createOrReplaceTempView(name)
        views.append(name)
        return name

    def _register(self, info: FeatureGroupInfo, wallclock: dt.datetime | None, views: list[str]) -> str:
        """A temporary view of the group's table at the version the catalog gives for
        ``wallclock``, with the group's current columns (later ones as nulls)."""
        from pyspark.sql import functions as F

        version = self.engine.catalog.version_at(info.id, wallclock)
        types = {f.name: _SPARK_TYPES.get(f.type, "string") for f in info.features}
        if version < 0:
            schema = ", ".join(f"`{name}` {typ}" for name, typ in types.items())
            frame = self.spark.createDataFrame([], schema)
        else:
            uri = spark_uri(self.engine.location(info))
            frame = self.spark.read.format("delta").option("versionAsOf", version).load(uri)
            missing = [
                F.lit(None).cast(typ).alias(name) for name, typ in types.items() if name not in frame.columns
            ]
            if missing:
                frame = frame.select("*", *missing)
        return self._view(frame, views)

    def training_frame(
        self,
        view: FeatureViewInfo,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
        spine: DataFrame | None = None,
    ) -> DataFrame:
        return self.query(view.query, spine, start_time, end_time, include_keys=True)

    def splits(
        self,
        view: FeatureViewInfo,
        options: SplitOptions,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
        spine: DataFrame | None = None,
    ) -> dict[str, DataFrame]:
        """Each split as a DataFrame: time ranges are queries of their own; a random
        split is Spark's ``randomSplit`` with the seed (not the rows DuckDB's permutation
        picks: the engines draw differently)."""
        if options.ranges:
            return {
                name: self.training_frame(view, lo, hi, spine) for name, (lo, hi) in options.ranges.items()
            }
        frame = self.training_frame(view, start_time, end_time, spine)
        if not options.names:
            return {"train": frame}
        sizes = {"test": options.test_size or 0.0, "validation": options.validation_size or 0.0}
        sizes["train"] = 1.0 - sizes["test"] - sizes["validation"]
        if sizes["train"] <= 0:
            raise InvalidInput("test_size + validation_size must leave rows for training")
        parts = frame.randomSplit([sizes[name] for name in options.names], seed=options.seed)
        return dict(zip(options.names, parts, strict=True))

    # training datasets ------------------------------------------------------------------
    def create_training_dataset(
        self,
        view: FeatureViewInfo,
        root: str,
        data_format: str = "parquet",
        options: dict[str, Any] | None = None,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
        spine: DataFrame | None = None,
        description: str = "",
    ) -> TrainingDatasetInfo:
        """Write each split with Spark, as a folder of part files named like the file
        DuckDB writes (``train.parquet/``), and record the version. Statistics are
        read back from the files by DuckDB, a scan, not a copy in memory."""
        if data_format not in SPARK_FORMATS:
            raise NotSupported(
                f"data_format {data_format!r} is not written by Spark; use "
                f"{' or '.join(SPARK_FORMATS)}, or the default engine"
            )
        split = SplitOptions.from_dict(options or {})
        catalog = self.engine.catalog
        version = catalog.next_training_dataset_version(view.name, view.version)
        location = f"{root.rstrip('/')}/{view.name}_v{view.version}/{version}"
        folder = location.split("://", 1)[-1]  # the filesystem's path: no scheme
        from pyspark.sql.pandas.types import to_arrow_schema

        rows, stats, schema = {}, {}, None
        for name, frame in self.splits(view, split, start_time, end_time, spine).items():
            path = f"{location}/{name}.{data_format}"
            writer = frame.write.mode("overwrite")
            if data_format == "csv":
                writer = writer.option("header", True).option(
                    "timestampFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSX"
                )
            writer.format(data_format).save(spark_uri(path))
            arrow_schema = to_arrow_schema(frame.schema, timezone="UTC")
            schema = schema or arrow_schema
            dataset = split_dataset(
                self.filesystem, f"{folder}/{name}.{data_format}", data_format, arrow_schema
            )
            rows[name] = dataset.count_rows()
            stats[name] = statistics(dataset, self.engine.cursor())
        assert schema is not None
        self.filesystem.create_dir(folder, recursive=True)
        write_schema(self.filesystem, folder, schema)
        spine_rows = None if spine is None else spine.count()
        where = (location, split, start_time, end_time, spine_rows)
        return record_version(self.engine, view, version, description, data_format, *where, rows, stats)

    # writes -----------------------------------------------------------------------------
    def staged(self, frame: DataFrame, staging: str) -> Iterator[pa.Table]:
        """A Spark DataFrame's rows, written as Parquet under ``staging`` by Spark (a
        folder of this store's filesystem, so any size) and handed out in slices of
        :data:`ROWS_PER_COMMIT` rows; the staged files are removed when done."""
        folder = f"{staging.rstrip('/')}/spark-insert-{uuid.uuid4().hex}"
        path = folder.split("://", 1)[-1]
        try:
            frame.write.parquet(spark_uri(folder))
            dataset = ds.dataset(path, filesystem=self.filesystem, format="parquet")
            handed = False
            for table in slices(dataset.to_batches(), ROWS_PER_COMMIT):
                handed = True
                yield table
            if not handed:  # an insert of nothing still says what it inserted
                yield dataset.schema.empty_table()
        finally:
            delete_tree(self.filesystem, path)

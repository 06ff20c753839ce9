"""Spark and delta-rs share Delta tables in the region's S3: each reads what the other wrote.

The region's S3 is a real server (versitygw from ``ops/region``); Spark reaches it through
Hadoop's S3A (``s3a://``) with the jars of ``ops/spark.sh jars``, delta-rs through its own
S3 client (``s3://``), as the data plane's offline store does. Each test writes under a
prefix of its own and deletes it afterwards. One Spark session serves the module: its JVM
takes seconds to start.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from data_plane.offline.s3 import S3Config, delete_tree, ensure_bucket
from granary.spark.session import s3a_uri, use_s3

pytest.importorskip("pyspark")  # the optional `spark` extra

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string()), ("ts", pa.timestamp("us", tz="UTC"))])


def rows(*ids: int) -> pa.Table:
    """One row per id, with a microsecond UTC timestamp and a null name for id 3."""
    return pa.table(
        {
            "id": ids,
            "name": [None if i == 3 else f"name-{i}" for i in ids],
            "ts": [dt.datetime(2024, 3, 1, 12, i, 15, 123456 + i, tzinfo=dt.UTC) for i in ids],
        },
        schema=SCHEMA,
    )


@pytest.fixture(scope="module")
def s3(region_env) -> S3Config:
    config = S3Config(
        endpoint=region_env["GRANARY_S3_ENDPOINT"],
        access_key=region_env["GRANARY_S3_ACCESS_KEY"],
        secret_key=region_env["GRANARY_S3_SECRET_KEY"],
        bucket="granary",
        region=region_env.get("GRANARY_S3_REGION", "us-east-1"),
    )
    ensure_bucket(config)
    return config


@pytest.fixture(autouse=True)
def _spark_on_s3(spark, s3):
    use_s3(spark, s3)


@pytest.fixture
def prefix(s3):
    name = f"spark-tests/{uuid.uuid4().hex}"
    yield name
    delete_tree(s3.filesystem(), f"{s3.bucket}/{name}")


def spark_rows(frame) -> pa.Table:
    """A Spark DataFrame as Arrow, sorted by id (timestamps in the session's UTC)."""
    return frame.orderBy("id").toArrow()


def test_spark_reads_a_table_deltalake_wrote(spark, s3, prefix):
    uri = s3.uri(prefix, "t1")
    write_deltalake(uri, rows(1, 2, 3), storage_options=s3.storage_options())

    frame = spark.read.format("delta").load(s3a_uri(uri))

    assert [(f.name, f.dataType.simpleString()) for f in frame.schema] == [
        ("id", "bigint"),
        ("name", "string"),
        ("ts", "timestamp"),
    ]
    assert spark_rows(frame).equals(rows(1, 2, 3))


def test_deltalake_reads_a_table_spark_wrote_and_spark_reads_old_versions(spark, s3, prefix):
    uri = s3.uri(prefix, "t2")
    spark.createDataFrame(rows(1, 2, 3)).write.format("delta").save(s3a_uri(uri))

    table = DeltaTable(uri, storage_options=s3.storage_options())
    assert table.version() == 0
    assert table.to_pyarrow_table().sort_by("id").equals(rows(1, 2, 3))

    spark.createDataFrame(rows(4, 5)).write.format("delta").mode("append").save(s3a_uri(uri))

    table = DeltaTable(uri, storage_options=s3.storage_options())
    assert table.version() == 1
    assert table.to_pyarrow_table().sort_by("id").equals(rows(1, 2, 3, 4, 5))
    first = spark.read.format("delta").option("versionAsOf", 0).load(s3a_uri(uri))
    assert spark_rows(first).equals(rows(1, 2, 3))
    assert spark_rows(spark.read.format("delta").load(s3a_uri(uri))).equals(rows(1, 2, 3, 4, 5))

"""What the SDK's objects need to tell Spark's DataFrames apart and reach the engine,
without importing pyspark (an optional extra) until a Spark DataFrame is in hand."""

from __future__ import annotations

from typing import Any

from granary_core.errors import NotSupported


def is_spark_frame(data: Any) -> bool:
    """A PySpark DataFrame (classic or Spark Connect), recognised by its module."""
    return type(data).__module__.startswith("pyspark.sql") and type(data).__name__ == "DataFrame"


def spark_engine(backend: Any, where: str) -> Any:
    """The backend's :class:`data_plane.spark_engine.SparkEngine`; refused, saying why,
    where the backend has none."""
    make = getattr(backend, "spark_engine", None)
    if make is None:
        raise NotSupported(
            f"{where}: Spark reads the offline Delta tables directly, which an embedded project "
            "allows (granary.login(offline_store='s3://...') for tables a cluster reaches); a "
            "managed project's tables are reached through its data plane only (fg.insert(spark_df) "
            "works: its executors send the rows through the API)"
        )
    return make()

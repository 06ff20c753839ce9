"""A local SparkSession that reads and writes Delta Lake tables, in S3 too.

Spark's own jars come with the pyspark wheel; the Delta and S3A jars come from
``ops/spark.sh jars``, which resolves them from Maven Central once into a cached folder.
They are handed to Spark as ``spark.jars`` files, so a session starts without network
(``spark.jars.packages`` would resolve through Ivy at every cold start).

pyspark is the optional ``spark`` extra: it is imported inside the functions, so
``granary`` imports without it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from granary_core.errors import BackendUnavailable, NotSupported

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# The repo's ops/ scripts, when granary runs from a checkout.
SPARK_SH = Path(__file__).resolve().parents[2] / "ops" / "spark.sh"
JARS_ENV = "GRANARY_SPARK_JARS"


class S3Like(Protocol):
    """Anything with these attributes, e.g. ``data_plane.offline.s3.S3Config``."""

    @property
    def endpoint(self) -> str: ...
    @property
    def access_key(self) -> str: ...
    @property
    def secret_key(self) -> str: ...
    @property
    def region(self) -> str: ...


def s3a_uri(s3_uri: str) -> str:
    """``s3://bucket/key`` (delta-rs, pyarrow) as ``s3a://bucket/key`` (Hadoop's S3A)."""
    if not s3_uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {s3_uri!r}")
    return "s3a://" + s3_uri.removeprefix("s3://")


def jars(jars_dir: str | None = None) -> list[str]:
    """The Delta and S3A jar files: from ``jars_dir``, ``$GRANARY_SPARK_JARS``, or
    ``ops/spark.sh jars`` (which resolves them on first use) in a checkout."""
    folder = jars_dir or os.environ.get(JARS_ENV)
    if not folder:
        if not SPARK_SH.exists():
            raise BackendUnavailable(
                f"no Delta/S3A jars for Spark: set {JARS_ENV} to the folder `ops/spark.sh jars` prints"
            )
        result = subprocess.run(["bash", str(SPARK_SH), "jars"], capture_output=True, text=True)
        if result.returncode != 0:
            raise BackendUnavailable(f"`{SPARK_SH} jars` failed:\n{result.stderr.strip()}")
        folder = result.stdout.strip().splitlines()[-1]
    found = sorted(str(p) for p in Path(folder).glob("*.jar"))
    if not found:
        raise BackendUnavailable(f"no jars in {folder}: run `ops/spark.sh jars`")
    return found


def s3a_conf(s3: S3Like) -> dict[str, str]:
    """Hadoop S3A settings for an S3-compatible server (versitygw, S3Proxy), path-style."""
    prefix = "spark.hadoop.fs.s3a."
    return {
        # Checksums only where S3 requires them (the SDK's WHEN_REQUIRED, as pyarrow gets in
        # data_plane.offline.s3): these are Hadoop 3.5's defaults, pinned because turned on
        # the SDK adds checksum trailers S3Proxy rejects, and CRC64NVME needs aws-crt.
        prefix + "checksum.generation": "false",
        prefix + "checksum.validation": "false",
        prefix + "endpoint": s3.endpoint,
        prefix + "endpoint.region": s3.region,
        prefix + "access.key": s3.access_key,
        prefix + "secret.key": s3.secret_key,
        prefix + "aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        prefix + "path.style.access": "true",
        prefix + "connection.ssl.enabled": str(s3.endpoint.startswith("https://")).lower(),
    }


# A local driver listens on loopback only, as the ops/ services do.
_LOCAL = {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}


def session(
    master: str = "local[2]",
    *,
    s3: S3Like | None = None,
    app_name: str = "granary",
    jars_dir: str | None = None,
    conf: dict[str, str] | None = None,
) -> SparkSession:
    """Build a SparkSession with Delta Lake, and S3A to ``s3`` when given.

    Times are UTC (``spark.sql.session.timeZone``), as Granary's tables keep them. If a
    session is already running in this process it is returned as is: the jars and the
    Delta extension are fixed when the JVM starts, so ``conf`` cannot change them then.

    Args:
        master: Spark master URL; the defaults suit ``local[N]``.
        s3: anything with ``endpoint``, ``access_key``, ``secret_key`` and ``region``
            (such as ``data_plane.offline.s3.S3Config``); paths are then ``s3a://``.
        app_name: the Spark application name.
        jars_dir: the folder ``ops/spark.sh jars`` printed (else ``$GRANARY_SPARK_JARS``,
            else that script is run).
        conf: more Spark settings; they win over these defaults.
    """
    try:
        from pyspark.sql import SparkSession
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "pyspark":
            raise
        raise NotSupported("granary.spark needs the spark extra: pip install 'granary[spark]'") from exc

    settings = {
        "spark.jars": ",".join(jars(jars_dir)),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "8",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # toPandas() and createDataFrame(pandas) through Arrow, not row by row in Python
        "spark.sql.execution.arrow.pyspark.enabled": "true",  # progress bars would fill logs and test output
        # Delta rebuilds a table's state in 50 tasks by default; tiny tables on 2 cores want few.
        "spark.databricks.delta.snapshotPartitions": "2",
        **(_LOCAL if master.startswith("local") else {}),
        **(s3a_conf(s3) if s3 is not None else {}),
        **(conf or {}),
    }
    if master.startswith("local"):
        # Local Python workers run this interpreter, with its packages, not whatever
        # `python3` is on PATH (pyspark reads only this variable for it).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if s3 is not None:
        use_s3(spark, s3)
    return spark


def use_s3(spark: SparkSession, s3: S3Like) -> None:
    """Point a session at ``s3``, also one that was running already: its Hadoop
    settings were fixed at start, but these, set on the session, reach every read and
    write it plans from now on."""
    for key, value in s3a_conf(s3).items():
        spark.conf.set(key.removeprefix("spark.hadoop."), value)

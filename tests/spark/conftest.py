"""One Spark session for every Spark test of a run: its JVM takes seconds to start."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    pytest.importorskip("pyspark")  # the optional `spark` extra
    from granary.spark import session

    conf = {
        # C1 only: the JVM warms up ~25% faster (20 s -> 16 s here); tests move kilobytes.
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
        "spark.sql.shuffle.partitions": "2",
    }
    spark = session(app_name="granary-tests", conf=conf)
    yield spark
    spark.stop()

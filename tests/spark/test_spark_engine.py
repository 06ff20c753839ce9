"""Spark as the engine: feature pipelines insert Spark DataFrames, training pipelines
read point-in-time correct Spark DataFrames and write training datasets with Spark, over
the same Delta tables, with the rows the DuckDB engine gives. Once on local files and
once on the region's real S3 server (Spark through S3A)."""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
import pandas as pd
import pytest

import granary
from data_plane import spark_engine
from data_plane.offline.s3 import delete_tree
from granary.spark.frames import spark_engine as engine_of
from granary_core.errors import InvalidInput, NotSupported

pytest.importorskip("pyspark")

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def _times(rng: np.random.Generator, n: int) -> pd.Series:
    # whole minutes over 10 days, so equal times (ties with the spine) happen often
    minutes = rng.integers(0, 10 * 24 * 60, n)
    return pd.Series([START + dt.timedelta(minutes=int(m)) for m in minutes], dtype="datetime64[us, UTC]")


@pytest.fixture(params=["local", "s3"])
def project(request, tmp_path, monkeypatch, spark):
    if request.param == "local":
        yield granary.login(home=tmp_path)
        return
    env = request.getfixturevalue("region_env")
    monkeypatch.setenv("AWS_ENDPOINT_URL", env["GRANARY_S3_ENDPOINT"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", env["GRANARY_S3_ACCESS_KEY"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", env["GRANARY_S3_SECRET_KEY"])
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    prefix = f"granary/spark-tests/{uuid.uuid4().hex}"
    project = granary.login(home=tmp_path, offline_store=f"s3://{prefix}")
    yield project
    delete_tree(project.backend.offline_filesystem, prefix)


@pytest.fixture
def view(project):
    """Transactions joined with profiles (one of them chained off a joined group) and
    a group with a ttl, from seeded random times full of ties."""
    rng = np.random.default_rng(7)
    fs = project.get_feature_store()
    n_users, n_tx = 60, 1500
    tx = fs.create_feature_group("tx", version=1, primary_key=["tid"], event_time="ts")
    tx.insert(
        pd.DataFrame(
            {
                "tid": np.arange(n_tx, dtype="int64"),
                "user_id": rng.integers(0, n_users + 5, n_tx),  # some users have no profile
                "ts": _times(rng, n_tx),
                "amount": rng.random(n_tx).round(4),
                "is_fraud": rng.integers(0, 2, n_tx),
            }
        )
    )
    profiles = fs.create_feature_group("profile", version=1, primary_key=["user_id"], event_time="ts")
    profiles.insert(
        pd.DataFrame(
            {
                "user_id": rng.integers(0, n_users, 400),
                "ts": _times(rng, 400),
                "city": rng.choice(["oslo", "lima", "o'hare"], 400),
                "bank_id": rng.integers(0, 8, 400),
            }
        )
    )
    banks = fs.create_feature_group("bank", version=1, primary_key=["bank_id"], event_time="ts")
    banks.insert(
        pd.DataFrame(
            {"bank_id": rng.integers(0, 8, 60), "ts": _times(rng, 60), "risk": rng.random(60).round(3)}
        )
    )
    recent = fs.create_feature_group(
        "recent", version=1, primary_key=["user_id"], event_time="ts", ttl=dt.timedelta(days=1)
    )
    recent.insert(
        pd.DataFrame(
            {
                "user_id": rng.integers(0, n_users, 300),
                "ts": _times(rng, 300),
                "clicks": rng.integers(0, 50, 300),
            }
        )
    )
    query = (
        tx.select(["tid", "user_id", "ts", "amount", "is_fraud"])
        .join(
            profiles.select(["city", "bank_id"]).join(banks.select(["risk"]), on=["bank_id"]), on=["user_id"]
        )
        .join(recent.select(["clicks"]), on=["user_id"])
    )
    return fs.create_feature_view("fraud", version=1, query=query, labels=["is_fraud"])


def _same(duck: pd.DataFrame, spark: pd.DataFrame, key: str) -> None:
    duck = duck.sort_values(key).reset_index(drop=True)
    spark = spark.sort_values(key).reset_index(drop=True)
    assert list(spark.columns) == list(duck.columns)
    pd.testing.assert_frame_equal(spark, duck, check_dtype=False)


def _close(got: object, want: object) -> bool:
    """Equal, floats to 1e-9 (sums over other files add in another order)."""
    if isinstance(want, dict):
        return (
            isinstance(got, dict) and got.keys() == want.keys() and all(_close(got[k], want[k]) for k in want)
        )
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(map(_close, got, want))
    if isinstance(want, float):
        return got == pytest.approx(want, rel=1e-9, abs=1e-12)
    return got == want


def test_training_data_is_the_duckdb_engines(view):
    x, y = view.training_data(primary_key=True)
    sx, sy = view.training_data(primary_key=True, engine="spark")
    spark_rows = sx.toPandas().assign(is_fraud=sy.toPandas()["is_fraud"])
    _same(x.assign(is_fraud=y["is_fraud"]), spark_rows, "tid")
    assert spark_rows["city"].notna().any() and spark_rows["city"].isna().any()
    assert spark_rows["clicks"].notna().any() and spark_rows["clicks"].isna().any()


def test_a_spine_and_a_time_range_read_the_same_rows(view, spark):
    rng = np.random.default_rng(11)
    spine = pd.DataFrame(
        {"tid": np.arange(300, dtype="int64"), "user_id": rng.integers(0, 60, 300), "ts": _times(rng, 300)}
    )
    start, end = START + dt.timedelta(days=2), START + dt.timedelta(days=8)
    x, _ = view.training_data(spine=spine, start_time=start, end_time=end, primary_key=True, event_time=True)
    sx, _ = view.training_data(
        spine=spark.createDataFrame(spine), start_time=start, end_time=end, primary_key=True, event_time=True,
        engine="spark",
    )  # fmt: skip
    got = sx.toPandas()
    assert 0 < len(got) < 300
    _same(x, got, "tid")


def test_a_filter_and_time_travel_read_the_same_rows(project, view):
    fs = project.get_feature_store()
    tx = fs.get_feature_group("tx", 1)
    profile = fs.get_feature_group("profile", 1)
    first = next(iter(profile.commit_details().values()))["committed_on"]
    profile.insert(
        pd.DataFrame({"user_id": [1, 2], "ts": [START, START], "city": ["later", "later"], "bank_id": [0, 0]})
    )
    query = (
        tx.select(["tid", "user_id", "ts", "amount"])
        .join(profile.select(["city"]).as_of(first), on=["user_id"])
        .filter((tx.amount > 0.25) & (profile.city != "o'hare"))
    )
    fv = fs.create_feature_view("filtered", version=1, query=query)
    x, _ = fv.training_data(primary_key=True)
    sx, _ = fv.training_data(primary_key=True, engine="spark")
    _same(x, sx.toPandas(), "tid")
    assert (x["amount"] > 0.25).all() and "later" not in set(x["city"])


def test_a_root_without_event_time_reads_the_newest_rows_as_duckdb_does(project, view):
    fs = project.get_feature_store()
    users = fs.create_feature_group("users", version=1, primary_key=["user_id"])
    users.insert(pd.DataFrame({"user_id": np.arange(70, dtype="int64"), "segment": ["a", "b"] * 35}))
    profile = fs.get_feature_group("profile", 1)
    fv = fs.create_feature_view(
        "segments",
        version=1,
        query=users.select_all().join(profile.select(["city", "bank_id"]), on=["user_id"]),
    )
    x, _ = fv.training_data(primary_key=True)
    sx, _ = fv.training_data(primary_key=True, engine="spark")
    _same(x, sx.toPandas(), "user_id")
    assert x["city"].notna().sum() > 30


def test_spark_inserts_are_committed_and_read_by_both_engines(project, spark, monkeypatch):
    monkeypatch.setattr(spark_engine, "ROWS_PER_COMMIT", 700)
    fs = project.get_feature_store()
    events = fs.create_feature_group("events", version=1, primary_key=["id"], event_time="ts")
    rows = pd.DataFrame(
        {
            "id": np.arange(2000, dtype="int64"),
            "ts": _times(np.random.default_rng(3), 2000),
            "kind": ["a", "b"] * 1000,
            "value": np.linspace(0, 1, 2000),
        }
    )
    events.insert(spark.createDataFrame(rows).repartition(3))
    commits = events.commit_details()
    assert len(commits) == 3  # 2000 rows, about 700 per slice, each slice its own commit
    stored = events.read().sort_values("id").reset_index(drop=True)
    pd.testing.assert_frame_equal(stored[rows.columns.tolist()], rows, check_dtype=False)
    # an upsert by Spark replaces by key, as any insert does
    events.insert(spark.createDataFrame(rows.head(10).assign(value=-1.0)))
    assert (events.read().sort_values("id")["value"].head(10) == -1.0).all()


@pytest.mark.parametrize("data_format", ["parquet", "csv"])
def test_training_datasets_written_by_spark_read_back_as_the_duckdb_ones(view, data_format):
    duck_version, _ = view.create_training_data(data_format=data_format)
    spark_version, _ = view.create_training_data(data_format=data_format, engine="spark")
    x, y = view.get_training_data(duck_version, primary_key=True)
    sx, sy = view.get_training_data(spark_version, primary_key=True)
    _same(x.assign(is_fraud=y["is_fraud"]), sx.assign(is_fraud=sy["is_fraud"]), "tid")
    duck_stats = view.get_training_dataset_statistics(duck_version)["train"]
    spark_stats = view.get_training_dataset_statistics(spark_version)["train"]
    # the exact figures; sketches (distinct counts, quantiles) depend on the files' order
    exact = ("type", "count", "null_fraction", "min", "max", "mean", "std")
    assert spark_stats.keys() == duck_stats.keys()
    for column, want in duck_stats.items():
        assert _close({k: spark_stats[column].get(k) for k in exact}, {k: want.get(k) for k in exact}), column
    recorded = view.get_training_dataset(spark_version)
    assert recorded.options["rows"] == {"train": len(x)}


def test_what_spark_cannot_do_is_refused_by_name(view):
    with pytest.raises(NotSupported, match="tfrecord"):
        view.create_training_data(data_format="tfrecord", engine="spark")
    with pytest.raises(InvalidInput, match="engine 'flink'"):
        view.training_data(engine="flink")
    with pytest.raises(NotSupported, match="managed project's tables are reached through its data plane"):
        engine_of(object(), "feature view 'fraud' v1: training_data")


def test_a_managed_project_takes_spark_inserts_from_the_executors(data_plane, spark):
    """Each executor sends its partition through the REST API with the caller's key:
    the rows arrive validated and committed, as any client's do."""
    fs = data_plane.login().get_feature_store()
    events = fs.create_feature_group("spark_events", version=1, primary_key=["id"], event_time="ts")
    rows = pd.DataFrame(
        {
            "id": np.arange(900, dtype="int64"),
            "ts": _times(np.random.default_rng(5), 900),
            "value": np.linspace(0, 1, 900),
        }
    )
    commit = events.insert(spark.createDataFrame(rows).repartition(3))
    assert commit is not None and commit.rows_inserted > 0
    stored = events.read().sort_values("id").reset_index(drop=True)
    pd.testing.assert_frame_equal(stored[rows.columns.tolist()], rows, check_dtype=False)

    with pytest.raises(NotSupported, match="overwrite=True with a Spark DataFrame needs an embedded project"):
        events.insert(spark.createDataFrame(rows), overwrite=True)
    bad = spark.createDataFrame(rows.drop(columns=["id"]))
    with pytest.raises(InvalidInput, match="the Spark DataFrame has no column 'id'"):
        events.insert(bad)
    assert len(events.read()) == 900
    fv = fs.create_feature_view("spark_events", version=1, query=events.select_all())
    with pytest.raises(NotSupported, match="a managed project's tables are reached through its data plane"):
        fv.training_data(engine="spark")

"""Feature views: training data, splits, training datasets as files, batch data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from granary_core import errors
from tests.conftest import ts
from tests.remote_stack import location_files


@pytest.fixture
def view(fs):
    n = 200
    rng = np.random.default_rng(1)
    tx = fs.create_feature_group("tx", version=1, primary_key=["tid"], event_time="ts")
    tx.insert(
        pd.DataFrame(
            {
                "tid": np.arange(n),
                "cc": rng.integers(0, 20, n),
                "ts": pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="h"),
                "amount": rng.gamma(2.0, 10.0, n),
                "is_fraud": rng.integers(0, 2, n),
            }
        )
    )
    profile = fs.create_feature_group("profile", version=1, primary_key=["cc"], event_time="ts")
    profile.insert(
        pd.DataFrame({"cc": np.arange(20), "ts": ts(*["2024-12-01"] * 20), "age": np.arange(20) + 20})
    )
    query = tx.select_all(include_primary_key=False, include_event_time=False).join(
        profile.select(["age"]), on=["cc"], prefix="p_"
    )
    return fs.create_feature_view("fraud", version=1, query=query, labels=["is_fraud"])


def test_training_data_columns_and_flags(view):
    x, y = view.training_data()
    assert list(x.columns) == ["cc", "amount", "p_age"]
    assert list(y.columns) == ["is_fraud"]
    assert len(x) == len(y) == 200
    x_keys, _ = view.training_data(primary_key=True, event_time=True)
    assert list(x_keys.columns) == ["tid", "ts", "cc", "amount", "p_age"]  # the added ones first


def test_training_data_time_range_is_start_inclusive_end_exclusive(view):
    x, _ = view.training_data(
        start_time="2025-01-01T10:00:00", end_time="2025-01-02T00:00:00", event_time=True
    )
    assert len(x) == 14
    assert x["ts"].min() == pd.Timestamp("2025-01-01T10:00:00", tz="UTC")


@pytest.mark.parametrize("kind,cls", [("polars", pl.DataFrame), ("pyarrow", pa.Table)])
def test_training_data_frame_types(view, kind, cls):
    x, y = view.training_data(dataframe_type=kind)
    assert isinstance(x, cls) and isinstance(y, cls)


def test_random_split_is_reproducible_and_disjoint(view):
    first = view.train_test_split(test_size=0.25, seed=3, primary_key=True)
    again = view.train_test_split(test_size=0.25, seed=3, primary_key=True)
    other = view.train_test_split(test_size=0.25, seed=4, primary_key=True)
    x_train, x_test, y_train, y_test = first
    assert (len(x_train), len(x_test), len(y_train), len(y_test)) == (150, 50, 150, 50)
    assert set(x_train["tid"]).isdisjoint(x_test["tid"])
    assert sorted(x_test["tid"]) == sorted(again[1]["tid"])
    assert sorted(x_test["tid"]) != sorted(other[1]["tid"])


def test_time_split(view):
    x_train, x_test, _, _ = view.train_test_split(
        train_start="2025-01-01",
        train_end="2025-01-05",
        test_start="2025-01-05",
        test_end="2025-01-10",
        event_time=True,
    )
    assert len(x_train) == 96 and len(x_test) == 104
    assert x_train["ts"].max() < x_test["ts"].min()


def test_train_validation_test_split(view):
    parts = view.train_validation_test_split(validation_size=0.2, test_size=0.1)
    assert [len(p) for p in parts] == [140, 40, 20, 140, 40, 20]


def test_split_argument_errors(view):
    with pytest.raises(errors.InvalidInput, match="not both"):
        view.train_test_split(test_size=0.2, train_start="2025-01-01")
    with pytest.raises(errors.InvalidInput, match="no range given for test"):
        view.train_test_split(train_start="2025-01-01", train_end="2025-01-02")
    with pytest.raises(errors.InvalidInput, match=r"options.test_size: expected a fraction in \[0, 1\)"):
        view.train_test_split(test_size=1.5)


@pytest.mark.parametrize("data_format", ["parquet", "csv", "tfrecord"])
def test_training_dataset_files_round_trip(project, view, data_format):
    version, job = view.create_train_test_split(test_size=0.2, data_format=data_format, seed=9)
    assert job.state == "FINISHED"
    x_train, x_test, y_train, _ = view.get_train_test_split(version)
    assert len(y_train) == len(x_train)
    fresh = view.train_test_split(test_size=0.2, seed=9)
    exact = data_format != "tfrecord"  # TFRecord floats are float32
    pd.testing.assert_frame_equal(
        x_test.sort_values("amount").reset_index(drop=True),
        fresh[1].sort_values("amount").reset_index(drop=True),
        check_exact=exact,
        rtol=1e-6,
    )
    info = view.get_training_dataset(version)
    assert info.options["rows"] == {"train": 160, "test": 40}
    assert info.options["splits"]["seed"] == 9
    assert "ASOF LEFT JOIN" in info.query_sql
    stats = info.statistics["train"]["amount"]
    assert stats["count"] == 160
    assert stats["min"] <= stats["mean"] <= stats["max"]
    assert stats["mean"] == pytest.approx(x_train["amount"].mean(), rel=1e-12 if exact else 1e-6)
    files = sorted(location_files(project, info.location))
    assert files == sorted(["schema.json", f"test.{data_format}", f"train.{data_format}"])


def test_a_csv_training_dataset_keeps_empty_strings_apart_from_nulls(fs):
    names = fs.create_feature_group("names", version=1, primary_key=["k"])
    names.insert(pd.DataFrame({"k": [1, 2, 3], "s": ["a", "", None]}))
    view = fs.create_feature_view("names", version=1, query=names.select_all())
    version, _ = view.create_training_data(data_format="csv")
    x, _ = view.get_training_data(version, primary_key=True)
    got = x.sort_values("k")["s"].tolist()
    assert got[:2] == ["a", ""] and pd.isna(got[2])


def test_training_datasets_are_versioned(view):
    v1, _ = view.create_training_data()
    v2, _ = view.create_training_data(start_time="2025-01-03")
    assert (v1, v2) == (1, 2)
    assert len(view.get_training_data(v1)[0]) == 200
    assert len(view.get_training_data(v2)[0]) == 200 - 48
    assert [t.version for t in view.get_training_datasets()] == [1, 2]
    with pytest.raises(errors.TrainingDatasetNotFound, match="version 7"):
        view.get_training_data(7)
    with pytest.raises(errors.InvalidInput, match="splits"):
        view.get_train_test_split(v1)
    with pytest.raises(errors.InvalidInput, match="data_format"):
        view.create_training_data(data_format="xlsx")


def test_batch_data_has_no_labels(view):
    batch = view.get_batch_data(start_time="2025-01-02", end_time="2025-01-03")
    assert list(batch.columns) == ["cc", "amount", "p_age"]
    assert len(batch) == 24


def test_spine_with_labels_not_in_query(fs, view):
    tx = fs.get_feature_group("tx", 1)
    fv = fs.create_feature_view(
        "spined", version=1, query=tx.select(["tid", "ts", "amount"]), labels=["label"]
    )
    spine = pd.DataFrame(
        {
            "tid": [0, 1, 5],
            "ts": ts("2025-01-01T00:00", "2025-01-01T00:30", "2025-01-01T04:00"),
            "label": [1, 0, 1],
        }
    )
    x, y = fv.training_data(spine=spine)
    assert y["label"].tolist() and len(x) == 3
    with pytest.raises(errors.InvalidInput, match="label 'label' is neither"):
        fv.training_data()


def test_feature_view_lookup_and_errors(fs, view):
    assert fs.get_feature_view("fraud").version == 1
    assert fs.get_or_create_feature_view("fraud", version=1).labels == ["is_fraud"]
    with pytest.raises(errors.FeatureViewNotFound, match="'fraud' version 3"):
        fs.get_feature_view("fraud", 3)
    with pytest.raises(errors.AlreadyExists):
        fs.create_feature_view("fraud", version=1, query=view.query)
    # the query's features: tx's key and event time are not selected
    assert [name for name, _ in view.schema] == ["cc", "amount", "is_fraud", "p_age"]
    # Hopsworks meaning: what a feature-vector entry gives; cc joins profile on a non-key column of tx
    assert view.primary_keys == ["tid", "cc"]
    assert "ASOF LEFT JOIN" in view.query.to_string()
    view.delete()
    with pytest.raises(errors.FeatureViewNotFound):
        fs.get_feature_view("fraud", 1)

"""Training data as Arrow record batches (embedded, and over Flight when remote), and
training dataset files written as a stream, equal to the in-memory reads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from granary_core import errors
from tests.conftest import ts


@pytest.fixture
def view(fs):
    n = 300
    rng = np.random.default_rng(3)
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
        pd.DataFrame({"cc": np.arange(20), "ts": ts(*["2025-01-05"] * 20), "age": np.arange(20) + 20})
    )
    query = tx.select_all(include_primary_key=False, include_event_time=False).join(
        profile.select(["age"]), on=["cc"], prefix="p_"
    )
    return fs.create_feature_view("fraud", version=1, query=query, labels=["is_fraud"])


def _sorted(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return frame.sort_values(by).reset_index(drop=True)


def test_batches_hold_x_then_y_as_training_data_does(view):
    reader = view.training_data_batches(start_time="2025-01-02", primary_key=True, event_time=True)
    assert isinstance(reader, pa.RecordBatchReader)
    assert reader.schema.names == ["tid", "ts", "cc", "amount", "p_age", "is_fraud"]  # added ones first
    streamed = reader.read_pandas()
    x, y = view.training_data(start_time="2025-01-02", primary_key=True, event_time=True)
    expected = pd.concat([x, y], axis=1)
    assert len(streamed) == 276
    pd.testing.assert_frame_equal(_sorted(streamed, ["tid"]), _sorted(expected, ["tid"]))
    assert streamed["p_age"].isna().sum() == 72  # hours 24-95, before the profiles: no match
    plain = view.training_data_batches()
    assert plain.schema.names == ["cc", "amount", "p_age", "is_fraud"]  # keys only when asked


def test_batches_of_a_spine_with_its_own_labels(fs, view):
    spine = pd.DataFrame(
        {"tid": [5, 150, 7], "ts": ts("2025-01-01 06:00", "2025-01-08 00:00", "2025-01-01 05:00")}
    )
    spine["is_fraud"] = [1, 0, 1]
    streamed = view.training_data_batches(spine=spine, primary_key=True).read_pandas()
    assert streamed.columns.tolist() == ["tid", "cc", "amount", "p_age", "is_fraud"]
    assert _sorted(streamed, ["tid"])["is_fraud"].tolist() == [1, 1, 0]
    assert _sorted(streamed, ["tid"])["cc"].isna().tolist() == [False, True, False]  # tid 7 came at 07:00
    other = fs.create_feature_view("outcomes", version=1, query=view.query, labels=["outcome"])
    with pytest.raises(errors.InvalidInput, match="label 'outcome' is neither a feature"):
        other.training_data_batches(spine=spine)  # refused before a batch is read


@pytest.mark.parametrize("data_format", ["parquet", "csv"])
def test_time_split_files_stream_and_equal_the_in_memory_split(view, data_format):
    ranges = dict(train_end="2025-01-10", test_start="2025-01-10")
    version, _ = view.create_train_test_split(**ranges, data_format=data_format)
    x_train, x_test, _, y_test = view.get_train_test_split(version)
    fresh = view.train_test_split(**ranges)
    for got, want in [(x_train, fresh[0]), (x_test, fresh[1])]:
        pd.testing.assert_frame_equal(_sorted(got, ["amount"]), _sorted(want, ["amount"]), check_dtype=False)
    info = view.get_training_dataset(version)
    assert info.options["rows"] == {"train": 216, "test": 84}
    stats = info.statistics["test"]
    assert stats["amount"]["count"] == 84
    assert abs(stats["amount"]["mean"] - x_test["amount"].mean()) < 1e-9
    assert stats["p_age"]["null_fraction"] == 0.0 and stats["is_fraud"]["count"] == len(y_test)

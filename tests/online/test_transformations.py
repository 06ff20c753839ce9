"""Transformations: on-demand (feature groups) at insert and from request parameters,
model-dependent (feature views) from training statistics, and no training/serving skew."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import granary
from granary.builtin_transformations import (
    impute_mean,
    label_encoder,
    log_transform,
    min_max_scaler,
    one_hot_encoder,
    robust_scaler,
    standard_scaler,
)
from granary.transformations import TransformationFunction, TransformationStatistics, udf
from granary_core import errors


@udf(float, drop=["limit"])
def amount_ratio(amount: float, limit: float):
    """Share of the card's limit a transaction uses."""
    return amount / limit


@udf([float, float], mode="python")
def split_amount(amount):
    return math.floor(amount), amount - math.floor(amount)


@udf(
    float,
)
def centered(amount, statistics=TransformationStatistics("amount")):  # noqa: B008 (Hopsworks style)
    return amount - statistics.amount.mean


def ts(*days: int) -> pd.Series:
    return pd.to_datetime([f"2025-01-{d:02d}" for d in days], utc=True)


# on-demand --------------------------------------------------------------------------------------


@pytest.fixture
def tx(ofs):
    return ofs.create_feature_group(
        "tx",
        version=1,
        primary_key=["cc_num"],
        event_time="ts",
        online_enabled=True,
        transformation_functions=[amount_ratio("amount", "limit"), split_amount("amount")],
    )


def insert_tx(tx):
    tx.insert(
        pd.DataFrame(
            {
                "cc_num": [1, 2, 1],
                "ts": ts(1, 2, 3),
                "amount": [10.5, 20.25, 30.0],
                "limit": [100.0, 50.0, 60.0],
                "is_fraud": [0, 1, 0],
            }
        )
    )


def test_on_demand_features_are_computed_at_insert_and_stored(tx):
    insert_tx(tx)
    names = [f.name for f in tx.features]
    assert "limit" not in names  # dropped after the transformation
    assert names[-3:] == ["amount_ratio", "split_amount_0", "split_amount_1"]
    offline = tx.read().sort_values("ts")
    assert offline["amount_ratio"].tolist() == [0.105, 0.405, 0.5]
    assert offline["split_amount_0"].tolist() == [10.0, 20.0, 30.0]
    online = tx.read(online=True).set_index("cc_num")
    assert online.loc[1, "amount_ratio"] == 0.5 and online.loc[2, "split_amount_1"] == 0.25


def test_training_data_sees_stored_on_demand_features(ofs, tx):
    insert_tx(tx)
    view = ofs.create_feature_view("fraud", version=1, query=tx.select_all(), labels=["is_fraud"])
    x, _ = view.training_data()
    assert sorted(x["amount_ratio"].tolist()) == [0.105, 0.405, 0.5]


def test_on_demand_features_are_recomputed_from_request_parameters(ofs, tx):
    insert_tx(tx)
    view = ofs.create_feature_view("fraud", version=1, query=tx.select_all(), labels=["is_fraud"])
    stored = view.get_feature_vector({"cc_num": 1}, return_type="dict")
    assert stored["amount_ratio"] == 0.5  # computed at insert
    fresh = view.get_feature_vector(
        {"cc_num": 1}, request_parameters={"amount": 12.0, "limit": 24.0}, return_type="dict"
    )
    assert fresh["amount_ratio"] == 0.5 and fresh["amount"] == 12.0
    assert (fresh["split_amount_0"], fresh["split_amount_1"]) == (12.0, 0.0)
    batch = view.get_feature_vectors(
        [{"cc_num": 1}, {"cc_num": 2}],
        request_parameters=[{"amount": 5.0, "limit": 10.0}, {"amount": 1.0, "limit": 4.0}],
        return_type="dict",
    )
    assert [b["amount_ratio"] for b in batch] == [0.5, 0.25]


def test_a_dropped_input_must_come_with_the_request(ofs, tx):
    insert_tx(tx)
    view = ofs.create_feature_view("fraud", version=1, query=tx.select_all(), labels=["is_fraud"])
    with pytest.raises(errors.InvalidInput, match="needs 'limit'; pass it in request_parameters"):
        view.get_feature_vector({"cc_num": 1}, request_parameters={"amount": 3.0})
    with pytest.raises(errors.InvalidInput, match="request parameter 'limit': 'high' is not double"):
        view.get_feature_vector({"cc_num": 1}, request_parameters={"amount": 3.0, "limit": "high"})


def test_a_request_parameter_an_unannotated_udf_cannot_use(ofs):
    @udf(float, drop=["limit"])
    def ratio(amount, limit):
        return amount / limit

    fg = ofs.create_feature_group(
        "tx",
        version=1,
        primary_key=["cc_num"],
        online_enabled=True,
        transformation_functions=[ratio("amount", "limit")],
    )
    fg.insert(pd.DataFrame({"cc_num": [1], "amount": [1.0], "limit": [2.0]}))
    view = ofs.create_feature_view("v", version=1, query=fg.select_all())
    with pytest.raises(
        errors.InvalidInput, match=r"with request parameters \{'limit': 'high'\}.*failed: TypeError"
    ):
        view.get_feature_vector({"cc_num": 1}, request_parameters={"limit": "high"})


def test_insert_without_an_input_of_an_on_demand_transformation(tx):
    with pytest.raises(errors.InvalidInput, match=r"needs feature\(s\) \['limit'\]"):
        tx.insert(pd.DataFrame({"cc_num": [1], "ts": ts(1), "amount": [1.0]}))
    assert tx.commit_details() == {}


def test_on_demand_transformations_cannot_use_statistics_or_touch_keys(ofs):
    with pytest.raises(errors.InvalidInput, match="uses training statistics"):
        ofs.create_feature_group("a", version=1, primary_key=["id"], transformation_functions=[centered])

    @udf(int, drop="id")
    def id_copy(id):
        return id

    with pytest.raises(errors.InvalidInput, match="primary key or the event time"):
        ofs.create_feature_group("b", version=1, primary_key=["id"], transformation_functions=[id_copy])


def test_udf_is_stored_as_source_and_recreated():
    description = amount_ratio("amt", "lim").to_dict()
    assert description["source"].startswith("def amount_ratio(amount: float, limit: float):")
    assert "@udf" not in description["source"]
    loaded = TransformationFunction.from_dict(description)
    assert loaded.input_features == ["amt", "lim"] and loaded.dropped_features == ["lim"]
    out = loaded.apply(pa.table({"amt": [1.0, 3.0], "lim": [2.0, 4.0]}), "on_demand")
    assert out.column_names == ["amt", "amount_ratio"] and out["amount_ratio"].to_pylist() == [0.5, 0.75]
    assert split_amount.alias("whole", "cents").output_column_names("on_demand") == ["whole", "cents"]


def test_udf_mistakes_are_clear():
    with pytest.raises(errors.InvalidInput, match="not a lambda"):
        udf(float)(lambda x: x)
    with pytest.raises(errors.InvalidInput, match="mode"):
        udf(float, mode="spark")
    with pytest.raises(errors.InvalidInput, match="takes 2 feature"):
        amount_ratio("only_one")

    @udf(int)
    def bad(x):
        return x.str.upper()

    with pytest.raises(errors.InvalidInput, match="transformation 'bad' failed: AttributeError"):
        bad.apply(pa.table({"x": [1]}), "on_demand")


# model-dependent --------------------------------------------------------------------------------


ALL_BUILTINS = [
    min_max_scaler("amount"),
    standard_scaler("amount"),
    robust_scaler("p_age"),
    label_encoder("category"),
    one_hot_encoder("category"),
    log_transform("amount"),
    impute_mean("p_score"),
]


@pytest.fixture
def view(ofs):
    tx = ofs.create_feature_group(
        "tx", version=1, primary_key=["cc_num"], event_time="ts", online_enabled=True
    )
    profile = ofs.create_feature_group(
        "profile", version=1, primary_key=["cc_num"], event_time="ts", online_enabled=True
    )
    rng = np.random.default_rng(7)
    n = 40
    tx.insert(
        pd.DataFrame(
            {
                "cc_num": np.arange(n) % 10,
                "ts": pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="h"),
                "amount": rng.uniform(-5, 100, n).round(2),
                "category": rng.choice(["food", "gas", "travel"], n),
                "is_fraud": rng.integers(0, 2, n),
            }
        )
    )
    profile.insert(
        pd.DataFrame(
            {
                "cc_num": np.arange(10),
                "ts": ts(*[1] * 10) - pd.Timedelta(days=1),
                "age": rng.integers(18, 90, 10),
                "score": [None if i % 3 == 0 else float(i) for i in range(10)],
            }
        )
    )
    query = tx.select_all().join(profile.select(["age", "score"]), on=["cc_num"], prefix="p_")
    return ofs.create_feature_view(
        "fraud",
        version=1,
        query=query,
        labels=["is_fraud"],
        transformation_functions=[*ALL_BUILTINS, centered],
    )


def test_builtins_follow_their_formulas_with_training_statistics(view):
    version, _ = view.create_training_data()
    stats = view.get_training_dataset(version).statistics["train"]
    x, _ = view.get_training_data(version, primary_key=True, event_time=True)
    raw, _ = view.training_data(primary_key=True, event_time=True)  # same rows, same stats
    x = x.sort_values(["cc_num", "ts"]).reset_index(drop=True)
    batch = view.get_batch_data(primary_key=True, event_time=True, transformed=False)
    batch = batch.sort_values(["cc_num", "ts"]).reset_index(drop=True)
    amount, age, score = batch["amount"], batch["p_age"], batch["p_score"]
    a, g = stats["amount"], stats["p_age"]
    assert np.allclose(x["min_max_scaler_amount_"], (amount - a["min"]) / (a["max"] - a["min"]))
    assert np.allclose(x["standard_scaler_amount_"], (amount - a["mean"]) / a["std"])
    assert np.allclose(x["robust_scaler_p_age_"], (age - g["p50"]) / (g["p75"] - g["p25"]))
    values = stats["category"]["unique_values"]
    assert values == ["food", "gas", "travel"]
    assert x["label_encoder_category_"].tolist() == [values.index(c) for c in batch["category"]]
    for i, value in enumerate(values):
        assert x[f"one_hot_encoder_category_{i}"].tolist() == (batch["category"] == value).tolist()
    expected_log = [math.log(v) if v > 0 else None for v in amount]
    assert [None if pd.isna(v) else round(v, 9) for v in x["log_transform_amount_"]] == [
        None if v is None else round(v, 9) for v in expected_log
    ]
    assert x["impute_mean_p_score_"].tolist() == score.fillna(stats["p_score"]["mean"]).tolist()
    assert np.allclose(x["centered_amount_"], amount - a["mean"])
    for dropped in ("amount", "p_age", "category", "p_score"):
        assert dropped not in x.columns
    assert list(raw.columns) == list(x.columns)


def test_no_training_serving_skew(view):
    """The same entity's transformed features, offline and online, are identical."""
    version, _ = view.create_training_data()
    x, _ = view.get_training_data(version, primary_key=True, event_time=True)
    view.init_batch_scoring(version)
    batch = view.get_batch_data(primary_key=True, event_time=True)
    view.init_serving(training_dataset_version=version)
    for cc_num in range(10):
        newest = x[x["cc_num"] == cc_num].sort_values("ts").iloc[-1]
        newest_batch = batch[batch["cc_num"] == cc_num].sort_values("ts").iloc[-1]
        vector = view.get_feature_vector({"cc_num": cc_num}, return_type="dict")
        many = view.get_feature_vectors([{"cc_num": cc_num}] * 40, return_type="dict")
        assert many[0] == vector
        for name, value in vector.items():
            for offline in (newest[name], newest_batch[name]):
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    assert pd.isna(offline), name
                else:
                    assert value == offline, (cc_num, name, value, offline)


def test_serving_needs_a_training_dataset_for_statistics(view):
    with pytest.raises(errors.InvalidInput, match="no training dataset exists yet"):
        view.init_serving()
    with pytest.raises(errors.InvalidInput, match="no training dataset exists yet"):
        view.get_batch_data()
    assert "amount" in view.get_batch_data(transformed=False).columns


def test_in_memory_training_data_uses_statistics_of_its_own_train_split(view):
    x_train, x_test, _, _ = view.train_test_split(test_size=0.25)
    assert x_train["min_max_scaler_amount_"].min() == 0.0 and x_train["min_max_scaler_amount_"].max() == 1.0
    assert len(x_test) == 10


def test_transform_applies_model_dependent_transformations(view):
    version, _ = view.create_training_data()
    view.init_serving(version)
    raw = view.get_feature_vector({"cc_num": 1}, return_type="dict", transform=False)
    done = view.get_feature_vector({"cc_num": 1}, return_type="dict")
    assert view.transform(raw) == done
    frame = view.transform(pd.DataFrame([raw]))
    assert frame["min_max_scaler_amount_"].tolist() == [done["min_max_scaler_amount_"]]


def test_unseen_and_null_categories(view):
    version, _ = view.create_training_data()
    view.init_serving(version)
    got = view.get_feature_vector({"cc_num": 1}, passed_features={"category": "pets"}, return_type="dict")
    assert got["label_encoder_category_"] == -1
    assert [got[f"one_hot_encoder_category_{i}"] for i in range(3)] == [False, False, False]


def test_model_dependent_transformations_are_checked_at_creation(ofs, view):
    query = view.query
    with pytest.raises(errors.InvalidInput, match="takes feature 'amnt', which the query does not return"):
        ofs.create_feature_view(
            "bad", version=1, query=query, transformation_functions=[min_max_scaler("amnt")]
        )
    with pytest.raises(errors.InvalidInput, match="takes label"):
        ofs.create_feature_view(
            "bad",
            version=1,
            query=query,
            labels=["is_fraud"],
            transformation_functions=[label_encoder("is_fraud")],
        )
    with pytest.raises(errors.InvalidInput, match="not a transformation function"):
        ofs.create_feature_view("bad", version=1, query=query, transformation_functions=["min_max_scaler"])


def test_builtin_namespace():
    assert granary.builtin.min_max_scaler.name == "min_max_scaler"
    assert min_max_scaler("x").output_column_names("model_dependent") == ["min_max_scaler_x_"]

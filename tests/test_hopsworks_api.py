"""Calls Hopsworks notebooks make, on both backends: selections, what a read returns,
the time and name forms hsfs accepts, and transforming vectors."""

from __future__ import annotations

import pandas as pd
import pytest

from granary import builtin
from granary_core import errors
from tests.conftest import ts


@pytest.fixture
def groups(fs):
    a = fs.create_feature_group("a", 1, primary_key=["id"], event_time="ts", online_enabled=True)
    b = fs.create_feature_group("b", 1, primary_key=["id"], event_time="ts", online_enabled=True)
    a.insert(
        pd.DataFrame(
            {"id": [1, 2], "ts": ts("2025-01-02", "2025-01-03"), "amount": [1.0, 2.0], "label": [0, 1]}
        )
    )
    b.insert(pd.DataFrame({"id": [1, 2], "ts": ts("2025-01-01", "2025-01-01"), "score": [5.0, 6.0]}))
    return a, b


def test_selections_take_hopsworks_arguments(groups):
    a, _ = groups
    assert a.select("amount").features == ["amount"]  # one name, not its letters
    assert a.select_features().features == ["amount", "label"]
    assert a.select_all(include_primary_key=False, include_event_time=False).features == ["amount", "label"]
    assert a.select_all(include_primary_key=True, include_event_time=False).features == [
        "id",
        "amount",
        "label",
    ]
    assert [(f.name, f.type) for f in a.schema][:2] == [("id", "int64"), ("ts", "timestamp[us, tz=UTC]")]
    assert a.get_feature("amount").type == "double"
    with pytest.raises(AttributeError, match="no attribute 'select_everything'") as caught:
        a.select_everything()
    assert "no feature" not in str(caught.value)
    assert len(a.show(1)) == 1


def test_select_all_returns_the_key_and_event_time_in_training_data(fs, groups):
    a, _ = groups
    fv = fs.create_feature_view("v", a.select_all(), 1, labels=["label"])
    x, y = fv.training_data()  # hsfs' select_all() selects them: they are features
    assert list(x.columns) == ["id", "ts", "amount"] and list(y.columns) == ["label"]
    x_train, x_test, _, _ = fv.train_test_split(test_size=0.5, seed=1)
    assert list(x_train.columns) == list(x_test.columns) == ["id", "ts", "amount"]
    version, _ = fv.create_training_data()
    x, _ = fv.get_training_data(version)  # files too
    assert list(x.columns) == ["id", "ts", "amount"]
    assert sorted(x["ts"]) == list(ts("2025-01-02", "2025-01-03"))


def test_select_all_returns_the_key_and_event_time_in_batch_data(fs, groups):
    a, _ = groups
    fv = fs.create_feature_view("v", a.select_all(), 1, labels=["label"])
    batch = fv.get_batch_data(start_time="2025-01-03")
    assert list(batch.columns) == ["id", "ts", "amount"]
    assert batch.to_dict("list") == {"id": [2], "ts": list(ts("2025-01-03")), "amount": [2.0]}


def test_select_all_returns_the_key_and_event_time_in_feature_vectors(fs, groups):
    a, _ = groups
    fv = fs.create_feature_view("v", a.select_all(), 1, labels=["label"])
    fv.init_serving()
    vector = fv.get_feature_vector({"id": 2}, return_type="pandas")
    assert list(vector.columns) == ["id", "ts", "amount"]  # as the schema, label left out
    assert vector.iloc[0].tolist() == [2, ts("2025-01-03")[0], 2.0]
    assert [len(v) for v in fv.get_feature_vectors([{"id": 1}, {"id": 2}])] == [3, 3]


def test_flags_add_only_the_keys_and_event_time_not_selected(fs, groups):
    a, _ = groups
    every = fs.create_feature_view("every", a.select_all(), 1, labels=["label"])
    for flags in [{}, {"primary_key": True}, {"event_time": True}, {"primary_key": True, "event_time": True}]:
        # selected already: returned without a flag, and a flag does not add them twice
        assert list(every.training_data(**flags)[0].columns) == ["id", "ts", "amount"], flags
        assert list(every.get_batch_data(**flags).columns) == ["id", "ts", "amount"], flags
    bare = fs.create_feature_view(
        "bare", a.select_all(include_primary_key=False, include_event_time=False), 1, labels=["label"]
    )
    assert list(bare.training_data()[0].columns) == ["amount"]
    assert list(bare.training_data(primary_key=True)[0].columns) == ["id", "amount"]
    assert list(bare.training_data(event_time=True)[0].columns) == ["ts", "amount"]
    assert list(bare.get_batch_data(primary_key=True, event_time=True).columns) == ["id", "ts", "amount"]
    bare.init_serving()
    assert bare.get_feature_vector({"id": 2}) == [2.0]


def test_selected_keys_are_returned_and_flags_add_the_others(fs, groups):
    a, b = groups
    fv = fs.create_feature_view(
        "v", a.select(["id", "amount", "label"]).join(b.select(["score"])), 1, labels=["label"]
    )
    x, _ = fv.training_data()
    assert list(x.columns) == ["id", "amount", "score"]  # id selected, ts not
    x, _ = fv.training_data(event_time=True)
    assert list(x.columns) == ["ts", "id", "amount", "score"]  # helpers first
    assert list(fv.get_batch_data().columns) == ["id", "amount", "score"]
    fv.init_serving()
    assert fv.get_feature_vector({"id": 2}) == [2, 2.0, 6.0]


@pytest.mark.parametrize(
    "query",
    [
        lambda a, b: a.select(["amount", "label"]).join(b.select_except(["score"])),
        lambda a, b: a.select(["amount", "label"]).join(b.select_all(include_event_time=True)),
        lambda a, b: a.select(["amount", "label"]).join(b.select_all()),
    ],
    ids=["select_except", "select_all_event_time", "select_all"],
)
def test_a_joined_groups_event_time_is_prefixed_only_when_a_read_returns_the_roots(fs, groups, query):
    a, b = groups
    fv = fs.create_feature_view("v", query(a, b), 1, labels=["label"])
    # b's selection names id and ts: both are returned (id is the join key's value)
    x, _ = fv.training_data()  # was FeatureNameClash on every read
    assert list(x.columns)[:3] == [
        "id",
        "amount",
        "ts",
    ]  # no clash: b's event time by its plain name, as hsfs
    assert (x["ts"] == pd.Timestamp("2025-01-01", tz="UTC")).all()  # b's, not a's (2025-01-02/03)
    x, _ = fv.training_data(event_time=True)
    assert list(x.columns)[:4] == ["id", "ts", "amount", "b_ts"]  # a's too: b's takes its group's prefix
    assert (x["b_ts"] == pd.Timestamp("2025-01-01", tz="UTC")).all()
    assert list(fv.get_batch_data().columns)[:3] == ["id", "amount", "ts"]
    assert list(fv.get_batch_data(event_time=True).columns)[:4] == ["id", "ts", "amount", "b_ts"]


def test_a_joined_groups_selected_key_is_returned_without_primary_key(fs, groups):
    a, b = groups
    fv = fs.create_feature_view(
        "v", a.select(["amount", "label"]).join(b.select_all(include_event_time=False)), 1, labels=["label"]
    )
    x, _ = fv.training_data()  # b's select_all names id: returned, as hsfs does
    assert list(x.columns) == ["id", "amount", "score"]
    assert list(fv.get_batch_data().columns) == ["id", "amount", "score"]
    fv.init_serving()
    assert fv.get_feature_vector({"id": 2}) == [2, 2.0, 6.0]  # as many values as X has columns


@pytest.mark.parametrize(
    "moment", [1735776000000, "2025/01/02", "20250102", "2025-01-02 00:00", "2025-01-02"]
)
def test_time_forms_hsfs_accepts(fs, groups, moment):
    a, b = groups
    fv = fs.create_feature_view("v", a.select(["amount"]).join(b.select(["score"])), 1)
    assert sorted(fv.get_batch_data(start_time=moment)["amount"]) == [1.0, 2.0]
    assert fv.get_batch_data(start_time=moment, end_time="2025/01/03")["amount"].tolist() == [1.0]


def test_unparseable_time_names_the_forms(fs, groups):
    a, _ = groups
    with pytest.raises(errors.InvalidInput, match="YYYY/MM/DD"):
        a.read(start_time="next tuesday")


def test_epoch_ms_event_times_and_upper_case_names(fs):
    fg = fs.create_feature_group("c", 1, primary_key=["CustomerId"], event_time="EventTime")
    assert fg.primary_key == ["customerid"] and fg.event_time == "eventtime"
    fg.insert(pd.DataFrame({"CustomerId": [7], "EventTime": [1735776000000], "Amount": [3.5]}))
    row = fg.read().iloc[0]
    assert [f.name for f in fg.features] == ["customerid", "eventtime", "amount"]
    assert row["eventtime"] == pd.Timestamp("2025-01-02", tz="UTC") and row["amount"] == 3.5


@pytest.fixture
def scaled_view(fs, groups):
    """A view whose ``amount`` is min-max scaled: a transformation that needs statistics."""
    a, b = groups
    return fs.create_feature_view(
        "v",
        a.select(["amount", "label"]).join(b.select(["score"])),
        1,
        labels=["label"],
        transformation_functions=[builtin.min_max_scaler("amount")],
    )


def test_transform_takes_vectors_as_get_feature_vector_returns_them(scaled_view):
    fv = scaled_view
    fv.create_training_data()
    fv.init_serving(training_dataset_version=1)
    raw = fv.get_feature_vector({"id": 2}, transform=False)
    assert fv.transform(raw) == fv.get_feature_vector({"id": 2})
    raws = fv.get_feature_vectors([{"id": 1}, {"id": 2}], transform=False)
    assert fv.transform(raws) == fv.get_feature_vectors([{"id": 1}, {"id": 2}])
    with pytest.raises(errors.InvalidInput, match="vector of 1 values"):
        fv.transform([1.0])


def test_in_memory_splits_record_a_training_dataset_version(scaled_view):
    fv = scaled_view
    x_train, x_test, _, _ = fv.train_test_split(test_size=0.5)
    assert fv.training_dataset_version_read == 1
    td = fv.get_training_dataset(1)
    assert td.data_format == "memory" and td.options["rows"] == {"train": 1, "test": 1}
    assert td.statistics["train"]["amount"]["count"] == 1
    # only what the transformations take is described: describing every column of a
    # large read cost more than the read (files made by create_training_data describe all)
    assert set(td.statistics["train"]) == {"amount"}
    fv.init_serving(training_dataset_version=1)  # raised: no training dataset exists yet
    fv.init_batch_scoring(1)
    assert fv.get_batch_data()["min_max_scaler_amount_"].notna().all()
    x_train_again, x_test_again, _, _ = fv.get_train_test_split(1)  # the same split, read again
    assert x_train_again.equals(x_train) and x_test_again.equals(x_test)
    fv.training_data()
    assert [t.version for t in fv.get_training_datasets()] == [1, 2]


def test_built_in_transformation_functions_are_found_by_name(fs, groups):
    """``fs.get_transformation_function(name=...)`` gives the built-in, bound to a
    feature as Hopsworks 4 notebooks do, or mapped to one as hsfs 3 notebooks do."""
    a, b = groups
    scaler = fs.get_transformation_function(name="min_max_scaler", version=1)
    assert scaler is builtin.min_max_scaler
    for name in ("label_encoder", "standard_scaler", "robust_scaler", "one_hot_encoder"):
        assert fs.get_transformation_function(name) is getattr(builtin, name)
    query = a.select(["amount", "label"]).join(b.select(["score"]))
    standard = fs.get_transformation_function(name="standard_scaler")
    fv = fs.create_feature_view(
        "tf", query, 1, labels=["label"], transformation_functions=[scaler("amount"), standard("score")]
    )
    x, _ = fv.training_data()
    assert list(x.columns) == ["min_max_scaler_amount_", "standard_scaler_score_"]
    assert sorted(x["min_max_scaler_amount_"]) == [0.0, 1.0]
    mapped = fs.create_feature_view(
        "tf3", query, 1, labels=["label"], transformation_functions={"amount": scaler, "score": standard}
    )
    in_order = lambda frame: frame.sort_values(list(frame.columns)).reset_index(drop=True)  # noqa: E731
    assert in_order(mapped.training_data()[0]).equals(in_order(x))  # a read has no row order
    with pytest.raises(errors.NotFound, match=r"'minmax_scaler' does not exist; built-ins: .*min_max_scaler"):
        fs.get_transformation_function(name="minmax_scaler")
    with pytest.raises(errors.NotFound, match="'label_encoder' has version 1 only, not version 2"):
        fs.get_transformation_function(name="label_encoder", version=2)


def test_helper_columns_must_be_features_the_query_selects(fs, groups):
    """Helper columns may be given empty, as notebooks pass them; a name the query does
    not select, or a label, is refused naming it, and nothing is stored."""
    a, b = groups
    query = a.select(["amount", "label"]).join(b.select(["score"]))
    fv = fs.create_feature_view(
        "h", query, 1, labels=["label"], inference_helper_columns=[], training_helper_columns=None
    )
    assert list(fv.training_data()[0].columns) == ["amount", "score"]
    assert (fv.inference_helper_columns, fv.training_helper_columns) == ([], [])
    with pytest.raises(
        errors.InvalidInput, match=r"feature view 'h2': training_helper_columns \['age'\] are not features"
    ):
        fs.create_feature_view("h2", query, 1, labels=["label"], training_helper_columns=["score", "age"])
    with pytest.raises(errors.InvalidInput, match=r"inference_helper_columns \['label'\] are labels"):
        fs.create_feature_view("h2", query, 1, labels=["label"], inference_helper_columns=["label"])
    with pytest.raises(errors.FeatureViewNotFound):
        fs.get_feature_view("h2")


def test_helper_columns_are_returned_only_when_asked(fs, groups):
    """hsfs: training helpers come with training data read with
    ``training_helper_columns=True``; inference helpers with batch data read with
    ``inference_helper_columns=True`` and from ``get_inference_helper(s)``; vectors have neither."""
    a, b = groups
    c = fs.create_feature_group("c", 1, primary_key=["id"], event_time="ts", online_enabled=True)
    c.insert(pd.DataFrame({"id": [1, 2], "ts": ts("2025-01-01", "2025-01-01"), "age": [30, 40]}))
    fv = fs.create_feature_view(
        "hh",
        a.select(["amount", "label"]).join(b.select(["score"])).join(c.select(["age"])),
        1,
        labels=["label"],
        inference_helper_columns=["score"],
        training_helper_columns=["age"],
    )
    assert list(fv.training_data()[0].columns) == ["amount"]
    assert list(fv.training_data(training_helper_columns=True)[0].columns) == ["amount", "age"]
    assert list(fv.get_batch_data().columns) == ["amount"]
    assert list(fv.get_batch_data(inference_helper_columns=True).columns) == ["amount", "score"]
    fv.init_serving()
    assert fv.get_feature_vector({"id": 2}) == [2.0]
    assert fv.get_inference_helper({"id": 2})["score"].tolist() == [6.0]
    assert fv.get_inference_helpers([{"id": 1}, {"id": 2}])["score"].tolist() == [5.0, 6.0]


def test_helper_columns_are_stored_with_the_view_and_its_training_datasets(fs, groups):
    """The lists come back with the view; training dataset files keep every feature and
    their reads leave the helpers out unless asked; vectors of every shape lack them."""
    a, b = groups
    fs.create_feature_view(
        "hs",
        a.select(["amount", "label"]).join(b.select(["score"])),
        1,
        labels=["label"],
        inference_helper_columns=["score"],
        training_helper_columns=["score"],
    )
    fv = fs.get_feature_view("hs", 1)
    assert (fv.inference_helper_columns, fv.training_helper_columns) == (["score"], ["score"])
    version, _ = fv.create_train_test_split(test_size=0.5)
    x_train, x_test, _, _ = fv.get_train_test_split(version)
    assert list(x_train.columns) == list(x_test.columns) == ["amount"]
    x_train, _, _, _ = fv.get_train_test_split(version, training_helper_columns=True)
    assert list(x_train.columns) == ["amount", "score"]
    x, _ = fv.get_training_data(version, training_helper_columns=True)  # the train split
    assert list(x.columns) == ["amount", "score"]
    x_train, _, _, _ = fv.train_test_split(test_size=0.5, training_helper_columns=True)
    assert list(x_train.columns) == ["amount", "score"]
    fv.init_serving()
    assert fv.get_feature_vector({"id": 1}, return_type="dict") == {"amount": 1.0}
    assert list(fv.get_feature_vectors([{"id": 1}, {"id": 2}], return_type="pandas").columns) == ["amount"]
    assert fv.get_inference_helper({"id": 1}, return_type="dict") == {"score": 5.0}
    assert fv.get_inference_helpers([{"id": 2}], return_type="dict") == [{"score": 6.0}]
    with pytest.raises(errors.InvalidInput, match="return_type 'list'"):
        fv.get_inference_helper({"id": 1}, return_type="list")
    plain = fs.create_feature_view("hp", a.select(["amount"]), 1)
    with pytest.raises(errors.InvalidInput, match="'hp' v1 has no inference helper columns"):
        plain.get_inference_helper({"id": 1})


def test_descriptions_tags_and_statistics_config(fs):
    from granary.hsfs.feature import Feature

    fg = fs.create_feature_group(
        "d",
        1,
        primary_key=["id"],
        event_time="ts",
        description="payments",
        features=[Feature("amount", type="double", description="in euros")],
        statistics_config={"enabled": True, "histograms": True},
    )
    fg.insert(pd.DataFrame({"id": [1, 2], "ts": ts("2025-01-01", "2025-01-02"), "amount": [1.0, 3.0]}))
    assert fg.get_feature("amount").description == "in euros"
    fg.update_description("card payments").update_feature_description("id", "card number")
    fg.add_tag("owner", {"team": "fraud"})
    fg.statistics_config = {"enabled": True, "columns": ["amount"]}
    fg.update_statistics_config()
    again = fs.get_feature_group("d", 1)  # read back from the store, not this object
    assert again.description == "card payments"
    assert [f.description for f in again.features] == ["card number", "", "in euros"]
    assert again.get_tag("owner") == {"team": "fraud"} and again.get_tags() == {"owner": {"team": "fraud"}}
    assert again.statistics_config == {"enabled": True, "columns": ["amount"]}
    stats = again.compute_statistics()
    assert list(stats) == ["amount"] and stats["amount"]["mean"] == 2.0 and stats["amount"]["max"] == 3.0
    assert sum(b["count"] for b in stats["amount"]["histogram"]) == 2
    again.delete_tag("owner")
    with pytest.raises(errors.NotFound, match="no tag 'owner'"):
        fs.get_feature_group("d", 1).get_tag("owner")
    with pytest.raises(errors.InvalidInput, match="unknown key"):
        fs.create_feature_group("e", 1, primary_key=["id"], statistics_config={"histogram": True})
    with pytest.raises(errors.FeatureGroupNotFound):
        fs.get_feature_group("e", 1)  # nothing stored on refusal


def test_statistics_config_objects_as_hsfs_builds_them(fs):
    """``StatisticsConfig`` from ``hsfs.statistics_config`` configures a group at creation,
    through get_or_create, and is accepted by a view; a dict still works."""
    from granary.hsfs.statistics_config import StatisticsConfig

    config = StatisticsConfig(True, False, True, False, ["amount"])
    assert (config.enabled, config.histograms, config.exact_uniqueness) == (True, True, False)
    rows = pd.DataFrame({"id": [1, 2], "ts": ts("2025-01-01", "2025-01-02"), "amount": [1.0, 3.0]})
    fg = fs.create_feature_group("sc1", 1, primary_key=["id"], event_time="ts", statistics_config=config)
    assert fg.statistics_config == {
        "enabled": True,
        "correlations": False,
        "histograms": True,
        "exact_uniqueness": False,
        "columns": ["amount"],
    }
    fg.insert(rows)
    assert list(fg.get_statistics()["statistics"]) == ["amount"]
    made = fs.get_or_create_feature_group(
        "sc2", 1, primary_key=["id"], event_time="ts", statistics_config=StatisticsConfig()
    )
    made.insert(rows)
    assert sorted(made.get_statistics()["statistics"]) == ["amount", "id", "ts"]
    assert fs.get_or_create_feature_group("sc2", 1).statistics_config["enabled"] is True
    made.statistics_config = StatisticsConfig(enabled=False)
    assert made.update_statistics_config().statistics_config["enabled"] is False
    for view_config in (StatisticsConfig(histograms=True), {"enabled": True, "correlations": True}):
        fv = fs.create_feature_view("scv", fg.select(["amount"]), statistics_config=view_config)
        assert fv.get_batch_data()["amount"].tolist() == [1.0, 3.0]
    with pytest.raises(errors.InvalidInput, match="feature view 'bad': statistics_config: unknown key"):
        fs.create_feature_view("bad", fg.select(["amount"]), statistics_config={"histogram": True})
    with pytest.raises(errors.FeatureViewNotFound):
        fs.get_feature_view("bad")


SUITE = {
    "expectation_suite_name": "payments",
    "expectations": [
        {"expectation_type": "expect_column_values_to_not_be_null", "kwargs": {"column": "amount"}},
        {
            "expectation_type": "expect_column_values_to_be_between",
            "kwargs": {"column": "amount", "min_value": 0, "max_value": 100},
        },
        {
            "expectation_type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "kind", "value_set": ["a", "b"]},
        },
        {
            "expectation_type": "expect_column_values_to_match_regex",
            "kwargs": {"column": "kind", "regex": "^[a-z]$"},
        },
        {"expectation_type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
        {
            "expectation_type": "expect_table_row_count_to_be_between",
            "kwargs": {"min_value": 1, "max_value": 10},
        },
        {
            "expectation_type": "expect_column_mean_to_be_between",
            "kwargs": {"column": "amount", "max_value": 50},
        },
        {
            "expectation_type": "expect_column_max_to_be_between",
            "kwargs": {"column": "amount", "max_value": 100},
        },
    ],
}


def payments(amount, kind=("a", "b")):
    return pd.DataFrame(
        {"id": [1, 2], "ts": ts("2025-01-01", "2025-01-02"), "amount": amount, "kind": list(kind)}
    )


class SuiteObject:
    """What a great_expectations ExpectationSuite offers: its JSON form."""

    def to_json_dict(self):
        return SUITE


def test_expectation_suites_validate_inserts(fs):
    fg = fs.create_feature_group("p", 1, primary_key=["id"], event_time="ts", expectation_suite=SuiteObject())
    assert fg.expectation_suite["validation_ingestion_policy"] == "ALWAYS"
    fg.insert(payments([10.0, 20.0]))
    report = fg.get_latest_validation_report()
    assert report["success"] and report["ingestion_result"] == "INGESTED"
    assert report["statistics"]["evaluated_expectations"] == len(SUITE["expectations"])
    fg.insert(payments([10.0, 500.0]))  # ALWAYS: stored although it fails
    assert not fg.get_latest_validation_report()["success"] and len(fg.read()) == 2
    assert fg.read()["amount"].max() == 500.0

    fg.save_expectation_suite(SUITE, validation_ingestion_policy="STRICT")
    attempts = refused = 0
    for bad in (payments([1.0, 200.0]), payments([1.0, 2.0], kind=("a", "zz")), payments([None, 2.0])):
        attempts += 1
        with pytest.raises(errors.ValidationFailed, match="expect_column_values") as caught:
            fg.insert(bad)
        refused += 1
        assert "Nothing was written" in str(caught.value)
    print(f"attempts={attempts} refused={refused}")
    assert fg.read()["amount"].max() == 500.0  # nothing stored on refusal
    latest = fg.get_latest_validation_report()
    assert latest["ingestion_result"] == "REJECTED"
    assert [r["success"] for r in latest["results"]][:2] == [False, True]
    assert len(fg.get_validation_reports()) == 5
    fg.insert(payments([3.0, 4.0]))
    assert fg.read()["amount"].max() == 4.0
    fg.delete_expectation_suite()
    assert fs.get_feature_group("p", 1).expectation_suite is None


def test_a_great_expectations_suite_object_validates_inserts(fs):
    import great_expectations as gx  # a dev dependency: Granary itself does not import it

    suite = gx.core.ExpectationSuite(name="payments_suite")
    suite.expectations.append(
        gx.expectations.ExpectColumnDistinctValuesToBeInSet(column="kind", value_set=["a", "b"])
    )
    suite.expectations.append(gx.expectations.ExpectColumnValuesToBeNull(column="amount", mostly=0.4))
    fg = fs.create_feature_group("p", 1, primary_key=["id"], event_time="ts", expectation_suite=suite)
    fg.save_expectation_suite(suite, validation_ingestion_policy="STRICT")
    fg.insert(payments([None, 20.0]))  # half null: enough for mostly=0.4
    report = fg.get_latest_validation_report()
    assert report["success"] and report["expectation_suite_name"] == "payments_suite"
    assert report["results"][0]["result"]["observed_value"] == ["a", "b"]
    with pytest.raises(errors.ValidationFailed, match=r"expect_column_distinct_values_to_be_in_set\(kind\)"):
        fg.insert(payments([None, None], kind=("a", "c")))
    with pytest.raises(errors.ValidationFailed, match=r"expect_column_values_to_be_null\(amount\)"):
        fg.insert(payments([1.0, 2.0]))
    assert len(fg.read()) == 2 and fg.read()["amount"].isna().sum() == 1


def test_unknown_expectation_types_are_refused_when_attached(fs):
    suite = {"expectations": [{"expectation_type": "expect_column_to_exist", "kwargs": {"column": "x"}}]}
    with pytest.raises(errors.InvalidInput, match="expect_column_to_exist"):
        fs.create_feature_group("q", 1, primary_key=["id"], expectation_suite=suite)


def test_statistics_columns_are_matched_as_feature_names_and_never_fail_an_insert(fs):
    """A config names features as the notebook spells them (original case) or names none
    that a commit writes: inserts go on, with statistics of what matches."""
    rows = pd.DataFrame({"id": [1, 2], "ts": ts("2025-01-01", "2025-01-01"), "Amount": [1.0, 3.0]})
    cased = fs.create_feature_group(
        "sc",
        1,
        primary_key=["id"],
        event_time="ts",
        statistics_config={"enabled": True, "columns": ["Amount"]},
    )
    cased.insert(rows)
    assert list(cased.get_statistics()["statistics"]) == ["amount"]
    none = fs.create_feature_group(
        "sn", 1, primary_key=["id"], event_time="ts", statistics_config={"enabled": True, "columns": ["nope"]}
    )
    none.insert(rows)
    assert sorted(none.read()["id"]) == [1, 2] and none.get_statistics() is None


def test_statistics_are_stored_per_commit(fs, groups):
    a, _ = groups
    assert a.get_statistics() is None  # statistics were not enabled for these commits
    fg = fs.create_feature_group(
        "s", 1, primary_key=["id"], event_time="ts", statistics_config={"enabled": True}
    )
    fg.insert(
        pd.DataFrame(
            {
                "id": [1, 2, 3],
                "ts": ts("2025-01-01", "2025-01-01", "2025-01-01"),
                "amount": [1.0, 2.0, None],
                "kind": ["a", "a", "b"],
            }
        )
    )
    first = fg.get_statistics()
    fg.insert(pd.DataFrame({"id": [4], "ts": ts("2025-01-02"), "amount": [10.0], "kind": ["c"]}))
    latest = fg.get_statistics()
    assert latest["commit_id"] != first["commit_id"]
    amount = first["statistics"]["amount"]
    assert (amount["count"], amount["min"], amount["max"], amount["mean"]) == (3, 1.0, 2.0, 1.5)
    assert amount["null_fraction"] == pytest.approx(1 / 3, abs=1e-3) and len(amount["histogram"]) == 10
    assert first["statistics"]["kind"]["top_values"] == [
        {"value": "a", "count": 2},
        {"value": "b", "count": 1},
    ]
    assert latest["statistics"]["amount"]["mean"] == 10.0  # the rows that commit wrote
    assert fg.get_statistics(commit_time=first["committed_at"])["commit_id"] == first["commit_id"]
    fv = fs.create_feature_view("sv", fg.select(["amount"]), 1)
    fv.create_training_data()
    assert fv.get_training_dataset_statistics(1)["train"]["amount"]["max"] == 10.0


def test_computed_statistics_are_stored(fs):
    """Hopsworks' ``compute_statistics()`` saves what it computes: ``get_statistics()``
    returns it afterwards."""
    fg = fs.create_feature_group("cs", 1, primary_key=["id"], event_time="ts")
    fg.insert(pd.DataFrame({"id": [1, 2], "ts": ts("2025-01-01", "2025-01-02"), "amount": [1.0, 3.0]}))
    computed = fg.compute_statistics()
    stored = fg.get_statistics()
    assert stored is not None and stored["statistics"] == computed


def test_computed_statistics_describe_all_rows_of_the_commit_at_wallclock_time(fs):
    """They describe every row visible then (not only the last insert's), go on the commit
    visible at ``wallclock_time``, replace what its insert recorded, and honour the
    object's ``statistics_config`` columns."""
    fg = fs.create_feature_group(
        "cw", 1, primary_key=["id"], event_time="ts", statistics_config={"enabled": True}
    )
    fg.insert(pd.DataFrame({"id": [1, 2], "ts": ts("2025-01-01", "2025-01-01"), "amount": [1.0, 3.0]}))
    first = fg.get_statistics()
    fg.insert(pd.DataFrame({"id": [3], "ts": ts("2025-01-02"), "amount": [8.0], "kind": ["a"]}))
    assert fg.get_statistics()["statistics"]["amount"]["count"] == 1  # the rows the insert wrote
    latest = fg.compute_statistics()
    assert latest["amount"]["count"] == 3 and latest["amount"]["mean"] == 4.0
    assert latest["kind"]["null_fraction"] == pytest.approx(2 / 3, abs=1e-3)
    assert fg.get_statistics()["statistics"] == latest
    fg.statistics_config = {"enabled": True, "columns": ["Amount"]}  # not stored: this object's
    then = fg.compute_statistics(wallclock_time=first["committed_at"])
    assert list(then) == ["amount"] and then["amount"]["mean"] == 2.0
    stored = fg.get_statistics(commit_time=first["committed_at"])
    assert stored["commit_id"] == first["commit_id"] and stored["statistics"] == then
    assert fg.get_statistics()["statistics"] == latest  # the newer commit keeps its own
    fg.statistics_config = {"enabled": True, "columns": ["nope"]}
    with pytest.raises(errors.InvalidInput, match=r"statistics columns \['nope'\] are not features"):
        fg.compute_statistics()


def test_computed_statistics_of_a_group_without_data_are_empty(fs):
    """No commit is visible (no insert yet, or a time before the first): nothing to
    describe, nothing stored, as hsfs returns nothing."""
    fg = fs.create_feature_group("ce", 1, primary_key=["id"], event_time="ts")
    assert fg.compute_statistics() == {} and fg.get_statistics() is None
    fg.insert(pd.DataFrame({"id": [1], "ts": ts("2025-01-01"), "amount": [1.0]}))
    assert fg.compute_statistics(wallclock_time="2000-01-01") == {}
    assert fg.get_statistics() is None


def test_insert_takes_hopsworks_arguments_in_hopsworks_order(fs):
    """``fg.insert(df, True)`` overwrites, as in Hopsworks, and the keywords notebooks
    pass (storage, write_options, validation_options, save_code) are accepted."""
    g = fs.create_feature_group("ins", 1, primary_key=["id"], event_time="ts")
    g.insert(pd.DataFrame({"id": [1, 2], "ts": ts("2025-01-01", "2025-01-01"), "v": [1.0, 2.0]}))
    g.insert(
        pd.DataFrame({"id": [3], "ts": ts("2025-01-02"), "v": [3.0]}),
        False,
        "upsert",
        storage=None,
        write_options={"wait_for_job": True},
        validation_options={"run_validation": True},
        save_code=True,
    )
    assert sorted(g.read()["id"]) == [1, 2, 3]
    g.insert(pd.DataFrame({"id": [9], "ts": ts("2025-01-03"), "v": [9.0]}), True)  # overwrite
    assert sorted(g.read()["id"]) == [9]
    with pytest.raises(errors.InvalidInput, match="storage 'disk'"):
        g.insert(pd.DataFrame({"id": [4], "ts": ts("2025-01-04"), "v": [4.0]}), storage="disk")
    assert sorted(g.read()["id"]) == [9]


def test_feature_logging_is_refused_naming_what_to_use(fs, groups):
    a, _ = groups
    fv = fs.create_feature_view("v", a.select(["amount", "label"]), 1, labels=["label"], logging_enabled=True)
    for call in (lambda: fv.log(pd.DataFrame({"amount": [1.0]})), fv.read_log, fv.pause_logging):
        with pytest.raises(errors.NotSupported, match="feature group of your own"):
            call()


def test_view_schema_types_are_named_as_hopsworks_shows_them(fs, groups):
    a, b = groups
    b.insert(pd.DataFrame({"id": [3], "ts": ts("2025-01-01"), "score": [1.0], "kind": ["x"], "ok": [True]}))
    fv = fs.create_feature_view(
        "v", a.select_all().join(b.select(["score", "kind", "ok"])), 1, labels=["label"]
    )
    assert [(f.name, f.type) for f in fv.schema] == [
        ("id", "bigint"),
        ("ts", "timestamp"),
        ("amount", "double"),
        ("label", "bigint"),
        ("score", "double"),
        ("kind", "string"),
        ("ok", "boolean"),
    ]

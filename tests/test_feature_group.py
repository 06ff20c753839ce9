"""Feature groups: inserts, schema rules, upsert semantics, commits and time travel."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from granary_core import errors
from tests.conftest import ts
from tests.remote_stack import location_files, offline_location


def tx_frame(**overrides):
    data = {
        "cc_num": [1, 2, 3],
        "ts": ts("2025-01-01", "2025-01-02", "2025-01-03"),
        "amount": [10.0, 20.0, 30.0],
        "category": ["a", "b", "c"],
    }
    data.update(overrides)
    return pd.DataFrame(data)


@pytest.fixture
def tx(fs):
    return fs.create_feature_group("transactions", version=1, primary_key=["cc_num"], event_time="ts")


def sorted_frame(df: pd.DataFrame, by=("cc_num", "ts")) -> pd.DataFrame:
    return df.sort_values(list(by)).reset_index(drop=True)


def test_insert_pandas_and_read_back(tx):
    tx.insert(tx_frame())
    got = sorted_frame(tx.read())
    assert got["amount"].tolist() == [10.0, 20.0, 30.0]
    assert [f.name for f in tx.features] == ["cc_num", "ts", "amount", "category"]
    assert tx.get_feature("cc_num").primary and tx.get_feature("ts").event_time


@pytest.mark.parametrize("kind", ["polars", "pyarrow"])
def test_insert_accepts_polars_and_pyarrow(tx, kind):
    frame = tx_frame()
    data = pl.from_pandas(frame) if kind == "polars" else pa.Table.from_pandas(frame, preserve_index=False)
    tx.insert(data)
    assert len(tx.read()) == 3
    assert isinstance(tx.read(dataframe_type="polars"), pl.DataFrame)
    assert isinstance(tx.read(dataframe_type="pyarrow"), pa.Table)


def test_polars_and_pandas_inserts_share_one_schema(tx):
    tx.insert(tx_frame())
    tx.insert(pl.from_pandas(tx_frame(cc_num=[4, 5, 6])))
    assert len(tx.read()) == 6


def test_reinserting_same_key_and_event_time_replaces_the_row(tx):
    tx.insert(tx_frame())
    commit = tx.insert(tx_frame(amount=[11.0, 20.0, 30.0]).iloc[:1])
    got = sorted_frame(tx.read())
    assert got["amount"].tolist() == [11.0, 20.0, 30.0]
    assert (commit.rows_updated, commit.rows_inserted) == (1, 0)


def test_same_key_new_event_time_is_a_new_row(tx):
    tx.insert(tx_frame())
    tx.insert(tx_frame(ts=ts("2025-02-01", "2025-02-02", "2025-02-03")))
    assert len(tx.read()) == 6


def test_duplicates_within_one_insert_keep_the_last(tx):
    frame = tx_frame(cc_num=[1, 1, 1], ts=ts("2025-01-01", "2025-01-01", "2025-01-01"))
    tx.insert(frame)
    got = tx.read()
    assert got["amount"].tolist() == [30.0]


def test_later_insert_may_add_a_nullable_column(tx):
    tx.insert(tx_frame())
    tx.insert(tx_frame(cc_num=[7, 8, 9], merchant=["m1", "m2", None]))
    got = sorted_frame(tx.read())
    assert got["merchant"].isna().tolist() == [True, True, True, False, False, True]
    assert got["merchant"].tolist()[3:5] == ["m1", "m2"]
    assert "merchant" in [f.name for f in tx.features]


def test_wrong_type_is_refused_naming_column_and_types(tx):
    tx.insert(tx_frame())
    with pytest.raises(errors.SchemaMismatch, match=r"column 'amount' is string, expected double"):
        tx.insert(tx_frame(amount=["x", "y", "z"]))


def test_missing_column_is_refused(tx):
    tx.insert(tx_frame())
    with pytest.raises(errors.SchemaMismatch, match="column 'category'"):
        tx.insert(tx_frame().drop(columns=["category"]))


@pytest.mark.parametrize("column", ["cc_num", "ts"])
def test_missing_key_columns_are_refused(tx, column):
    with pytest.raises(errors.InvalidInput, match=f"column '{column}' is missing"):
        tx.insert(tx_frame().drop(columns=[column]))


def test_null_keys_are_refused(tx):
    frame = tx_frame(cc_num=pd.array([1, None, 3], dtype="Int64"))
    with pytest.raises(errors.InvalidInput, match="'cc_num' has 1 null"):
        tx.insert(frame)


def test_event_time_must_be_a_time(fs):
    fg = fs.create_feature_group("bad_time", version=1, primary_key=["k"], event_time="t")
    with pytest.raises(errors.SchemaMismatch, match="event time column 't' is string"):
        fg.insert(pd.DataFrame({"k": [1], "t": ["yesterday"]}))


def test_not_a_dataframe_is_refused(tx):
    with pytest.raises(errors.InvalidInput, match="expected a pandas, polars or pyarrow"):
        tx.insert([1, 2, 3])


def test_failed_insert_leaves_data_and_metadata_unchanged(tx):
    tx.insert(tx_frame())
    before_rows = sorted_frame(tx.read())
    before_commits = tx.commit_details()
    before_features = [(f.name, f.type) for f in tx.features]
    with pytest.raises(errors.SchemaMismatch):
        tx.insert(tx_frame(cc_num=[9, 9, 9], amount=["bad", "bad", "bad"], extra=[1, 2, 3]))
    pd.testing.assert_frame_equal(sorted_frame(tx.read()), before_rows)
    assert tx.commit_details() == before_commits
    assert [(f.name, f.type) for f in tx.features] == before_features


def test_versions_and_lookup(fs):
    v1 = fs.create_feature_group("fg", version=1, primary_key=["k"])
    v2 = fs.create_feature_group("fg", primary_key=["k"])
    assert v2.version == 2
    assert fs.get_feature_group("fg").version == 2
    assert fs.get_feature_group("fg", 1).id == v1.id
    assert [g.version for g in fs.get_feature_groups("fg")] == [1, 2]
    assert fs.get_or_create_feature_group("fg", version=1, primary_key=["k"]).id == v1.id
    with pytest.raises(errors.AlreadyExists):
        fs.create_feature_group("fg", version=1, primary_key=["k"])
    with pytest.raises(errors.FeatureGroupNotFound, match="'fg' version 7"):
        fs.get_feature_group("fg", 7)


def test_invalid_group_definitions(fs):
    with pytest.raises(errors.InvalidInput, match="primary_key"):
        fs.create_feature_group("nokey", version=1, primary_key=[])
    with pytest.raises(errors.InvalidInput, match="cannot be a primary key"):
        fs.create_feature_group("k_time", version=1, primary_key=["t"], event_time="t")
    with pytest.raises(errors.InvalidInput, match="name"):
        fs.create_feature_group("bad name!", version=1, primary_key=["k"])


def test_unknown_feature_is_a_clear_error(tx):
    tx.insert(tx_frame())
    with pytest.raises(errors.InvalidInput, match="no feature 'nope'"):
        tx.select(["nope"])
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = tx.nope


def test_time_travel_returns_exactly_what_was_visible(tx):
    # The moments are the commits' own times, as the store recorded them (the server's
    # clock when remote): a client's clock may differ from the server's.
    moments = [
        tx.insert(tx_frame()).committed_at,
        tx.insert(tx_frame(amount=[100.0, 200.0, 300.0])).committed_at,
        tx.remove_rows(tx_frame().iloc[:1]).committed_at,
    ]
    tx.insert(tx_frame(cc_num=[4, 5, 6], merchant=["x", "y", "z"]))

    first = sorted_frame(tx.read(wallclock_time=moments[0]))
    assert first["amount"].tolist() == [10.0, 20.0, 30.0]
    assert "merchant" not in first.columns or first["merchant"].isna().all()
    second = sorted_frame(tx.read(wallclock_time=moments[1]))
    assert second["amount"].tolist() == [100.0, 200.0, 300.0]
    third = sorted_frame(tx.read(wallclock_time=moments[2]))
    assert third["cc_num"].tolist() == [2, 3]
    assert len(tx.read()) == 5
    before_anything = tx.read(wallclock_time=moments[0] - dt.timedelta(days=1))
    assert len(before_anything) == 0
    as_of = sorted_frame(tx.as_of(moments[1]).read())
    assert as_of["amount"].tolist() == [100.0, 200.0, 300.0]


def test_commit_details_counts(tx):
    tx.insert(tx_frame())
    tx.insert(tx_frame(cc_num=[1, 4, 5]))
    tx.remove_rows(tx_frame().iloc[1:2])
    commits = list(tx.commit_details().values())
    assert [c["operation"] for c in commits] == ["delete", "upsert", "upsert"]
    assert commits[0]["rows_deleted"] == 1
    assert (commits[1]["rows_inserted"], commits[1]["rows_updated"]) == (2, 1)
    assert commits[2]["rows_inserted"] == 3
    assert len(tx.commit_details(limit=1)) == 1


def test_read_event_time_range(tx):
    tx.insert(tx_frame())
    got = tx.read(start_time="2025-01-02", end_time="2025-01-03")
    assert got["cc_num"].tolist() == [2]


def test_overwrite_replaces_all_rows_but_history_stays(tx):
    moment = tx.insert(tx_frame()).committed_at
    tx.insert(tx_frame(cc_num=[42], ts=ts("2025-03-01"), amount=[1.0], category=["z"]), overwrite=True)
    assert tx.read()["cc_num"].tolist() == [42]
    assert len(tx.read(wallclock_time=moment)) == 3


def test_delete_removes_group_and_files(fs, tx, project):
    tx.insert(tx_frame())
    location = offline_location(project, "transactions_v1")
    assert location_files(project, location)
    tx.delete()
    assert not location_files(project, location)
    with pytest.raises(errors.FeatureGroupNotFound):
        fs.get_feature_group("transactions", 1)


def test_filters(tx):
    tx.insert(tx_frame())
    assert sorted(tx.filter(tx.amount > 15).read()["cc_num"]) == [2, 3]
    both = tx.filter((tx.amount > 15) & (tx.category == "b")).read()
    assert both["cc_num"].tolist() == [2]
    either = tx.filter((tx.amount < 15) | (tx.category == "c")).read()
    assert sorted(either["cc_num"]) == [1, 3]
    assert sorted(tx.filter(tx.category.isin(["a", "c"])).read()["cc_num"]) == [1, 3]
    assert tx.filter(tx.ts >= dt.datetime(2025, 1, 3, tzinfo=dt.UTC)).read()["cc_num"].tolist() == [3]
    quote_safe = tx.filter(tx.category == "it's").read()
    assert len(quote_safe) == 0


def test_group_without_event_time(fs):
    fg = fs.create_feature_group("static", version=1, primary_key=["k"])
    fg.insert(pd.DataFrame({"k": [1, 2], "v": [1.0, 2.0]}))
    fg.insert(pd.DataFrame({"k": [2], "v": [3.0]}))
    assert sorted_frame(fg.read(), by=["k"])["v"].tolist() == [1.0, 3.0]


def test_data_persists_across_logins(tmp_path):
    import granary

    home = tmp_path / "h"
    fg = (
        granary.login(home=home)
        .get_feature_store()
        .create_feature_group("p", version=1, primary_key=["cc_num"], event_time="ts")
    )
    fg.insert(tx_frame())
    again = granary.login(home=home).get_feature_store().get_feature_group("p", 1)
    assert len(again.read()) == 3

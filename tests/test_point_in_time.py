"""Point-in-time joins: no feature value from the future ever reaches a training row.

Results are checked against ``pandas.merge_asof``, the reference everyone trusts.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from granary_core import errors
from tests.conftest import ts


def by_key(df: pd.DataFrame, *keys: str) -> pd.DataFrame:
    return df.sort_values(list(keys)).reset_index(drop=True)


@pytest.fixture
def groups(fs):
    tx = fs.create_feature_group("tx", version=1, primary_key=["tid"], event_time="ts")
    tx.insert(
        pd.DataFrame(
            {
                "tid": [1, 2, 3, 4],
                "cc": [10, 10, 20, 30],
                "merchant": [100, 200, 100, 100],
                "ts": ts("2025-01-02", "2025-01-05", "2025-01-03", "2025-01-04"),
                "amount": [1.0, 2.0, 3.0, 4.0],
                "is_fraud": [0, 1, 0, 0],
            }
        )
    )
    profile = fs.create_feature_group("profile", version=1, primary_key=["cc"], event_time="ts")
    profile.insert(
        pd.DataFrame(
            {
                "cc": [10, 10, 20],
                # cc 10 changes on 01-05 exactly when tid 2 happens; cc 20 only after tid 3
                "ts": ts("2025-01-01", "2025-01-05", "2025-01-04"),
                "age": [30, 31, 40],
            }
        )
    )
    merchants = fs.create_feature_group("merchants", version=1, primary_key=["merchant"], event_time="ts")
    merchants.insert(
        pd.DataFrame({"merchant": [100, 200], "ts": ts("2025-01-01", "2025-01-06"), "risk": [0.1, 0.9]})
    )
    return tx, profile, merchants


def test_equal_timestamps_are_included_and_no_history_gives_nulls(groups):
    tx, profile, _ = groups
    got = by_key(tx.select_all().join(profile.select(["age"]), on=["cc"]).read(), "tid")
    # tid1: profile from 01-01 (30); tid2 at 01-05 sees the 01-05 update (31);
    # tid3 at 01-03, profile of cc 20 starts 01-04: null; tid4: cc 30 never had one.
    assert got["age"].tolist()[:2] == [30, 31]
    assert got["age"].isna().tolist() == [False, False, True, True]


def test_two_joins_on_different_keys(groups):
    tx, profile, merchants = groups
    q = (
        tx.select_all()
        .join(profile.select(["age"]), on=["cc"])
        .join(merchants.select(["risk"]), on=["merchant"])
    )
    got = by_key(q.read(), "tid")
    # merchant 200's only row (01-06) is after tid 2 (01-05): null
    assert got["risk"].tolist()[0] == 0.1
    assert got["risk"].isna().tolist() == [False, True, False, False]
    assert got["age"].tolist()[:2] == [30, 31]


def test_inner_join_drops_rows_without_a_match(groups):
    tx, profile, _ = groups
    got = tx.select_all().join(profile.select(["age"]), on=["cc"], join_type="inner").read()
    assert sorted(got["tid"]) == [1, 2]


def test_ttl_hides_rows_older_than_the_window(fs, groups):
    tx, _, _ = groups
    short = fs.create_feature_group(
        "profile_ttl", version=1, primary_key=["cc"], event_time="ts", ttl=dt.timedelta(days=2)
    )
    short.insert(pd.DataFrame({"cc": [10, 20], "ts": ts("2025-01-01", "2025-01-01"), "age": [30, 40]}))
    got = by_key(tx.select_all().join(short.select(["age"]), on=["cc"]).read(), "tid")
    # tid1 (01-02) is 1 day after: kept; tid2 (01-05) 4 days: null; tid3 (01-03) exactly 2 days: kept
    assert got["age"].isna().tolist() == [False, True, False, True]
    assert got["age"].tolist()[0] == 30


def test_reinserted_rows_are_used_not_the_old_values(groups):
    tx, profile, _ = groups
    profile.insert(pd.DataFrame({"cc": [10], "ts": ts("2025-01-01"), "age": [99]}))
    got = by_key(tx.select_all().join(profile.select(["age"]), on=["cc"]).read(), "tid")
    assert got["age"].tolist()[0] == 99


def test_time_travel_across_commits_in_a_join(groups):
    tx, profile, _ = groups
    before = next(iter(profile.commit_details(limit=1).values()))["committed_on"]  # the server's time
    profile.insert(pd.DataFrame({"cc": [20], "ts": ts("2025-01-02"), "age": [41]}))
    q = tx.select_all().join(profile.select(["age"]), on=["cc"])
    now = by_key(q.read(), "tid")
    then = by_key(q.as_of(before).read(), "tid")
    assert now["age"].tolist()[2] == 41
    assert pd.isna(then["age"].tolist()[2])


def test_prefix_and_clash(groups, fs):
    tx, _, _ = groups
    clash = fs.create_feature_group("clash", version=1, primary_key=["cc"], event_time="ts")
    clash.insert(pd.DataFrame({"cc": [10], "ts": ts("2025-01-01"), "amount": [5.0]}))
    with pytest.raises(errors.FeatureNameClash, match=r"'amount'.*prefix"):
        tx.select_all().join(clash.select_all(), on=["cc"]).read()
    got = by_key(tx.select_all().join(clash.select_all(), on=["cc"], prefix="c_").read(), "tid")
    assert got["c_amount"].tolist()[0] == 5.0
    with pytest.raises(errors.FeatureNameClash):
        tx.select_all().join(clash.select_all(), on=["cc"]).to_string()


def test_bad_join_keys_are_named(groups):
    tx, profile, _ = groups
    with pytest.raises(errors.InvalidInput, match="has no column 'nope'"):
        tx.select_all().join(profile.select(["age"]), on=["nope"]).read()
    with pytest.raises(errors.InvalidInput, match="join_type"):
        tx.select_all().join(profile.select(["age"]), on=["cc"], join_type="outer")


def test_spine_is_the_left_side(fs, groups):
    _, profile, _ = groups
    fv = fs.create_feature_view(
        "ages", version=1, query=profile.select(["cc", "ts", "age"]), labels=["label"]
    )
    spine = pd.DataFrame(
        {"cc": [10, 10, 20], "ts": ts("2025-01-04", "2025-01-06", "2025-01-01"), "label": [1, 0, 1]}
    )
    x, y = fv.training_data(spine=spine, primary_key=True, event_time=True)
    df = by_key(pd.concat([x, y], axis=1), "cc", "ts")
    assert df["label"].tolist() == [1, 0, 1]
    assert df["age"].isna().tolist() == [False, False, True]
    assert df["age"].tolist()[:2] == [30, 31]


def test_random_data_matches_pandas_merge_asof(fs):
    rng = np.random.default_rng(7)
    n_keys, n_left, n_right = 50, 2000, 600
    base = pd.Timestamp("2025-01-01", tz="UTC")
    left = pd.DataFrame(
        {
            "k": rng.integers(0, n_keys, n_left),
            "ts": base + pd.to_timedelta(rng.integers(0, 10_000, n_left), unit="s"),
            "x": rng.normal(size=n_left),
        }
    ).drop_duplicates(["k", "ts"])
    right = pd.DataFrame(
        {
            "k": rng.integers(0, n_keys, n_right),
            "ts": base + pd.to_timedelta(rng.integers(0, 10_000, n_right), unit="s"),
            "y": rng.normal(size=n_right),
        }
    ).drop_duplicates(["k", "ts"])
    lg = fs.create_feature_group("left", version=1, primary_key=["k"], event_time="ts")
    rg = fs.create_feature_group("right", version=1, primary_key=["k"], event_time="ts")
    lg.insert(left)
    rg.insert(right)
    got = by_key(lg.select_all().join(rg.select(["y"]), on=["k"]).read(), "k", "ts")
    expected = pd.merge_asof(
        left.sort_values("ts"),
        right.sort_values("ts"),
        on="ts",
        by="k",
        direction="backward",
        allow_exact_matches=True,
    )
    expected = by_key(expected, "k", "ts")
    assert len(got) == len(expected) == len(left)
    np.testing.assert_array_equal(got["k"].to_numpy(), expected["k"].to_numpy())
    np.testing.assert_allclose(
        got["y"].to_numpy(dtype=float), expected["y"].to_numpy(dtype=float), equal_nan=True
    )
    assert got["y"].isna().sum() == expected["y"].isna().sum() > 0


def test_left_on_right_on_and_nested_joins(fs, groups):
    tx, _, _ = groups
    cities = fs.create_feature_group("cities", version=1, primary_key=["city_id"], event_time="ts")
    cities.insert(
        pd.DataFrame({"city_id": [30, 40], "ts": ts("2025-01-01", "2025-01-01"), "pop": [1.5, 2.5]})
    )
    homes = fs.create_feature_group("homes", version=1, primary_key=["card"], event_time="ts")
    homes.insert(
        pd.DataFrame({"card": [10, 20], "ts": ts("2025-01-01", "2025-01-01"), "home_city": [30, 40]})
    )
    # homes joins on cc -> card; cities joins onto homes (nested) on home_city -> city_id
    nested = homes.select(["home_city"]).join(
        cities.select(["pop"]), left_on=["home_city"], right_on=["city_id"]
    )
    got = by_key(tx.select_all().join(nested, left_on=["cc"], right_on=["card"]).read(), "tid")
    assert got["home_city"].tolist()[:3] == [30, 30, 40]
    assert got["pop"].tolist()[:3] == [1.5, 1.5, 2.5]
    assert pd.isna(got["pop"].tolist()[3])
    with pytest.raises(errors.InvalidInput, match="left_on has 2 column"):
        tx.select_all().join(homes.select(["home_city"]), left_on=["cc", "tid"], right_on=["card"]).read()


def test_polars_spine_and_ttl_on_the_first_group(fs):
    import polars as pl

    fg = fs.create_feature_group("balances", version=1, primary_key=["acct"], event_time="ts", ttl=3600)
    fg.insert(
        pd.DataFrame({"acct": [1, 2], "ts": ts("2025-01-01T00:00", "2025-01-01T00:00"), "bal": [5.0, 6.0]})
    )
    fv = fs.create_feature_view("bal", version=1, query=fg.select_all(), labels=["y"])
    spine = pl.DataFrame(
        {
            "acct": [1, 2],
            "ts": [pd.Timestamp("2025-01-01T00:30", tz="UTC"), pd.Timestamp("2025-01-01T02:00", tz="UTC")],
            "y": [1, 0],
        }
    )
    x, y = fv.training_data(spine=spine, primary_key=True)
    df = by_key(pd.concat([x, y], axis=1), "acct")
    assert df["bal"].isna().tolist() == [False, True]

"""Inputs that reach the edges of what is stored, through the SDK on both backends.

Each is either accepted as a user would expect (nanosecond timestamps, pandas' default)
or refused with the ``granary_core.errors`` class and a message naming the field, and a
refusal stores nothing.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pyarrow as pa
import pytest

from granary_core import errors
from tests.conftest import ts


def _keys() -> dict[str, pa.Array]:
    return {"k": pa.array([1, 2]), "ts": pa.array([dt.datetime(2025, 1, 1)] * 2, pa.timestamp("us", "UTC"))}


def _group_state(fg) -> tuple:
    fg._refresh()
    schema = [(f.name, f.type) for f in fg.features]
    return schema, fg.read().to_dict("list"), fg.read(online=True).to_dict("list"), len(fg.commit_details())


@pytest.fixture
def fg(fs):
    return fs.create_feature_group("g", version=1, primary_key=["k"], event_time="ts", online_enabled=True)


def test_nanosecond_timestamps_are_stored_floored_to_the_microsecond(fg):
    frame = pd.DataFrame(
        {
            "k": [1, 2],
            "ts": pd.to_datetime(["2025-01-01 00:00:00.123456789", "1969-12-31 23:59:59.999999999"]),
            "seen": pd.to_datetime(["2025-01-01 00:00:00.000000999", "2025-01-02 00:00:00.0"], utc=True),
        }
    )
    assert frame["ts"].dtype == "datetime64[ns]"
    fg.insert(frame)
    got = fg.read().sort_values("k").reset_index(drop=True)
    assert got["ts"].tolist() == list(
        pd.to_datetime(["2025-01-01 00:00:00.123456", "1969-12-31 23:59:59.999999"], utc=True)
    )
    assert got["seen"].tolist() == list(pd.to_datetime(["2025-01-01", "2025-01-02"], utc=True))
    assert [f.type for f in fg.features][1:] == ["timestamp[us, tz=UTC]"] * 2


@pytest.mark.parametrize(
    "ttl",
    [math.nan, math.inf, -math.inf, 1e308, 10**400, 0, -5],
    ids=["nan", "inf", "-inf", "1e308", "1e400", "0", "-5"],
)
def test_a_ttl_that_is_not_a_finite_positive_span_is_refused(fs, ttl):
    with pytest.raises(errors.InvalidInput, match="ttl"):
        fs.create_feature_group("g", version=1, primary_key=["k"], event_time="ts", ttl=ttl)
    assert fs.get_feature_groups() == []


def test_a_ttl_of_years_still_joins(fs):
    fg = fs.create_feature_group(
        "g", version=1, primary_key=["k"], event_time="ts", ttl=dt.timedelta(days=3650)
    )
    fg.insert(pa.table({**_keys(), "v": [1.0, 2.0]}))
    assert len(fg.select_all().join(fg.select(["v"]), prefix="r_").read()) == 2


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            pa.table({**_keys(), "when": pa.array([10**13, 0], pa.timestamp("s"))}),
            "column 'when' has a value outside years 1 to 9999",
        ),
        (
            pa.table({"k": [1, 2], "ts": pa.array([-(10**15), 0], pa.timestamp("ms")), "other": [0, 0]}),
            "column 'ts' has a value outside years 1 to 9999",
        ),
        (
            pa.table({**_keys(), "day": pa.array([3_000_000, 0], pa.date32())}),
            "column 'day' has a value outside years 1 to 9999",
        ),
        (
            pa.table({**_keys(), "big": pa.array([2**63, 1], pa.uint64())}),
            "column 'big' holds 9223372036854775808, above 2\\*\\*63 - 1",
        ),
        (
            pa.Table.from_arrays(
                [*_keys().values(), pa.array([1, 2]), pa.array([3, 4])], ["k", "ts", "v", "v"]
            ),
            "column 'v' appears more than once",
        ),
        (pa.table({**_keys(), "": [1, 2]}), "column 3 of 3 has an empty name"),
    ],
    ids=["timestamp_s", "event_time_ms", "date32", "uint64", "duplicate_name", "empty_name"],
)
def test_values_and_names_no_store_can_hold_are_refused_by_name(fg, table, message):
    fg.insert(pa.table({**_keys(), "other": [0, 0]}))  # a stored schema for the later inserts
    before = _group_state(fg)
    with pytest.raises(errors.InvalidInput, match=message):
        fg.insert(table)
    assert _group_state(fg) == before


@pytest.fixture
def view(fs):
    fg = fs.create_feature_group("tx", version=1, primary_key=["k"], event_time="ts")
    fg.insert(
        pd.DataFrame({"k": range(20), "ts": ts(*["2025-01-01"] * 20), "v": [float(i) for i in range(20)]})
    )
    return fs.create_feature_view("fv", version=1, query=fg.select_all(), labels=["v"])


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"test_size": "0.2"}, "options.test_size"),
        ({"test_size": [0.2]}, "options.test_size"),
        ({"test_size": 1.5}, "options.test_size"),
        ({"test_size": 0.2, "seed": "x"}, "options.seed"),
        ({"test_size": 0.2, "seed": -1}, "options.seed"),
        ({"test_size": 0.2, "seed": 2.5}, "options.seed"),
        ({"train_start": 10**400, "train_end": 0, "test_start": 0, "test_end": 1}, "train_start"),
    ],
)
def test_training_options_of_the_wrong_type_are_refused_by_name(view, arguments, field):
    with pytest.raises(errors.InvalidInput, match=field.replace(".", r"\.")):
        view.train_test_split(**arguments)
    with pytest.raises(errors.InvalidInput, match=field.replace(".", r"\.")):
        view.create_train_test_split(**arguments)
    assert view.get_training_datasets() == []


@pytest.mark.parametrize(
    "value", [10**400, -(10**400), math.inf, math.nan], ids=["1e400", "-1e400", "inf", "nan"]
)
def test_filter_values_no_column_can_hold_are_refused_by_feature(fs, view, value):
    """Refused as the filter is built; the data plane refuses the same JSON (test_bad_input)."""
    fg = fs.get_feature_group("tx", 1)
    with pytest.raises(errors.InvalidInput, match="filter on feature 'v' of 'tx' v1"):
        fg.v > value  # noqa: B015
    with pytest.raises(errors.InvalidInput, match="filter on feature 'v' of 'tx' v1"):
        fg.v.isin([1, value])
    assert len(fg.filter(fg.v > 10**18).read()) == 0

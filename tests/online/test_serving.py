"""Feature vectors on SQLite and Redis: shapes, precedence, missing entries, bad input,
one round trip per request, and an unreachable Redis.

Every test over a project runs on each embedded online store and on a remote data plane
(REST, vectors from the region's Redis); tests that look inside an embedded store name
the backends they run on.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import granary
from granary_core import errors
from tests.online.conftest import closed_port, forget_project, unique_project

SERVING_BACKENDS = ["sqlite", "redis", "remote"]
EMBEDDED = ["sqlite", "redis"]


@pytest.fixture(params=SERVING_BACKENDS)
def oproject(request, tmp_path):
    """The project ``ofs`` and ``online_store`` come from, on each serving backend."""
    if request.param == "remote":
        yield request.getfixturevalue("data_plane").login()
        return
    url = None if request.param == "sqlite" else request.getfixturevalue("redis_url")
    name = unique_project()
    yield granary.login(home=tmp_path / "home", project=name, online_store=url)
    if url is not None:
        forget_project(url, name)


def ts(*days: int) -> pd.Series:
    return pd.to_datetime([f"2025-01-{d:02d}" for d in days], utc=True)


@pytest.fixture
def groups(ofs):
    tx = ofs.create_feature_group(
        "tx", version=1, primary_key=["cc_num"], event_time="ts", online_enabled=True
    )
    profile = ofs.create_feature_group(
        "profile", version=1, primary_key=["cc_num"], event_time="ts", online_enabled=True
    )
    tx.insert(
        pd.DataFrame(
            {
                "cc_num": [1, 2, 1, 3],
                "ts": ts(1, 2, 3, 4),
                "amount": [10.0, 20.0, 30.0, 40.0],
                "category": ["a", "b", "c", "d"],
                "is_fraud": [0, 1, 0, 0],
            }
        )
    )
    profile.insert(pd.DataFrame({"cc_num": [1, 2], "ts": ts(1, 1), "age": [30, 40], "city": ["x", None]}))
    return tx, profile


@pytest.fixture
def fv(ofs, groups):
    tx, profile = groups
    query = tx.select_all(include_primary_key=False, include_event_time=False).join(
        profile.select(["age", "city"]), on=["cc_num"], prefix="p_"
    )
    view = ofs.create_feature_view("fraud", version=1, query=query, labels=["is_fraud"])
    view.init_serving()
    return view


COLUMNS = ["amount", "category", "p_age", "p_city"]


def test_vector_has_the_training_columns_in_order(fv):
    assert fv.get_feature_vector({"cc_num": 1}) == [30.0, "c", 30, "x"]
    x, _ = fv.training_data()
    assert list(x.columns) == COLUMNS
    assert fv.get_feature_vector({"cc_num": 1}, return_type="dict") == dict(
        zip(COLUMNS, [30.0, "c", 30, "x"], strict=True)
    )


def test_serving_keys_and_primary_keys(fv):
    assert fv.primary_keys == ["cc_num"]
    (key,) = fv.serving_keys
    assert (key.feature_name, key.feature_group, key.required, key.type) == ("cc_num", "tx", True, "int64")


@pytest.mark.parametrize("return_type", ["list", "dict", "pandas", "polars", "numpy", "pyarrow"])
def test_return_types(fv, return_type):
    one = fv.get_feature_vector({"cc_num": 2}, return_type=return_type)
    many = fv.get_feature_vectors([{"cc_num": 2}, {"cc_num": 1}], return_type=return_type)
    if return_type == "list":
        assert one == [20.0, "b", 40, None] and many == [one, [30.0, "c", 30, "x"]]
    elif return_type == "dict":
        assert one["p_age"] == 40 and [m["amount"] for m in many] == [20.0, 30.0]
    elif return_type == "pandas":
        assert isinstance(one, pd.DataFrame) and list(one.columns) == COLUMNS and len(one) == 1
        assert many["amount"].tolist() == [20.0, 30.0]
    elif return_type == "polars":
        assert isinstance(many, pl.DataFrame) and many["p_age"].to_list() == [40, 30]
    elif return_type == "numpy":
        assert isinstance(one, np.ndarray) and one.shape == (4,) and many.shape == (2, 4)
    else:
        assert isinstance(many, pa.Table) and many.column_names == COLUMNS


def test_small_and_large_batches_give_identical_vectors(fv):
    """Lists of a few entries are decoded row by row, of many as one matrix, and frames
    through Arrow: three decoders, the same values (a missing row included)."""
    entries = [{"cc_num": k} for k in [1, 2, 3, 99] * 15]
    large = fv.get_feature_vectors(entries, allow_missing=True)
    small = [fv.get_feature_vector(e, allow_missing=True) for e in entries[:4]]
    arrow = fv.get_feature_vectors(entries, allow_missing=True, return_type="pyarrow").to_pylist()
    assert large[:4] == small and small[3] == [None] * 4
    assert large == [list(row.values()) for row in arrow]
    assert [list(map(type, row)) for row in large] == [[type(v) for v in row.values()] for row in arrow]
    assert (
        fv.get_feature_vectors(entries[:3], allow_missing=True, return_type="dict")
        == fv.get_feature_vectors(entries, allow_missing=True, return_type="dict")[:3]
    )


def test_missing_entity_raises_unless_allow_missing(fv):
    with pytest.raises(errors.MissingEntity, match=r"'tx' v1 has no online row for \{'cc_num': 99\}"):
        fv.get_feature_vector({"cc_num": 99})
    with pytest.raises(errors.MissingEntity):
        fv.get_feature_vectors([{"cc_num": 1}, {"cc_num": 99}], return_type="pandas")
    assert fv.get_feature_vector({"cc_num": 99}, allow_missing=True) == [None] * 4
    got = fv.get_feature_vectors([{"cc_num": 1}, {"cc_num": 99}], allow_missing=True)
    assert got == [[30.0, "c", 30, "x"], [None] * 4]


def test_a_left_joined_group_without_a_row_gives_nulls(fv):
    # cc_num 3 has transactions but no profile: as in training data, its profile is null.
    assert fv.get_feature_vector({"cc_num": 3}) == [40.0, "d", None, None]


def test_precedence_request_parameters_then_passed_features_then_stored(fv):
    stored = fv.get_feature_vector({"cc_num": 1}, return_type="dict")
    passed = fv.get_feature_vector(
        {"cc_num": 1}, passed_features={"amount": 1.0, "p_age": 5}, return_type="dict"
    )
    assert (passed["amount"], passed["p_age"], passed["category"]) == (1.0, 5, stored["category"])
    both = fv.get_feature_vector(
        {"cc_num": 1},
        passed_features={"amount": 1.0},
        request_parameters={"amount": 2.0},
        return_type="dict",
    )
    assert both["amount"] == 2.0
    many = fv.get_feature_vectors(
        [{"cc_num": 1}, {"cc_num": 2}], passed_features=[{"amount": 7.0}, {}], return_type="dict"
    )
    assert [m["amount"] for m in many] == [7.0, 20.0]


def test_bad_entries_are_refused_with_the_serving_keys_named(fv):
    with pytest.raises(errors.InvalidInput, match=r"missing serving key\(s\) \['cc_num'\]"):
        fv.get_feature_vector({"card": 1})
    with pytest.raises(errors.InvalidInput, match="not serving keys"):
        fv.get_feature_vector({"cc_num": 1, "amount": 3.0})
    with pytest.raises(errors.InvalidInput, match="serving key 'cc_num' must be an integer, got str"):
        fv.get_feature_vector({"cc_num": "1"})
    with pytest.raises(errors.InvalidInput, match="serving key 'cc_num' must be an integer"):
        fv.get_feature_vectors([{"cc_num": 1}, {"cc_num": 2.5}])
    with pytest.raises(errors.InvalidInput, match="list of entries"):
        fv.get_feature_vectors({"cc_num": 1})
    with pytest.raises(errors.InvalidInput, match="return_type"):
        fv.get_feature_vector({"cc_num": 1}, return_type="xml")


def test_bad_passed_features_and_request_parameters(fv):
    with pytest.raises(errors.InvalidInput, match=r"unknown passed feature\(s\) \['amout'\]"):
        fv.get_feature_vector({"cc_num": 1}, passed_features={"amout": 1.0})
    with pytest.raises(errors.InvalidInput, match="passed feature 'amount': 'lots' is not double"):
        fv.get_feature_vector({"cc_num": 1}, passed_features={"amount": "lots"})
    with pytest.raises(errors.InvalidInput, match="request parameter 'p_age': 'old' is not int64"):
        fv.get_feature_vector({"cc_num": 1}, request_parameters={"p_age": "old"})
    with pytest.raises(errors.InvalidInput, match=r"request parameter\(s\) \['speed'\]"):
        fv.get_feature_vector({"cc_num": 1}, request_parameters={"speed": 3})


def test_numpy_integers_are_valid_keys(fv):
    assert fv.get_feature_vector({"cc_num": np.int64(1)}) == [30.0, "c", 30, "x"]


def test_string_and_composite_keys(ofs):
    fg = ofs.create_feature_group(
        "visits", version=1, primary_key=["shop", "day"], event_time="ts", online_enabled=True
    )
    fg.insert(
        pd.DataFrame({"shop": ["a|b", "a", "a"], "day": ["b", "b|", "x"], "ts": ts(1, 1, 1), "n": [1, 2, 3]})
    )
    view = ofs.create_feature_view(
        "visits", version=1, query=fg.select_all(include_primary_key=False, include_event_time=False)
    )
    assert view.primary_keys == ["shop", "day"]
    assert view.get_feature_vectors([{"shop": "a|b", "day": "b"}, {"shop": "a", "day": "b|"}]) == [[1], [2]]


def test_join_on_a_non_key_column_makes_it_a_serving_key(ofs):
    tx = ofs.create_feature_group(
        "tx2", version=1, primary_key=["tx_id"], event_time="ts", online_enabled=True
    )
    merchants = ofs.create_feature_group(
        "merchants", version=1, primary_key=["merchant_id"], event_time="ts", online_enabled=True
    )
    tx.insert(pd.DataFrame({"tx_id": [1, 2], "ts": ts(2, 2), "merchant_id": [7, 8], "amount": [1.0, 2.0]}))
    merchants.insert(pd.DataFrame({"merchant_id": [7, 8], "ts": ts(1, 1), "risk": [0.1, 0.9]}))
    query = tx.select_all(include_primary_key=False, include_event_time=False).join(
        merchants.select(["risk"]), left_on=["merchant_id"], right_on=["merchant_id"]
    )
    view = ofs.create_feature_view("tx_risk", version=1, query=query)
    assert view.primary_keys == ["tx_id", "merchant_id"]
    assert view.get_feature_vector({"tx_id": 1, "merchant_id": 8}, return_type="dict") == {
        "merchant_id": 7,
        "amount": 1.0,
        "risk": 0.9,
    }
    with pytest.raises(errors.InvalidInput, match="merchant_id"):
        view.get_feature_vector({"tx_id": 1})


def test_views_over_groups_that_are_not_online_cannot_serve(ofs, groups):
    offline = ofs.create_feature_group("offline", version=1, primary_key=["cc_num"], event_time="ts")
    offline.insert(pd.DataFrame({"cc_num": [1], "ts": ts(1), "x": [1.0]}))
    view = ofs.create_feature_view(
        "mixed", version=1, query=groups[0].select_all().join(offline.select(["x"]))
    )
    with pytest.raises(errors.InvalidInput, match="'offline' v1 is not online enabled"):
        view.init_serving()


def test_ttl_on_a_joined_group_gives_nulls_online(ofs):
    tx = ofs.create_feature_group(
        "tx3", version=1, primary_key=["cc_num"], event_time="ts", online_enabled=True
    )
    stale = ofs.create_feature_group(
        "stale", version=1, primary_key=["cc_num"], event_time="ts", online_enabled=True, ttl=60
    )
    now = pd.Timestamp.now(tz="UTC")
    tx.insert(pd.DataFrame({"cc_num": [1], "ts": [now], "amount": [1.0]}))
    stale.insert(pd.DataFrame({"cc_num": [1], "ts": [now - pd.Timedelta(hours=1)], "score": [0.5]}))
    view = ofs.create_feature_view(
        "ttl",
        version=1,
        query=tx.select_all(include_primary_key=False, include_event_time=False).join(
            stale.select(["score"])
        ),
    )
    assert view.get_feature_vector({"cc_num": 1}) == [1.0, None]


# one round trip ----------------------------------------------------------------------------


class _Counting:
    """Counts what a real client sends: SQL statements, or Redis command writes."""

    def __init__(self, store):
        self.count = 0
        if hasattr(store, "client"):
            connection_class = store.client.connection_pool.connection_class
            counter = self

            class CountingConnection(connection_class):
                def send_packed_command(self, command, check_health=True):
                    counter.count += 1
                    return super().send_packed_command(command, check_health)

            store.client.connection_pool.connection_class = CountingConnection
            store.client.connection_pool.reset()  # new connections are of the counting class
        else:
            store._db.set_trace_callback(self._sql)

    def _sql(self, statement: str) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            self.count += 1


@pytest.mark.parametrize("oproject", EMBEDDED, indirect=True)
@pytest.mark.parametrize("batch", [1, 50, 500])
def test_a_request_is_one_round_trip_whatever_the_batch(fv, online_store, batch):
    entries = [{"cc_num": [1, 2][i % 2]} for i in range(batch)]
    counting = _Counting(online_store)
    fv.get_feature_vectors(entries)  # connect first: a new connection's handshake is not the request
    counting.count = 0
    fv.get_feature_vectors(entries)
    fv.get_feature_vectors(entries, return_type="pandas")
    assert counting.count == 2


# an unreachable Redis --------------------------------------------------------------------------


def test_unreachable_redis_is_backend_unavailable_and_nothing_is_half_written(tmp_path):
    url = f"redis://127.0.0.1:{closed_port()}/0?socket_connect_timeout=0.5"
    project = granary.login(home=tmp_path / "home", project=unique_project(), online_store=url)
    fs = project.get_feature_store()
    fg = fs.create_feature_group(
        "tx", version=1, primary_key=["cc_num"], event_time="ts", online_enabled=True
    )
    with pytest.raises(
        errors.BackendUnavailable, match=r"online store redis://127\.0\.0\.1:\d+/0: write failed"
    ):
        fg.insert(pd.DataFrame({"cc_num": [1], "ts": ts(1), "amount": [1.0]}))
    assert fg.commit_details() == {}
    assert fs.get_feature_group("tx", 1).features == []
    offline = fs.create_feature_group("plain", version=1, primary_key=["cc_num"], event_time="ts")
    offline.insert(pd.DataFrame({"cc_num": [1], "ts": ts(1), "amount": [1.0]}))  # offline work goes on
    view = fs.create_feature_view("v", version=1, query=offline.select_all())
    assert len(view.get_batch_data()) == 1


def test_unreachable_redis_on_read_after_good_writes(tmp_path, redis_url):
    home = tmp_path / "home"
    name = unique_project()
    fs = granary.login(home=home, project=name, online_store=redis_url).get_feature_store()
    fg = fs.create_feature_group(
        "tx", version=1, primary_key=["cc_num"], event_time="ts", online_enabled=True
    )
    fg.insert(pd.DataFrame({"cc_num": [1], "ts": ts(1), "amount": [1.0]}))
    fs.create_feature_view("v", version=1, query=fg.select_all())
    url = f"redis://127.0.0.1:{closed_port()}/0?socket_connect_timeout=0.5"
    down = granary.login(home=home, project=name, online_store=url).get_feature_store()
    view = down.get_feature_view("v", 1)
    with pytest.raises(errors.BackendUnavailable, match="read failed"):
        view.get_feature_vector({"cc_num": 1})
    before = fg.read()
    with pytest.raises(errors.BackendUnavailable):
        down.get_feature_group("tx", 1).insert(pd.DataFrame({"cc_num": [2], "ts": ts(2), "amount": [2.0]}))
    pd.testing.assert_frame_equal(fg.read(), before)  # the offline table was restored
    forget_project(redis_url, name)


def test_online_store_url_is_checked():
    from data_plane.online import open_online_store

    with pytest.raises(errors.InvalidInput, match="unknown option 'timeout'"):
        granary.login(home="/tmp/unused-granary", online_store="redis://127.0.0.1:1/0?timeout=3")
    with pytest.raises(errors.InvalidInput, match="expected redis://"):
        open_online_store("redis", {"url": "http://127.0.0.1:6379/0"}, "p")
    with pytest.raises(errors.InvalidInput, match="known types: redis, sqlite"):
        granary.login(home="/tmp/unused-granary", online_store="memcached://x")


def test_sqlite_errors_are_backend_unavailable(tmp_path):
    from data_plane.online.sqlite import SQLiteOnlineStore

    store = SQLiteOnlineStore(tmp_path / "online.db", "p")
    store._db.close()
    with pytest.raises(errors.BackendUnavailable):
        store._multi_get(["p:x:1:1"])
    assert isinstance(sqlite3.sqlite_version, str)

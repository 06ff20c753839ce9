"""The online store seam, on SQLite and on a real Redis: the same rules for both.

Newest row per key by event time whatever the insert order (and with concurrent
writers), whole rows only, ttl, removals, drops, overwrites, schema growth.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time

import pandas as pd
import pyarrow as pa
import pytest

from data_plane.online import connect
from data_plane.online.kv import now_ms
from granary_core import errors
from granary_core.specs import FeatureGroupInfo, FeatureInfo
from tests.online.conftest import closed_port, unique_project

UTC = dt.UTC


def frame(ids, days, amounts, **extra):
    data = {
        "cc_num": ids,
        "ts": pd.to_datetime([f"2025-01-{d:02d}" for d in days], utc=True),
        "amount": [float(a) for a in amounts],
        "category": [f"c{int(a)}" for a in amounts],
    }
    data.update(extra)
    return pd.DataFrame(data)


def online(fg) -> dict[int, dict]:
    rows = fg.read(online=True).to_dict(orient="records")
    return {r["cc_num"]: r for r in rows}


@pytest.fixture
def tx(ofs):
    return ofs.create_feature_group(
        "transactions", version=1, primary_key=["cc_num"], event_time="ts", online_enabled=True
    )


def test_newest_event_wins_whatever_the_insert_order(tx):
    tx.insert(frame([1, 2], [5, 5], [50, 20]))
    tx.insert(frame([1, 2], [3, 9], [30, 90]))  # 1 is older: ignored; 2 is newer: replaces
    tx.insert(frame([1, 1, 1], [4, 6, 2], [40, 60, 20]))  # newest of the batch, not the last row
    got = online(tx)
    assert got[1]["amount"] == 60.0 and got[1]["category"] == "c60"
    assert got[2]["amount"] == 90.0
    assert got[1]["ts"] == pd.Timestamp("2025-01-06", tz="UTC")


def test_equal_event_time_replaces_like_the_offline_upsert(tx):
    tx.insert(frame([1], [5], [50]))
    tx.insert(frame([1], [5], [51]))
    assert online(tx)[1]["amount"] == 51.0
    assert tx.read()["amount"].tolist() == [51.0]


def test_group_without_event_time_keeps_the_last_write(ofs):
    fg = ofs.create_feature_group("profiles", version=1, primary_key=["cc_num"], online_enabled=True)
    fg.insert(pd.DataFrame({"cc_num": [1, 2], "city": ["a", "b"]}))
    fg.insert(pd.DataFrame({"cc_num": [1], "city": ["z"]}))
    got = {r["cc_num"]: r["city"] for r in fg.read(online=True).to_dict(orient="records")}
    assert got == {1: "z", 2: "b"}


def test_groups_not_online_enabled_have_no_online_rows(ofs):
    fg = ofs.create_feature_group("offline_only", version=1, primary_key=["cc_num"], event_time="ts")
    fg.insert(frame([1], [1], [10]))
    assert len(fg.read(online=True)) == 0


def test_remove_rows_deletes_the_online_row_of_that_event(tx):
    tx.insert(frame([1, 2], [5, 5], [50, 20]))
    tx.remove_rows(frame([1], [4], [0])[["cc_num", "ts"]])  # not the stored event: kept
    assert set(online(tx)) == {1, 2}
    tx.remove_rows(frame([1], [5], [0])[["cc_num", "ts"]])
    assert set(online(tx)) == {2}


def test_delete_drops_the_groups_online_rows_only(ofs, tx):
    other = ofs.create_feature_group(
        "other", version=1, primary_key=["cc_num"], event_time="ts", online_enabled=True
    )
    tx.insert(frame([1, 2], [5, 5], [50, 20]))
    other.insert(frame([1], [5], [7]))
    tx.delete()
    again = ofs.create_feature_group(
        "transactions", version=1, primary_key=["cc_num"], event_time="ts", online_enabled=True
    )
    assert len(again.read(online=True)) == 0
    assert online(other)[1]["amount"] == 7.0


def test_overwrite_replaces_every_online_row(tx):
    tx.insert(frame([1, 2], [5, 5], [50, 20]))
    tx.insert(frame([3], [1], [30]), overwrite=True)
    assert set(online(tx)) == {3}


def test_schema_growth_reads_old_rows_with_nulls(tx):
    tx.insert(frame([1], [5], [50]))
    tx.insert(frame([2], [5], [20], score=[0.5]))
    got = online(tx)
    assert pd.isna(got[1]["score"]) and got[2]["score"] == 0.5


def store_clock_ms(store) -> int:
    """Now, in ms, by the clock that expires the store's rows: Redis's own, or this process's."""
    if hasattr(store, "client"):  # Redis expires keys (PXAT) by its clock
        seconds, microseconds = store.client.time()
        return seconds * 1000 + microseconds // 1000
    return now_ms()


def test_ttl_hides_rows_older_than_ttl(ofs, online_store):
    """Rows older than the ttl are hidden; a row is hidden once the store's clock passes its ttl.

    Every moment is the store's clock, never a fixed sleep: a visible row is asserted only
    for a read that ended before the row's expiry by that clock (else the read is tried
    again with a row that expires later), and the expiry is waited for on that clock.
    """
    ttl_ms = 3600 * 1000
    fg = ofs.create_feature_group(
        "fresh", version=1, primary_key=["cc_num"], event_time="ts", online_enabled=True, ttl=3600
    )
    now = pd.Timestamp(store_clock_ms(online_store), unit="ms", tz="UTC")
    old_and_fresh = {"cc_num": [1, 2], "ts": [now - pd.Timedelta(hours=2), now - pd.Timedelta(minutes=10)]}
    fg.insert(pd.DataFrame({**old_and_fresh, "amount": [1.0, 2.0]}))
    for attempt, margin_ms in enumerate([2_000, 8_000, 32_000]):
        key = 3 + attempt
        expires_ms = store_clock_ms(online_store) + margin_ms
        event = pd.Timestamp(expires_ms - ttl_ms, unit="ms", tz="UTC")
        fg.insert(pd.DataFrame({"cc_num": [key], "ts": [event], "amount": [3.0]}))
        seen = set(online(fg))
        if store_clock_ms(online_store) < expires_ms:
            break
    print(f"attempts={attempt + 1} margin_ms={margin_ms}")
    assert seen == {2, key}
    while store_clock_ms(online_store) <= expires_ms:
        time.sleep(0.05)
    assert set(online(fg)) == {2}
    assert len(fg.read()) == 2 + attempt + 1  # the offline store keeps everything


def _info(project_name: str, ttl: float | None = None) -> FeatureGroupInfo:
    features = [
        FeatureInfo("cc_num", "int64", primary=True),
        FeatureInfo("ts", "timestamp[us, tz=UTC]", event_time=True),
        FeatureInfo("a", "double"),
        FeatureInfo("b", "double"),
    ]
    return FeatureGroupInfo(
        1, "raw", 1, "", ["cc_num"], "ts", [], True, ttl, features, [], "", dt.datetime.now(UTC)
    )


def _rows(keys: list[int], day: int, value: float) -> pa.Table:
    moment = dt.datetime(2025, 1, 1, tzinfo=UTC) + dt.timedelta(days=day)
    n = len(keys)
    return pa.table(
        {
            "cc_num": pa.array(keys, pa.int64()),
            "ts": pa.array([moment] * n, pa.timestamp("us", tz="UTC")),
            "a": [value] * n,
            "b": [value] * n,
        }
    )


def test_concurrent_writers_keep_the_newest_event(tmp_path, store_url):
    """Two writers (own connections) race over the same keys in opposite orders."""
    project = unique_project()
    info = _info(project)
    keys = list(range(200))
    writers = [connect(store_url, tmp_path, project), connect(store_url, tmp_path, project)]

    def write(store, days):
        for day in days:
            store.write(info, _rows(keys, day, float(day)))

    threads = [
        threading.Thread(target=write, args=(writers[0], range(0, 20))),
        threading.Thread(target=write, args=(writers[1], range(19, -1, -1))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    table = writers[0].read_all(info)
    assert table.num_rows == len(keys)
    assert set(table["a"].to_pylist()) == {19.0}
    writers[0].drop(info)


def test_a_row_becomes_visible_whole(tmp_path, store_url):
    """A reader racing a writer never sees features of two different inserts in one row."""
    project = unique_project()
    info = _info(project)
    keys = list(range(300))
    store = connect(store_url, tmp_path, project)
    store.write(info, _rows(keys, 0, 0.0))
    done = threading.Event()
    torn: list[tuple] = []

    def read():
        reader = store.reader(info, ["a", "b"])
        while not done.is_set():
            (rows,) = store.get_rows([(reader, reader.keys([keys], ["cc_num"]))])
            for a, b in zip(*[c.to_pylist() for c in rows.arrays()], strict=True):
                if a != b:
                    torn.append((a, b))

    thread = threading.Thread(target=read)
    thread.start()
    for day in range(1, 30):
        store.write(info, _rows(keys, day, float(day)))
    done.set()
    thread.join()
    assert not torn
    store.drop(info)


def test_projects_sharing_a_store_do_not_see_each_other(tmp_path, store_url):
    a, b = unique_project(), unique_project()
    store_a, store_b = connect(store_url, tmp_path, a), connect(store_url, tmp_path, b)
    store_a.write(_info(a), _rows([1, 2], 1, 1.0))
    assert store_b.read_all(_info(b)).num_rows == 0
    store_b.drop(_info(b))
    assert store_a.read_all(_info(a)).num_rows == 2
    store_a.drop(_info(a))


def test_ping_answers_and_an_unreachable_server_is_backend_unavailable(tmp_path, store_url):
    connect(store_url, tmp_path, unique_project()).ping()
    if store_url is None:
        down = connect(None, tmp_path, unique_project())
        down.close()
    else:
        down = connect(f"redis://127.0.0.1:{closed_port()}/0?socket_connect_timeout=0.5", tmp_path, "p")
    with pytest.raises(errors.BackendUnavailable):
        down.ping()


def test_count_stored_keys_and_drop_project_see_one_project_only(tmp_path, store_url):
    """What usage (``count``), residue (``stored_keys``) and project deletion
    (``drop_project``) ask; a ``for_project`` view shares its parent's connections."""
    a, b = unique_project(), unique_project()
    store_a = connect(store_url, tmp_path, a)
    store_b = store_a.for_project(b)
    other = dataclasses.replace(_info(a), id=2, name="other")
    store_a.write(_info(a), _rows([1, 2, 3], 1, 1.0))
    store_a.write(other, _rows([1, 2], 1, 1.0))
    store_b.write(_info(b), _rows([7], 1, 1.0))
    assert (store_a.count(), store_b.count()) == (5, 1)
    assert len(store_a.stored_keys(4)) == 4 and all(k.startswith(f"{a}:") for k in store_a.stored_keys(10))
    store_a.drop_project()
    assert (store_a.count(), store_a.stored_keys(10), store_b.count()) == (0, [], 1)
    store_b.close()  # a view leaves the shared connections open
    store_a.ping()
    store_b.drop_project()
    store_a.close()


def test_date_event_times_timestamp_keys_and_polars_inserts(ofs):
    import polars as pl

    fg = ofs.create_feature_group(
        "daily", version=1, primary_key=["day_start"], event_time="day", online_enabled=True
    )
    fg.insert(
        pl.DataFrame(
            {
                "day_start": [dt.datetime(2025, 1, 1, tzinfo=UTC), dt.datetime(2025, 1, 1, tzinfo=UTC)],
                "day": [dt.date(2025, 1, 2), dt.date(2025, 1, 1)],
                "visits": [2, 1],
            }
        )
    )
    rows = fg.read(online=True, dataframe_type="polars")
    assert rows["visits"].to_list() == [2]
    view = ofs.create_feature_view(
        "daily", version=1, query=fg.select_all(include_primary_key=False, include_event_time=False)
    )
    assert view.get_feature_vector({"day_start": dt.datetime(2025, 1, 1, tzinfo=UTC)}) == [2]
    assert view.get_feature_vector({"day_start": "2025-01-01T00:00:00Z"}) == [2]

"""An online store restarted without persistence comes back empty while the topics'
checkpoints say every row was written: the online loop notices its mark is gone and
writes every row again from the topics (real Redis, Kafka and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pandas as pd
import pytest
import redis

import granary
from granary.errors import MissingEntity
from tests.remote_stack import start_data_plane


def _until(what: str, check, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while not (value := check()):
        assert time.monotonic() < deadline, f"{what} within {seconds:.0f} s"
        time.sleep(0.2)
    return value


def test_an_online_store_that_lost_its_rows_is_written_again_from_the_topics(region_env):
    plane = start_data_plane(region_env, namespace=f"mark{uuid.uuid4().hex[:6]}")
    try:
        project, key = plane.new_key()
        fs = granary.login(host=plane.api_url, api_key=key).get_feature_store()
        fg = fs.create_feature_group("m", version=1, primary_key=["k"], event_time="ts", online_enabled=True)
        fg.insert(
            pd.DataFrame(
                {
                    "k": range(5),
                    "ts": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)] * 5,
                    "v": [float(i) for i in range(5)],
                }
            ),
            wait=True,
        )
        view = fs.create_feature_view("mv", version=1, query=fg.select_all())
        view.init_serving()
        wanted = [{"k": k} for k in range(5)]
        assert [v[-1] for v in view.get_feature_vectors(wanted)] == [0.0, 1.0, 2.0, 3.0, 4.0]
        store, mark = plane.region.online, f"online-loop:{plane.settings.namespace}"
        _until("the online loop's mark in the store", lambda: store.holds(mark))

        # what a restart without persistence leaves: neither the rows nor the mark
        plane.region.online_store(project).drop_project()
        redis.Redis.from_url(store.config.url).delete(f"#mark:{mark}")

        def served() -> list | None:
            try:
                return view.get_feature_vectors(wanted)
            except MissingEntity:  # not all written again yet
                return None

        with pytest.raises(MissingEntity):  # the store is empty now
            view.get_feature_vectors(wanted)

        vectors = _until("every row written again from the topic", served)
        assert [v[-1] for v in vectors] == [0.0, 1.0, 2.0, 3.0, 4.0]
        assert store.holds(mark)
    finally:
        plane.stop()

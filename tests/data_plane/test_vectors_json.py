"""JSON feature vectors: a few entries are encoded from Python rows, many through polars;
both must give the same JSON, value for value and timestamp text for timestamp text."""

from __future__ import annotations

import datetime as dt
import math

import httpx
import pandas as pd
import pytest

import granary

USERS = 20


@pytest.fixture
def vectors(data_plane):
    project, key = data_plane.new_key()
    fs = granary.login(host=data_plane.api_url, api_key=key).get_feature_store()
    fg = fs.create_feature_group("typed", version=1, primary_key=["k"], event_time="ts", online_enabled=True)
    base = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    micros = [0, 4000, 123456, 1]
    fg.insert(
        pd.DataFrame(
            {
                "k": range(USERS),
                "ts": [base + dt.timedelta(seconds=i, microseconds=micros[i % 4]) for i in range(USERS)],
                "f": [math.nan if i == 3 else i / 3 for i in range(USERS)],
                "big": [2**60 + i for i in range(USERS)],
                "s": [None if i == 5 else f'é{i}"' for i in range(USERS)],
                "b": [i % 2 == 0 for i in range(USERS)],
            }
        )
    )
    fs.create_feature_view("typed", version=1, query=fg.select_all())
    http = httpx.Client(base_url=data_plane.api_url, headers={"authorization": f"Bearer {key}"})
    path = f"/api/v1/projects/{project}/feature-views/typed/versions/1/vectors"

    def post(keys: list[int]) -> list[dict]:
        response = http.post(path, json={"entries": [{"k": k} for k in keys]})
        assert response.status_code == 200, response.text
        return response.json()["vectors"]

    yield post
    http.close()


def test_few_and_many_entries_give_the_same_json(vectors):
    many = vectors(list(range(USERS)))  # over 16 entries: Arrow and polars
    few = [vectors([k])[0] for k in range(USERS)]  # one entry: Python rows and orjson
    assert few == many
    assert many[1]["ts"] == "2025-01-01T00:00:01.004+00:00"
    assert many[2]["ts"] == "2025-01-01T00:00:02.123456+00:00"
    assert many[3]["f"] is None and many[5]["s"] is None and many[0]["big"] == 2**60

"""Small pieces of the service that need no region: keys, wire formats, query checks."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from data_plane.query.validate import check_query_spec
from granary_core import errors
from granary_core.wire import ipc_to_table, parse_time, table_to_ipc, to_jsonable
from tenancy.keys import generate_key, hash_key, key_id_of, matches


def test_keys_are_random_parseable_and_stored_hashed():
    key_id, key = generate_key()
    assert key_id_of(key) == key_id
    assert matches(key, hash_key(key)) and not matches(key + "x", hash_key(key))
    assert generate_key()[1] != key
    for bad in ("", "gk_", "gk_short_x", "xx_0123456789ab_secret", "gk_0123456789ab_"):
        assert key_id_of(bad) is None


def test_arrow_bodies_carry_parameters_and_refuse_garbage():
    table = pa.table({"k": [1, 2]})
    back, params = ipc_to_table(table_to_ipc(table, {"when": dt.datetime(2025, 1, 1, tzinfo=dt.UTC)}))
    assert back.equals(table) and params == {"when": "2025-01-01T00:00:00+00:00"}
    with pytest.raises(errors.InvalidInput, match="not a valid Arrow IPC stream"):
        ipc_to_table(b"\xff" * 20)
    with pytest.raises(errors.InvalidInput, match="empty"):
        ipc_to_table(b"")


def test_jsonable_handles_numpy_and_times():
    assert to_jsonable({"a": np.int64(3), "b": [np.float64(1.5)]}) == {"a": 3, "b": [1.5]}
    assert parse_time("2025-01-01T00:00:00Z", "t") == dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(errors.InvalidInput, match="cannot parse"):
        parse_time("soon", "t")


def test_every_error_code_round_trips():
    for cls in (errors.PayloadTooLarge, errors.Unauthenticated, errors.PermissionDenied, errors.Timeout):
        again = errors.error_from_dict(cls("m").to_dict())
        assert type(again) is cls and again.message == "m"
    assert errors.PayloadTooLarge.status == 413 and errors.Unauthenticated.status == 401


def test_query_descriptions_are_checked_deeply():
    good = {"fg": {"name": "g", "version": 1}, "features": None, "joins": []}
    check_query_spec(good)
    nested = {**good, "joins": [{"query": {**good, "filter": {"and": []}}}]}
    with pytest.raises(errors.InvalidInput, match=r"joins\[0\].query.filter.and"):
        check_query_spec(nested)

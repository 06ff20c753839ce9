"""The Spark dialect's literals, which carry user filter values into Spark SQL: each
says exactly the value, or is refused (checked without Spark; tests/spark runs them)."""

from __future__ import annotations

import datetime as dt

import pytest

from data_plane.query.spark_sql import literal, quote
from granary_core.errors import InvalidInput


def test_strings_cannot_break_out_of_their_literal():
    assert literal("o'hare") == "'o\\'hare'"
    assert literal("a\\' OR TRUE --") == "'a\\\\\\' OR TRUE --'"
    assert quote("we`ird") == "`we``ird`"


def test_numbers_times_and_lists_say_their_value():
    assert literal(7) == "7" and literal(2**40) == f"{2**40}L" and literal(True) == "TRUE"
    assert literal(0.25) == "CAST('0.25' AS DOUBLE)"
    moment = dt.datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert literal(moment) == "TIMESTAMP '2025-01-02 01:04:05.000006+00:00'"
    assert literal(dt.date(2025, 1, 2)) == "DATE '2025-01-02'"
    assert literal([1, "x", None]) == "(1, 'x', NULL)"


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 2**63, object()])
def test_what_cannot_be_said_exactly_is_refused(value):
    with pytest.raises(InvalidInput):
        literal(value)

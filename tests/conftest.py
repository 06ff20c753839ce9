"""Shared fixtures: every test gets its own embedded project in a temporary folder."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import granary


@pytest.fixture
def project(tmp_path):
    return granary.login(home=tmp_path / "home")


@pytest.fixture
def fs(project):
    return project.get_feature_store()


def ts(*values: str) -> pd.Series:
    return pd.to_datetime(list(values), utc=True)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)

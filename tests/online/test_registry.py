"""Stores are chosen by type name through one registry, and only their adapters speak
their servers' protocols."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import granary
from data_plane.online import ONLINE_STORES
from data_plane.settings import DataPlaneSettings
from granary_core import errors

REPO = Path(__file__).resolve().parents[2]


def test_an_unknown_online_store_type_is_refused_naming_the_known_ones(tmp_path):
    attempts = ["memcached", "memcached://127.0.0.1:11211", "Redis"]
    refused = 0
    for spec in attempts:
        with pytest.raises(errors.InvalidInput) as caught:
            granary.login(home=tmp_path / "home", online_store=spec)
        assert f"online store type {spec.split('://')[0]!r} is unknown" in str(caught.value)
        assert "known types: redis, sqlite" in str(caught.value)
        refused += 1
    print(f"attempts={len(attempts)} refused={refused}")
    assert not (tmp_path / "home" / "online.db").exists()  # nothing was opened


def test_an_online_store_is_chosen_by_type_name_with_its_own_config(tmp_path):
    path = tmp_path / "elsewhere.db"
    settings = DataPlaneSettings(
        pg_url="postgresql://x",
        kafka_bootstrap="x:1",
        s3_endpoint="http://x",
        s3_access_key="k",
        s3_secret_key="s",
        online_store="sqlite",
        online_store_config={"path": str(path)},
    )
    assert settings.online_store_spec() == ("sqlite", {"path": str(path)})
    project = granary.login(home=tmp_path / "home", online_store=f"sqlite:///{path}")
    assert project.backend.engine.online.path == path
    with pytest.raises(errors.InvalidInput, match="unknown option 'paht'"):
        from data_plane.online import open_online_store

        open_online_store("sqlite", {"paht": str(path)}, "p")


def _imports_redis(path: Path) -> bool:
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "redis" for a in node.names):
            return True
        if (
            isinstance(node, ast.ImportFrom)
            and (node.module or "").split(".")[0] == "redis"
            and not node.level
        ):
            return True
    return False


def test_only_the_online_store_adapters_import_redis_in_the_data_plane_and_sdk():
    """The control plane's and tenancy's own Redis (rate buckets, access events) is not the
    online store: those packages are not checked here."""
    checked = [p for package in ("data_plane", "granary") for p in (REPO / package).rglob("*.py")]
    speaking = sorted(str(p.relative_to(REPO)) for p in checked if _imports_redis(p))
    outside = [p for p in speaking if not p.startswith("data_plane/online/")]
    print(f"modules={len(checked)} import_redis={speaking}")
    assert speaking, "the Redis adapter itself imports redis: the check must see it"
    assert not outside, f"modules outside data_plane/online/ speak Redis: {outside}"
    assert ONLINE_STORES.names() == ["redis", "sqlite"]

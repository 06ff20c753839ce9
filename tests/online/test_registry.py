"""Online stores are chosen by type name through one registry. (That only the Redis
adapter speaks Redis is an import contract in pyproject.toml, run by tests/test_layers.py.)"""

from __future__ import annotations

import pytest

import granary
from data_plane.online import ONLINE_STORES
from data_plane.settings import DataPlaneSettings
from granary_core import errors


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


def test_the_registry_lists_its_adapters():
    assert ONLINE_STORES.names() == ["redis", "sqlite"]

"""The Redis store packs its MGET itself: the bytes must be what redis-py would send."""

from __future__ import annotations

import hiredis
import pytest

from data_plane.online.redis import pack_mget


@pytest.mark.parametrize(
    "keys",
    [
        ["p:g:1:1"],
        [f"p:user_activity:1:{i}" for i in range(1000)],
        ["p:g:1:é", "p:g:1:x"],  # lengths count bytes, not characters
        ["p:g:1:" + "k" * 600, "p:g:1:2"],  # past the precomputed length marks
        ["p:g:1:" + "k" * 505, "p:g:1:a\\|b"],
    ],
)
def test_pack_mget_matches_redis_py(keys):
    assert pack_mget(keys) == hiredis.pack_command(("MGET", *keys))

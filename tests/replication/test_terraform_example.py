"""The Terraform example on two real regions: ``terraform/examples/enterprise`` applied
with the world's two regions (each with its own PostgreSQL, Kafka, Redis, S3 and data
plane, replicating to each other) places one project in each, each the other's standby;
rows written in each project reach its standby; ``tofu destroy`` leaves nothing of the
tenant in either region (no topic copy, object or online row)."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import httpx
import pandas as pd
import pytest

import granary
from chaos import leaks
from chaos.drill import replicated
from chaos.world import World
from tests.control_plane import tofu


def _rows(n: int) -> pd.DataFrame:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return pd.DataFrame({"cc_num": range(n), "ts": [now] * n, "amount": [float(i) for i in range(n)]}).astype(
        {"cc_num": "int64"}
    )


@pytest.fixture(scope="module")
def linked(world):
    """The test world's two regions replicating to each other, as the drills have them."""
    running = World.running(world.cp, [world.home, world.standby])
    with replicated(running):
        yield running


def test_the_enterprise_example_on_two_regions_places_standbys_and_destroy_cleans_both(linked, tmp_path):
    world = linked
    binaries = tofu.build()
    config = tofu.cli_config(binaries, tmp_path / "tofu")
    (tmp_path / "ws").mkdir()
    env = {"GRANARY_HOST": world.control_plane, "GRANARY_ADMIN_TOKEN": world.secrets()["ADMIN_TOKEN"]}
    workspace = tofu.Workspace(binaries, config, tmp_path / "ws", env)
    workspace.write((tofu.REPO / "terraform" / "examples" / "enterprise" / "main.tf").read_text())
    workspace.init()
    home, other = list(world.planes)
    tenant = f"tf{uuid.uuid4().hex[:8]}"
    variables = ["-var", f"regions={json.dumps([home, other])}", "-var", f"tenant={tenant}"]
    workspace.run("apply", "-auto-approve", "-input=false", *variables)
    plan = workspace.run("plan", "-input=false", "-detailed-exitcode", *variables, check=False)
    assert plan.returncode == 0, plan.stdout  # 0: no change

    key = workspace.state("granary_tenant.this")["admin_key"]
    owner = {"authorization": f"Bearer {key}"}
    projects = {p["name"]: p for p in httpx.get(f"{world.control_plane}/v1/projects", headers=owner).json()}
    assert {n: (p["region"], p["standbys"]) for n, p in projects.items()} == {
        "fraud": (home, [other]),
        "fraud-eval": (other, [home]),
    }
    group_ids, copied = {}, {}
    for name in projects:  # through the SDK, in the project's home region
        fs = granary.login(host=world.control_plane, api_key=key, project=name).get_feature_store()
        group = fs.get_feature_group("transactions", 1)
        group.insert(_rows(20), wait=True)
        group_ids[name] = group.id
    # each project's rows reach its standby: objects under its prefixes there (bounded)
    deadline = time.monotonic() + 180
    for name, project in projects.items():
        standby = project["standbys"][0]
        while (n := leaks.count_objects(world, standby, project["s3_prefixes"])) == 0:
            assert time.monotonic() < deadline, f"{name}'s rows never reached {standby}"
            time.sleep(1)
        copied[name] = n

    workspace.run("destroy", "-auto-approve", "-input=false", *variables)
    left = []
    for name, project in projects.items():
        left += leaks.topics_left(world, group_ids[name])
        left += leaks.objects_left(world, project["s3_prefixes"])
        left += leaks.online_left(world, project["redis_key_prefix"])
    assert left == [], left
    print(f"objects in the standbys before destroy: {copied}")

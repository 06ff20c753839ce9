"""A region takes a project's writes only while it homes it, and only under the routing
epoch it homes it under: checked from the outside (the SDK, REST and the admin API) on
the test region's real PostgreSQL and Kafka."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import httpx
import pandas as pd
import pytest

from granary.errors import FeatureGroupNotFound, Fenced, Moved
from tests.data_plane.conftest import REGION_TOKEN


@pytest.fixture
def admin(plane):
    with httpx.Client(
        base_url=f"{plane.api_url}/admin/v1", headers={"authorization": f"Bearer {REGION_TOKEN}"}
    ) as client:
        yield client


def _open(plane, project: str, epoch: int | None = None):
    """The project through the SDK, its routing holding ``epoch``."""
    from granary.project import Project
    from granary.remote import RemoteBackend

    _, key = plane.new_key(project)
    return Project(RemoteBackend(plane.api_url, key, project, epoch=epoch)).get_feature_store()


def _frame(keys: list[int], value: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "k": keys,
            "ts": pd.to_datetime([dt.datetime(2025, 1, 1)] * len(keys), utc=True),
            "v": [value] * len(keys),
        }
    )


def _new_project(plane, admin) -> str:
    project = f"t_{uuid.uuid4().hex[:10]}"
    assert admin.put(f"/projects/{project}").status_code == 200
    return project


def test_a_provisioned_project_is_written_here_under_epoch_zero(plane, admin):
    project = _new_project(plane, admin)
    body = admin.get(f"/projects/{project}/home").json()
    assert (body["home"], body["epoch"], body["region_id"]) == (True, 0, plane.settings.region_id)
    assert admin.get("/projects/t_never_made/home").status_code == 404


def test_a_region_that_does_not_home_a_project_refuses_its_writes_and_serves_reads(plane, admin):
    project = _new_project(plane, admin)
    fs = _open(plane, project)
    fg = fs.get_or_create_feature_group(name="moved", version=1, primary_key=["k"], event_time="ts")
    fg.insert(_frame([1, 2]), wait=True)
    before = fg.commit_details()

    gone = admin.delete(f"/projects/{project}/home").json()
    assert (gone["home"], gone["epoch"]) == (False, 0)
    refusals = []
    for attempt in (
        lambda: fg.insert(_frame([3]), wait=True),
        lambda: fg.remove_rows(_frame([1])),
        lambda: fs.create_feature_group(name="other", version=1, primary_key=["k"], event_time="ts"),
        lambda: fs.create_feature_view(name="view", version=1, query=fg.select_all()),
    ):
        with pytest.raises(Moved, match=f"not written in region '{plane.settings.region_id}'") as refused:
            attempt()
        refusals.append(refused.value)
    print(f"writes refused with moved: {len(refusals)}")
    assert fg.commit_details() == before
    assert sorted(fg.read()["k"]) == [1, 2]  # reads go on
    with pytest.raises(FeatureGroupNotFound):
        fs.get_feature_group("other", 1)


def test_writes_under_another_epoch_are_fenced_and_commits_record_the_epoch(plane, admin):
    project = _new_project(plane, admin)
    assert admin.put(f"/projects/{project}/home", json={"epoch": 3}).json()["epoch"] == 3
    current = _open(plane, project, epoch=3)
    fg = current.get_or_create_feature_group(name="fenced", version=1, primary_key=["k"], event_time="ts")
    fg.insert(_frame([1, 2]), wait=True)

    stale = _open(plane, project, epoch=2).get_feature_group("fenced", 1)
    ahead = _open(plane, project, epoch=4).get_feature_group("fenced", 1)
    for group, asked in ((stale, 2), (ahead, 4)):
        with pytest.raises(Fenced, match=f"carries routing epoch {asked}.* under epoch 3"):
            group.insert(_frame([9], 9.0), wait=True)
    assert sorted(stale.read()["k"]) == [1, 2]  # a stale routing still reads

    fg.remove_rows(_frame([1]))
    commits = fg.commit_details()
    assert [c["epoch"] for c in commits.values()] == [3, 3]
    assert sorted(fg.read()["k"]) == [2]


def test_an_older_epoch_never_replaces_a_newer_one(plane, admin):
    project = _new_project(plane, admin)
    assert admin.put(f"/projects/{project}/home", json={"epoch": 5}).status_code == 200
    late = admin.put(f"/projects/{project}/home", json={"epoch": 4})
    assert (late.status_code, late.json()["code"]) == (409, "fenced")
    assert admin.put(f"/projects/{project}/home", json={"epoch": 5}).status_code == 200  # idempotent
    assert admin.get(f"/projects/{project}/home").json()["epoch"] == 5


def test_a_fence_stops_an_older_home_and_leaves_a_newer_one_alone(plane, admin):
    """What the control plane sends a region back from the dark after a failover took
    its project: writes under the old epoch stop (acknowledged ones stay); a fence that
    comes after the project moved back here under a newer epoch changes nothing."""
    project = _new_project(plane, admin)
    fg = _open(plane, project, epoch=0).get_or_create_feature_group(
        name="fence", version=1, primary_key=["k"], event_time="ts"
    )
    fg.insert(_frame([1, 2]), wait=True)

    fenced = admin.post(f"/projects/{project}/fence", json={"epoch": 1})
    assert fenced.status_code == 200, fenced.text
    assert fenced.json()["fenced_epoch"] == 0
    assert admin.get(f"/projects/{project}/home").json()["home"] is False
    with pytest.raises(Moved):
        fg.insert(_frame([3]), wait=True)
    assert sorted(fg.read()["k"]) == [1, 2]
    assert admin.post(f"/projects/{project}/fence", json={"epoch": 1}).json()["fenced_epoch"] is None

    assert admin.put(f"/projects/{project}/home", json={"epoch": 2}).status_code == 200  # moved back
    late = admin.post(f"/projects/{project}/fence", json={"epoch": 2})
    assert late.json()["fenced_epoch"] is None
    assert admin.get(f"/projects/{project}/home").json()["epoch"] == 2
    for bad in ({"epoch": 0}, {}, {"epoch": "x"}):
        assert admin.post(f"/projects/{project}/fence", json=bad).status_code in (400, 422)
    assert admin.post("/projects/t_never_made/fence", json={"epoch": 1}).status_code == 404


def test_an_epoch_header_that_is_not_a_number_is_refused(plane, admin):
    project = _new_project(plane, admin)
    _, key = plane.new_key(project)
    response = httpx.post(
        f"{plane.api_url}/api/v1/projects/{project}/feature-groups",
        headers={"authorization": f"Bearer {key}", "x-granary-epoch": "-1"},
        json={"name": "x", "version": 1, "primary_key": ["k"], "features": []},
    )
    assert response.status_code == 400
    assert "x-granary-epoch" in response.json()["message"]


def test_unhoming_drains_writes_none_acknowledged_is_lost(plane, admin):
    """Writers race the unhome: every insert either was acknowledged (and its rows are
    there) or refused with Moved; nothing in between."""
    project = _new_project(plane, admin)
    fg = _open(plane, project).get_or_create_feature_group(
        name="drain", version=1, primary_key=["k"], event_time="ts"
    )
    acknowledged: list[int] = []
    refused: list[int] = []
    under_way = threading.Event()  # set once writes are being acknowledged

    def write(first: int) -> None:
        group = _open(plane, project).get_feature_group("drain", 1)
        for key in range(first, first + 40):
            try:
                group.insert(_frame([key]), wait=False)
            except Moved:
                refused.append(key)
            else:
                acknowledged.append(key)
                if len(acknowledged) >= 15:
                    under_way.set()

    writers = [threading.Thread(target=write, args=(n * 1000,)) for n in range(3)]
    for writer in writers:
        writer.start()
    assert under_way.wait(timeout=300)
    handoff = admin.delete(f"/projects/{project}/home")
    assert handoff.status_code == 200, handoff.text
    for writer in writers:
        writer.join()
    print(f"acknowledged={len(acknowledged)} refused={len(refused)}")
    assert len(acknowledged) + len(refused) == 120
    # what the next home would wait for: every acknowledged record is in the topic
    assert handoff.json()["topics"] == {plane.region.layout.group_topic(fg.id): len(acknowledged)}
    assert handoff.json()["beat"] >= 1
    assert admin.put(f"/projects/{project}/home", json={"epoch": 1}).status_code == 200
    fg.insert(_frame([99_999]), wait=True)  # behind every acknowledged record in the topic
    assert sorted(fg.read()["k"]) == sorted([*acknowledged, 99_999])


def test_catching_up_needs_a_link_to_the_source(plane, admin):
    wanted = {"source": "nowhere", "beat": 1, "topics": {}, "timeout_s": 1}
    refused = admin.post("/catch-up", json=wanted)
    assert refused.status_code == 404 and "does not subscribe to the catalog of 'nowhere'" in refused.text
    at_once = admin.post("/catch-up", json={**wanted, "if_linked": True})
    assert at_once.status_code == 200 and at_once.json()["beat"] >= 1

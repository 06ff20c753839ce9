"""A project's standbys: the regions besides its home that hold copies of it. They are
checked against the plan, changed in place, followed by moves (a move goes to one of
them; the old home becomes one), and cleaned with the home on deletion. The regions here
record what they are asked; the run with real regions is the drills' (every drill's
project has a standby, and its leak check looks in both regions after the deletion)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from control_plane.api.app import create_app
from control_plane.settings import RegionSettings
from granary_core.errors import BackendUnavailable
from tests.control_plane.conftest import (
    ADMIN,
    REGION_ADMIN_TOKEN,
    bearer,
    make_tenant,
    recording_regions,
    settle,
)


@pytest.fixture
def client(cp_settings, clock):
    """The control plane with three regions: local, eu-1 and us-1."""
    regions = {
        **cp_settings.regions,
        "us-1": RegionSettings(url="http://127.0.0.1:8602", token=REGION_ADMIN_TOKEN),
    }
    settings = cp_settings.model_copy(update={"regions": regions})
    with TestClient(create_app(settings, clock=clock, regions=recording_regions(settings))) as c:
        yield c


def _owner(client, **plan) -> dict:
    plan.setdefault("allowed_regions", ["local", "eu-1", "us-1"])
    return bearer(make_tenant(client, "acme", **plan)["admin_key"]["api_key"])


def _regions(client):
    return client.app.state.services.regions


def test_standbys_are_stored_shown_and_changed_in_place(client):
    owner = _owner(client)
    r = client.post("/v1/projects", json={"name": "fraud", "standbys": ["eu-1"]}, headers=owner)
    assert r.status_code == 201 and r.json()["standbys"] == ["eu-1"]
    r = client.patch("/v1/projects/fraud", json={"standbys": ["us-1", "eu-1"]}, headers=owner)
    assert r.status_code == 200 and r.json()["standbys"] == ["us-1", "eu-1"]
    assert client.get("/v1/projects/fraud", headers=owner).json()["standbys"] == ["us-1", "eu-1"]
    assert client.post("/v1/projects", json={"name": "churn"}, headers=owner).json()["standbys"] == []
    audit = client.get("/v1/admin/audit", headers=ADMIN).json()
    assert [e["detail"] for e in audit if e["action"] == "project.place"] == [{"standbys": ["us-1", "eu-1"]}]


@pytest.mark.parametrize(
    ("standbys", "message"),
    [
        (["local"], "standby 'local' is its home region"),
        (["ap-9"], "standby 'ap-9' is not among tenant 'acme''s allowed regions"),
        (["eu-1", "eu-1"], "name a region twice"),
    ],
)
def test_a_standby_that_cannot_be_is_refused_by_name_and_nothing_changes(client, standbys, message):
    owner = _owner(client)
    r = client.post("/v1/projects", json={"name": "fraud", "standbys": standbys}, headers=owner)
    assert r.status_code == 400 and message in r.json()["message"]
    assert client.get("/v1/projects/fraud", headers=owner).status_code == 404
    client.post("/v1/projects", json={"name": "fraud", "standbys": ["us-1"]}, headers=owner)
    r = client.patch("/v1/projects/fraud", json={"standbys": standbys}, headers=owner)
    assert r.status_code == 400 and message in r.json()["message"]
    assert client.get("/v1/projects/fraud", headers=owner).json()["standbys"] == ["us-1"]


def test_only_who_may_delete_a_project_may_place_it(client):
    owner = _owner(client)
    client.post("/v1/projects", json={"name": "fraud"}, headers=owner)
    reader = client.post("/v1/keys", json={"name": "ro", "scopes": ["project:read"]}, headers=owner)
    assert reader.status_code == 201, reader.text
    r = client.patch(
        "/v1/projects/fraud", json={"standbys": ["eu-1"]}, headers=bearer(reader.json()["api_key"])
    )
    assert r.status_code == 403
    other = bearer(make_tenant(client, "globex", allowed_regions=["local", "eu-1"])["admin_key"]["api_key"])
    assert client.patch("/v1/projects/fraud", json={"standbys": ["eu-1"]}, headers=other).status_code == 404
    assert client.get("/v1/projects/fraud", headers=owner).json()["standbys"] == []


def test_a_move_goes_to_a_standby_only_and_leaves_the_old_home_one(client):
    owner = _owner(client)
    for name, standbys in (("churn", ["us-1"]), ("fraud", ["eu-1", "us-1"])):
        client.post("/v1/projects", json={"name": name, "standbys": standbys}, headers=owner)
    settle(client)
    local = _regions(client).get("local")
    for name in ("churn", "fraud"):
        local.home(client.get(f"/v1/projects/{name}", headers=owner).json()["metadata_scope"], 0)

    move = {"from_region": "local", "to_region": "eu-1"}
    r = client.post("/v1/admin/tenants/acme/switchover", json=move, headers=ADMIN)
    assert r.status_code == 400 and "project 'churn' has no copy in 'eu-1'" in r.json()["message"]
    assert {client.get(f"/v1/projects/{n}", headers=owner).json()["region"] for n in ("churn", "fraud")} == {
        "local"
    }

    r = client.post("/v1/admin/tenants/acme/switchover", json={**move, "to_region": "us-1"}, headers=ADMIN)
    assert r.status_code == 200, r.text
    fraud = client.get("/v1/projects/fraud", headers=owner).json()
    churn = client.get("/v1/projects/churn", headers=owner).json()
    assert (fraud["region"], fraud["standbys"]) == ("us-1", ["local", "eu-1"])
    assert (churn["region"], churn["standbys"]) == ("us-1", ["local"])


def test_deleting_a_project_cleans_its_home_first_then_every_standby(client, monkeypatch):
    monkeypatch.setattr("control_plane.outbox.MIRROR_SETTLE_SECONDS", 0.0)
    owner = _owner(client)
    client.post("/v1/projects", json={"name": "fraud", "standbys": ["eu-1", "us-1"]}, headers=owner)
    settle(client)
    asked: list[tuple[str, tuple[str, ...], bool]] = []
    for name in ("local", "eu-1", "us-1"):
        region = _regions(client).get(name)

        def delete(project, group_ids=(), copy=False, region=region):
            asked.append((region.name, tuple(group_ids), copy))
            return ["g1", "g2"] if region.name == "local" else list(group_ids)

        region.delete_project = delete

    assert client.delete("/v1/projects/fraud", headers=owner).status_code == 202
    settle(client)
    assert client.get("/v1/projects/fraud", headers=owner).status_code == 404
    # the home names the groups; each standby is given them (and asked again after the
    # mirrors settle), as a copy
    assert asked == [
        ("local", (), False),
        ("eu-1", ("g1", "g2"), True),
        ("us-1", ("g1", "g2"), True),
        ("local", ("g1", "g2"), False),
        ("eu-1", ("g1", "g2"), True),
        ("us-1", ("g1", "g2"), True),
    ]


def test_a_dark_standby_keeps_the_project_deleting_until_it_is_cleaned(client, clock, monkeypatch):
    monkeypatch.setattr("control_plane.outbox.MIRROR_SETTLE_SECONDS", 0.0)
    owner = _owner(client)
    client.post("/v1/projects", json={"name": "fraud", "standbys": ["eu-1"]}, headers=owner)
    settle(client)
    eu = _regions(client).get("eu-1")
    kept = eu.delete_project

    def dark(*args, **kwargs):
        raise BackendUnavailable("region 'eu-1': its admin API is unreachable")

    eu.delete_project = dark
    client.delete("/v1/projects/fraud", headers=owner)
    settle(client)
    project = client.get("/v1/projects/fraud", headers=owner).json()
    assert project["status"] == "deleting" and "eu-1" in project["last_error"]
    eu.delete_project = kept  # back: the retry finishes the deletion
    clock.advance(3600)
    settle(client)
    assert client.get("/v1/projects/fraud", headers=owner).status_code == 404
    assert eu.projects[project["metadata_scope"]] == "deleted copy"

"""A region says which it is: checked from the outside (REST)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.remote_stack import start_data_plane

REGION_TOKEN = "region-identity-token-0123456789"


@pytest.fixture(scope="module")
def plane(region_env):
    """A data plane of the test region, named as ``ops/region up`` names it."""
    started = start_data_plane(region_env, region=region_env["GRANARY_REGION"], region_token=REGION_TOKEN)
    yield started
    started.stop()


def test_health_names_the_region(plane, region_env):
    body = httpx.get(f"{plane.api_url}/health").json()
    assert body["region_id"] == region_env["GRANARY_REGION"]


def test_region_id_setting_wins_over_the_region_name(monkeypatch):
    from data_plane.settings import DataPlaneSettings

    required = dict(pg_url="x", kafka_bootstrap="x", s3_endpoint="x", s3_access_key="x", s3_secret_key="x")
    monkeypatch.setenv("GRANARY_REGION", "w9")
    assert DataPlaneSettings(**required).region_id == "w9"
    monkeypatch.setenv("GRANARY_REGION_ID", "eu-central-2")
    assert DataPlaneSettings(**required).region_id == "eu-central-2"
    monkeypatch.delenv("GRANARY_REGION")
    monkeypatch.delenv("GRANARY_REGION_ID")
    assert DataPlaneSettings(**required).region_id == "local"


def test_every_admin_answer_names_the_region(plane, region_env):
    region = region_env["GRANARY_REGION"]
    project = f"t_{uuid.uuid4().hex[:10]}"
    admin = httpx.Client(
        base_url=f"{plane.api_url}/admin/v1", headers={"authorization": f"Bearer {REGION_TOKEN}"}
    )
    with admin:
        answers = [
            admin.put(f"/projects/{project}"),
            admin.get(f"/projects/{project}/usage"),
            admin.get(f"/projects/{project}/residue"),
            admin.delete(f"/projects/{project}"),
        ]
    print(f"attempts={len(answers)} statuses={[a.status_code for a in answers]}")
    assert [a.status_code for a in answers] == [200, 200, 200, 204]
    assert [a.headers.get("granary-region-id") for a in answers] == [region] * 4
    assert [a.json()["region_id"] for a in answers[:3]] == [region] * 3

"""Projects are provisioned into a real region and deleted from all four of its services,
through the region's admin API.

The region (``ops/region up cpr``: PostgreSQL, Kafka, Redis, S3) runs a real data plane
in a namespace of its own; each project is filled by the data plane itself (feature
groups, their topics, offline and online rows, an operator key, a training dataset
file), then deleted over the control plane's API: nothing of it may remain, while
another tenant's project is untouched.
"""

from __future__ import annotations

import time

import httpx
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from control_plane.api.app import create_app
from control_plane.regions import AdminApiRegion
from control_plane.settings import RegionSettings
from granary_core.errors import BackendUnavailable
from tests.control_plane.conftest import ADMIN, REGION_ADMIN_TOKEN, bearer, make_tenant, settle, with_region
from tests.remote_stack import start_data_plane
from tests.transports import DropFirstConnections


def fill_with_the_data_plane(plane, project_id: str) -> None:
    """Two online groups with rows offline and online, their topics, an operator key and
    a training dataset file, written by the data plane's own code."""
    engine = plane.region.engine(project_id)
    rows = pa.table({"k": list(range(50)), "v": [float(i) for i in range(50)]})
    for name in ("transactions", "profiles"):
        info = engine.create_feature_group(name, 1, primary_key=["k"], online_enabled=True)
        plane.region.ingest.topics.ensure(info.id)
        engine.insert(name, 1, rows)
    plane.region.keys.create_key(project_id, "operator key")
    training = plane.region.training_root(project_id).removeprefix("s3://")
    with plane.filesystem.open_output_stream(f"{training}/fraud_1/train.parquet") as out:
        out.write(b"data")


def region_client(plane) -> AdminApiRegion:
    return AdminApiRegion("local", RegionSettings(url=plane.api_url, token=REGION_ADMIN_TOKEN))


def wait_empty(region: AdminApiRegion, project: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        residue = region.residue(project)
        if residue.empty() or time.monotonic() > deadline:
            return residue
        time.sleep(0.5)


def test_deleting_a_project_leaves_nothing_in_the_region(cp_settings, admin_plane):
    with TestClient(create_app(with_region(cp_settings, admin_plane))) as client:
        acme = bearer(make_tenant(client, "acme")["admin_key"]["api_key"])
        globex = bearer(make_tenant(client, "globex")["admin_key"]["api_key"])
        fraud = client.post("/v1/projects", json={"name": "fraud"}, headers=acme).json()
        other = client.post("/v1/projects", json={"name": "fraud"}, headers=globex).json()
        settle(client)
        fill_with_the_data_plane(admin_plane, fraud["metadata_scope"])
        fill_with_the_data_plane(admin_plane, other["metadata_scope"])

        region = region_client(admin_plane)
        before = region.residue(fraud["metadata_scope"])
        assert len(before.postgres) == 4 and len(before.kafka) == 2, before  # 2 groups, a key, the row
        assert len(before.redis) == 100 and len(before.s3) >= 5, before  # redis residue is capped

        started = time.monotonic()
        deleted = client.delete("/v1/projects/fraud", headers=acme)
        assert deleted.status_code == 202, deleted.text
        settle(client)
        print(f"\nproject delete across PostgreSQL, Kafka, Redis, S3: {time.monotonic() - started:.2f}s")
        assert client.get("/v1/projects/fraud", headers=acme).status_code == 404
        residue = region.residue(fraud["metadata_scope"])  # verified before the row went
        assert residue.empty(), residue
        untouched = region.residue(other["metadata_scope"])
        assert len(untouched.postgres) == 4
        assert len(untouched.kafka) == 2 and len(untouched.redis) == 100 and len(untouched.s3) >= 5
        assert len(admin_plane.region.engine(other["metadata_scope"]).read("transactions", 1)) == 50

        # deleting the whole tenant cleans its projects too
        assert client.delete("/v1/admin/tenants/globex", headers=ADMIN).status_code == 204
        assert wait_empty(region, other["metadata_scope"]).empty()
        region.close()


def test_the_usage_of_a_project_is_read_from_its_region_on_request(cp_settings, admin_plane):
    with TestClient(create_app(with_region(cp_settings, admin_plane))) as client:
        acme = bearer(make_tenant(client, "acme")["admin_key"]["api_key"])
        fraud = client.post("/v1/projects", json={"name": "fraud"}, headers=acme).json()
        settle(client)
        fill_with_the_data_plane(admin_plane, fraud["metadata_scope"])
        reported = client.get("/v1/projects/fraud/usage", headers=acme).json()["gauges"]
        assert reported["online_rows"] == 0  # this region has no usage reporter
        fresh = client.get("/v1/projects/fraud/usage?fresh=true", headers=acme).json()["gauges"]
        assert fresh["feature_groups"] == 2 and fresh["online_rows"] == 100, fresh
        assert fresh["offline_bytes"] > 0
        assert client.get("/v1/projects/fraud/usage", headers=acme).json()["gauges"] == fresh  # stored


def test_a_deleted_project_takes_no_writes_and_is_not_provisioned_again(cp_settings, admin_plane):
    region = region_client(admin_plane)
    project, key = admin_plane.new_key()
    assert region.provision_project(project) == region.provision_project(project)  # idempotent
    region.delete_project(project)
    region.delete_project(project)  # idempotent too
    with httpx.Client(base_url=admin_plane.api_url, headers=bearer(key)) as dp:
        body = {"name": "late", "version": 1, "primary_key": ["k"]}
        r = dp.post(f"/api/v1/projects/{project}/feature-groups", json=body)
    assert r.status_code in (401, 404), r.text  # its key is gone, and so is the project
    with pytest.raises(BackendUnavailable, match="answered 409"):
        region.provision_project(project)
    assert region.residue(project).empty()
    region.close()


def test_the_admin_api_takes_the_region_token_and_during_rotation_the_previous_one(cpr_env):
    """Only the current and the previous region token pass; tenant and operator keys,
    other tokens and no token are refused, and a data plane without a token refuses all."""
    new, old = "region-new-" + "n" * 24, REGION_ADMIN_TOKEN
    plane = start_data_plane(cpr_env, materializer=False, region_token=new, previous_region_token=old)
    closed = start_data_plane(cpr_env, materializer=False)
    _, operator_key = plane.new_key()
    refused = 0
    try:
        with httpx.Client(base_url=plane.api_url) as http:
            for token in (new, old):
                r = http.put("/admin/v1/projects/p_rotation", headers=bearer(token))
                assert r.status_code == 200, r.text
            wrong = [bearer(t) for t in (operator_key, new[:-1] + "x", old + "x", "region")]
            for headers in [*wrong, {"Authorization": f"Basic {new}"}]:
                r = http.put("/admin/v1/projects/p_rotation", headers=headers)
                refused += 1
                assert r.status_code == 401 and r.json()["code"] == "unauthenticated", r.text
            assert http.get("/admin/v1/projects/p_rotation/residue").status_code == 401
            refused += 1
        with httpx.Client(base_url=closed.api_url) as http:
            r = http.get("/admin/v1/projects/p_rotation/residue", headers=bearer(new))
            refused += 1
            assert r.status_code == 401 and "GRANARY_REGION_TOKEN" in r.json()["message"]
    finally:
        plane.stop()
        closed.stop()
    print(f"\nadmin API calls with wrong or missing region tokens: {refused}, all refused")


def test_admin_calls_survive_dropped_connections_and_report_a_dead_region(admin_plane):
    """Connection failures are tried again (every admin call is idempotent); a region
    that stays unreachable is a 503 naming it."""
    settings = RegionSettings(url=admin_plane.api_url, token=REGION_ADMIN_TOKEN)
    flaky = DropFirstConnections(failures=2)
    region = AdminApiRegion("local", settings, transport=flaky)
    layout = region.provision_project("p_flaky")
    region.close()
    print(f"\nprovisioning through dropped connections: attempts={flaky.requests} dropped={flaky.failures}")
    assert layout.online_key_prefix == f"{admin_plane.settings.namespace}.p_flaky:"
    dead = DropFirstConnections(failures=10)
    region = AdminApiRegion("local", settings, transport=dead)
    with pytest.raises(BackendUnavailable, match="region 'local': its admin API is unreachable"):
        region.delete_project("p_flaky")
    region.close()
    print(f"unreachable region: attempts={dead.requests}, then 503")
    assert dead.requests == 3

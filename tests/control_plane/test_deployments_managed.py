"""Deployments of the managed service: the plan's ``model_deployments`` quota where a
deployment starts, ``deployment:predict`` on the caller's key, and tenants apart.

Everything goes over HTTP with keys the control plane issued, as a notebook would.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import granary
from granary_core import errors
from tests.control_plane.test_managed import managed_service
from tests.test_deployments import _save_model

PREDICTOR = Path(__file__).parent.parent / "predictors" / "echo_predictor.py"
FRAUD = Path(__file__).parent.parent / "predictors" / "fraud_predictor.py"


@pytest.fixture(scope="module")
def managed(region_env, cp_postgres, cp_template, cp_redis, smtp_sink):
    with managed_service(region_env, cp_postgres, cp_template, cp_redis, smtp_sink) as service:
        yield service


def _model(project, tmp_path: Path, offset: float = 10.0):
    (tmp_path / "offset.txt").write_text(str(offset))
    return project.get_model_registry().python.create_model("echo").save(tmp_path / "offset.txt")


def _project(managed, name: str, **quotas):
    tenant = managed.tenant(name, **quotas)
    managed.project(tenant["admin"])
    key = managed.key(tenant["admin"], "fraud")
    return tenant, granary.login(host=managed.plane.api_url, api_key=key)


def _reported_deployments(managed, admin: dict, running: int) -> int:
    """The project's ``model_deployments`` gauge once its region reported ``running``
    (the data plane here reports every 0.3 s); the last value seen after 30 s."""
    deadline = time.monotonic() + 30
    while True:
        usage = managed.http.get("/v1/projects/fraud/usage", headers=admin)
        assert usage.status_code == 200, usage.text
        gauge = usage.json()["gauges"]["model_deployments"]
        if gauge == running or time.monotonic() > deadline:
            return gauge
        time.sleep(0.1)


def test_the_quota_counts_running_deployments_of_the_tenant(managed, tmp_path):
    tenant, project = _project(managed, "deploy", model_deployments=1)
    model = _model(project, tmp_path)
    first = model.deploy(name="first", script_file=PREDICTOR).start()
    # the control plane's usage shows it beside the other gauges
    assert _reported_deployments(managed, tenant["admin"], 1) == 1
    second = model.deploy(name="second", script_file=PREDICTOR)
    attempts = 0
    with pytest.raises(errors.QuotaExceeded) as refused:
        second.start()
    attempts += 1
    assert refused.value.quota == "model_deployments" and refused.value.limit == 1
    assert "quota 'model_deployments' exceeded: limit 1, current use 1" in str(refused.value)
    assert second.get_state().desired_state == "STOPPED"  # nothing changed on refusal
    assert first.predict(inputs=[1, 2])["predictions"] == [11.0, 12.0]

    first.stop()
    second.start()
    assert second.predict(inputs=[5])["predictions"] == [15.0]
    second.stop()
    assert _reported_deployments(managed, tenant["admin"], 0) == 0
    print(f"attempts={attempts} refused={attempts}")


def test_a_start_that_fails_holds_no_quota_slot(managed, tmp_path):
    """A deployment whose model's files were never uploaded fails to start: it is marked
    stopped again, so the tenant's one slot is free for a deployment that works."""
    tenant, project = _project(managed, "failing", model_deployments=1)
    broken = {"path": "offset.txt", "size": 2, "sha256": "0" * 64}
    scope = project.name
    with managed.dp(managed.key(tenant["admin"], "fraud")) as http:
        created = http.post(
            f"/api/v1/projects/{scope}/models",
            json={"name": "unuploaded", "framework": "python", "artifacts": [broken]},
        )
        assert created.status_code == 201, created.text
        script = PREDICTOR.read_text()
        body = {"name": "broken", "model_name": "unuploaded", "model_version": 1, "script": script}
        assert http.post(f"/api/v1/projects/{scope}/deployments", json=body).status_code == 201
        started = http.post(f"/api/v1/projects/{scope}/deployments/broken/start")
        assert started.status_code == 404, started.text
        assert "'offset.txt' was never uploaded" in started.json()["message"]
        state = http.get(f"/api/v1/projects/{scope}/deployments/broken").json()
        assert state["desired_state"] == "STOPPED" and state["state"] == "STOPPED"
    # the failed start left the slot free: a slot it kept would make this a 403
    working = _model(project, tmp_path).deploy(name="working", script_file=PREDICTOR).start()
    assert working.predict(inputs=[1])["predictions"] == [11.0]
    working.stop()


def test_a_plan_without_deployments_says_so(managed, tmp_path):
    _, project = _project(managed, "sandboxed")  # the free plan's quotas: model_deployments 0
    deployment = _model(project, tmp_path).deploy(name="echo", script_file=PREDICTOR)
    with pytest.raises(errors.QuotaExceeded, match="your plan allows no model deployments"):
        deployment.start()
    assert deployment.get_state().state == "STOPPED"


def test_predict_needs_the_permission_and_the_tenants_own_key(managed, tmp_path):
    tenant, project = _project(managed, "predict", model_deployments=1)
    deployment = _model(project, tmp_path).deploy(name="echo", script_file=PREDICTOR).start()
    scope = project.name
    url = f"/api/v1/projects/{scope}/deployments/echo/predict"

    serving_key = managed.key(tenant["admin"], "fraud", scopes=["deployment:predict"])
    read_key = managed.key(tenant["admin"], "fraud", scopes=["project:read"])
    other_tenant, _ = _project(managed, "intruder", model_deployments=1)
    other_key = managed.key(other_tenant["admin"], "fraud")

    with managed.dp(serving_key) as http:
        answer = http.post(url, json={"instances": [1]})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"predictions": [11.0]}
        # predicting is not managing: the serving key cannot stop it
        assert http.post(f"/api/v1/projects/{scope}/deployments/echo/stop").status_code == 403
    refused = 0
    for key in (read_key, other_key):
        with managed.dp(key) as http:
            response = http.post(url, json={"instances": [1]})
            assert response.status_code == 403, response.text
            assert response.json()["code"] == "permission_denied"
            refused += 1
    print(f"attempts=2 refused={refused}")
    deployment.stop()


def _metered_reads(managed, admin: dict) -> float:
    usage = managed.http.get("/v1/projects/fraud/usage", headers=admin)
    assert usage.status_code == 200, usage.text
    return usage.json()["metered"].get("online_reads_per_second", 0.0)


def test_a_predictor_reads_features_as_its_tenant(managed, tmp_path):
    """The predictor reads feature vectors through the data plane with a key of its
    tenant, not one of the region: its reads are metered to the tenant's project, the
    key reads only and dies with the deployment, and another tenant's key reaches
    neither the deployment nor the features it reads."""
    tenant, project = _project(managed, "reader", model_deployments=1)
    saved, _ = _save_model(project, tmp_path)
    deployment = saved.deploy(name="fraud", script_file=FRAUD).start()
    assert _metered_reads(managed, tenant["admin"]) == 0.0
    answer = deployment.predict(inputs=[3, 39])["predictions"]
    assert answer["vectors"] == [[pytest.approx(3 / 39)], [1.0]]
    assert _metered_reads(managed, tenant["admin"]) == 2.0  # two entries read by the predictor
    deployment.predict(inputs=[5])
    assert _metered_reads(managed, tenant["admin"]) == 3.0

    keys = managed.http.get("/v1/keys", headers=tenant["admin"]).json()
    (key,) = [k for k in keys if k["name"] == "deployment fraud"]
    assert key["scopes"] == ["project:read"] and key["revoked_at"] is None

    outsider, _ = _project(managed, "outsider", model_deployments=1)
    scope = project.name
    refused = 0
    with managed.dp(managed.key(outsider["admin"], "fraud")) as http:
        for path, body in [
            ("deployments/fraud/predict", {"instances": [3]}),
            ("feature-views/fraud/versions/1/vectors", {"entries": [{"cc": 3}]}),
        ]:
            response = http.post(f"/api/v1/projects/{scope}/{path}", json=body)
            assert response.status_code == 403, response.text
            assert response.json()["code"] == "permission_denied"
            refused += 1
    print(f"attempts=2 refused={refused}")

    deployment.stop()
    keys = managed.http.get("/v1/keys", headers=tenant["admin"]).json()
    (key,) = [k for k in keys if k["name"] == "deployment fraud"]
    assert key["revoked_at"] is not None

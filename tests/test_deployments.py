"""Model deployments from the SDK on both backends: a predictor that reads feature
vectors, started, called, stopped and deleted; remote, it is a supervised process
that comes back after a crash."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import joblib
import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sklearn.linear_model import LogisticRegression

import granary
from data_plane.api.routers import deployments as deployments_router
from granary.builtin_transformations import min_max_scaler
from granary_core import errors
from tests.remote_stack import free_port, start_data_plane

PREDICTOR = Path(__file__).parent / "predictors" / "fraud_predictor.py"
ECHO = Path(__file__).parent / "predictors" / "echo_predictor.py"


@pytest.fixture
def model(project, tmp_path):
    return _save_model(project, tmp_path)


def _save_model(project, tmp_path):
    """'fraud_model' v1 trained on training dataset 1 of view 'fraud', online-enabled."""
    fs = project.get_feature_store()
    tx = fs.create_feature_group("tx", version=1, primary_key=["cc"], event_time="ts", online_enabled=True)
    n = 40
    tx.insert(
        pd.DataFrame(
            {
                "cc": np.arange(n),
                "ts": pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="h"),
                "amount": np.linspace(0.0, 100.0, n),
                "is_fraud": (np.arange(n) > n // 2).astype(int),
            }
        )
    )
    view = fs.create_feature_view(
        "fraud",
        version=1,
        query=tx.select_all(include_primary_key=False, include_event_time=False),
        labels=["is_fraud"],
        transformation_functions=[min_max_scaler("amount")],
    )
    version, _ = view.create_training_data()
    x, y = view.get_training_data(version)
    trained = LogisticRegression().fit(x, y["is_fraud"])
    (tmp_path / "m").mkdir()
    joblib.dump(trained, tmp_path / "m" / "model.pkl")
    saved = (
        project.get_model_registry()
        .sklearn.create_model("fraud_model", feature_view=view, training_dataset_version=version)
        .save(tmp_path / "m")
    )
    return saved, trained


def _wait(deployment, done, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while not done(state := deployment.get_state()):
        assert time.monotonic() < deadline, state
        time.sleep(0.1)
    return state


def test_deploy_start_predict_stop_delete(project, model):
    saved, trained = model
    with pytest.raises(errors.InvalidInput, match=r"resources \['cpus'\] are not known; give 'cpu'"):
        saved.deploy(name="fraud", script_file=PREDICTOR, resources={"cpus": 1})
    # a process of this machine takes no limits: refused, not run without them
    with pytest.raises(errors.NotSupported, match=r"resources \['cpu', 'memory'\] cannot be held to here"):
        saved.deploy(name="fraud", script_file=PREDICTOR, resources={"cpu": 1, "memory": 512})
    deployment = saved.deploy(name="fraud", script_file=PREDICTOR)
    assert deployment.get_state().state == "STOPPED"
    with pytest.raises(errors.BackendUnavailable, match=r"deployment 'fraud' .* is not running"):
        deployment.predict(inputs=[3])

    deployment.start()
    assert deployment.get_state().state == "RUNNING"
    answer = deployment.predict(inputs=[3, 39])["predictions"]
    # the predictor read the scaled vectors (training dataset 1's min/max) and scored them
    assert answer["vectors"] == [[pytest.approx(3 * 100 / 39 / 100)], [1.0]]
    expected = trained.predict_proba(pd.DataFrame({"min_max_scaler_amount_": [3 / 39, 1.0]}))[:, 1]
    assert answer["scores"] == pytest.approx(expected.tolist())
    again = deployment.predict(data={"instances": [39]})["predictions"]
    assert again["scores"] == pytest.approx([expected[1]])
    assert [d.name for d in project.get_model_serving().get_deployments()] == ["fraud"]

    deployment.stop()
    assert deployment.get_state().state == "STOPPED"
    with pytest.raises(errors.BackendUnavailable):
        deployment.predict(inputs=[3])
    deployment.delete()
    with pytest.raises(errors.DeploymentNotFound):
        project.get_model_serving().get_deployment("fraud")


def test_a_crashed_predictor_is_restarted(data_plane, tmp_path):
    saved, _ = _save_model(data_plane.login(), tmp_path)
    deployment = saved.deploy(name="fraud", script_file=PREDICTOR).start()
    first = deployment.predict(inputs=[5])["predictions"]["scores"]
    with pytest.raises(errors.GranaryError):
        deployment.predict(inputs=["crash"])
    state = _wait(deployment, lambda s: s.state == "RUNNING" and s.restarts == 1)
    assert state.restarts == 1
    assert deployment.predict(inputs=[5])["predictions"]["scores"] == first
    logs = deployment.get_logs()
    assert logs.count("predictor ready") == 2, logs
    deployment.delete()


def test_a_predictor_process_sees_none_of_the_regions_credentials(data_plane, tmp_path, monkeypatch):
    """A tenant's script runs in a process of the region: the data plane's environment
    (database URL, S3 keys, tokens) must not be there for it to read."""
    monkeypatch.setenv("GRANARY_PG_URL", "postgresql://granary:secret@127.0.0.1:1/granary")
    monkeypatch.setenv("GRANARY_CONTROL_PLANE_TOKEN", "region-token-secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3-secret")
    saved, _ = _save_model(data_plane.login(), tmp_path)
    script = Path(__file__).parent / "predictors" / "environment_predictor.py"
    deployment = saved.deploy(name="env", script_file=script).start()
    seen = set(deployment.predict(inputs=[1])["predictions"])
    deployment.delete()
    print(f"variables the predictor saw: {sorted(seen)}")
    assert {"GRANARY_HOST", "GRANARY_API_KEY", "MODEL_FILES_PATH", "PATH"} <= seen
    leaked = {
        name for name in seen if name.startswith(("AWS_", "GRANARY_PG", "GRANARY_REDIS", "GRANARY_KAFKA"))
    }
    assert not leaked and "GRANARY_CONTROL_PLANE_TOKEN" not in seen


def test_deployments_run_again_after_the_data_plane_restarts(region_env, tmp_path):
    """The data plane supervising a deployment stops (its predictor with it); the one
    started next on the region runs the deployment again."""
    port, namespace = free_port(), f"r{uuid.uuid4().hex[:8]}"
    plane = start_data_plane(region_env, materializer=False, api_port=port, namespace=namespace)
    _, key = plane.new_key()
    project = granary.login(host=plane.api_url, api_key=key)
    (tmp_path / "offset.txt").write_text("10")
    model = project.get_model_registry().python.create_model("echo").save(tmp_path / "offset.txt")
    deployment = model.deploy(name="echo", script_file=ECHO).start()
    assert deployment.predict(inputs=[1])["predictions"] == [11.0]
    plane.stop()

    plane = start_data_plane(region_env, materializer=False, api_port=port, namespace=namespace)
    try:
        started = time.monotonic()
        _wait(deployment, lambda s: s.state == "RUNNING")
        print(f"running again {time.monotonic() - started:.1f} s after the data plane started")
        assert deployment.predict(inputs=[2])["predictions"] == [12.0]
        assert deployment.get_logs().count("predictor ready") == 1  # a new folder, a new log
    finally:
        deployment.delete()
        plane.stop()


PREDICT_ROUTE = "/projects/{project}/deployments/{name}/predict"


def _predict_metrics(plane, status: str) -> tuple[float, float]:
    """(requests, seconds in total) of the predict route answered with ``status``."""
    text = httpx.get(f"{plane.api_url}/metrics").text
    values = {"_count": 0.0, "_sum": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if labels.get("route") == PREDICT_ROUTE and labels.get("status") == status:
                suffix = sample.name.removeprefix("granary_http_request_duration_seconds")
                if suffix in values:
                    values[suffix] += sample.value
    return values["_count"], values["_sum"]


def test_predict_requests_and_their_latency_are_in_the_metrics(data_plane, tmp_path):
    project = data_plane.login()
    (tmp_path / "offset.txt").write_text("10")
    model = project.get_model_registry().python.create_model("echo").save(tmp_path / "offset.txt")
    deployment = model.deploy(name="echo", script_file=ECHO).start()
    requests, seconds = _predict_metrics(data_plane, "200")
    refused_before, _ = _predict_metrics(data_plane, "400")
    started = time.perf_counter()
    for i in range(5):
        assert deployment.predict(inputs=[i])["predictions"] == [i + 10.0]
    elapsed = time.perf_counter() - started
    with pytest.raises(errors.InvalidInput):
        deployment.predict(data={"instances": [1], "inputs": [1]})
    after, seconds_after = _predict_metrics(data_plane, "200")
    deployment.delete()
    served = (seconds_after - seconds) * 1000
    print(f"5 predicts: {elapsed * 1000:.1f} ms by the client, {served:.1f} ms served")
    assert after - requests == 5
    assert 0 < seconds_after - seconds <= elapsed
    assert _predict_metrics(data_plane, "400")[0] - refused_before == 1


def _route_was_used(request):
    raise RuntimeError("the predict route was used")


def test_the_predict_fast_path_answers_as_the_route_does(data_plane, tmp_path, monkeypatch):
    """Usual predicts skip FastAPI (data_plane.api.fast_predict); a content type the fast
    path does not take goes to the route. Both must answer every request alike."""
    project_name, key = data_plane.new_key()
    _, other_key = data_plane.new_key()
    project = granary.login(host=data_plane.api_url, api_key=key)
    (tmp_path / "offset.txt").write_text("10")
    model = project.get_model_registry().python.create_model("echo").save(tmp_path / "offset.txt")
    deployment = model.deploy(name="echo", script_file=ECHO).start()
    url = f"{data_plane.api_url}/api/v1/projects/{project_name}/deployments/echo/predict"
    fast, route = "application/json", "application/json; charset=utf-8"

    def both(body: bytes, key: str | None = key) -> tuple[httpx.Response, httpx.Response]:
        auth = {"authorization": f"Bearer {key}"} if key else {}
        return tuple(
            httpx.post(url, content=body, headers={"content-type": kind, **auth}, timeout=60)
            for kind in (fast, route)
        )

    cases = {
        "usual": b'{"inputs": [1, 2.5]}',
        "instances": b'{"instances": [3]}',
        "an extra field": b'{"inputs": [1], "extra": true}',
        "both fields": b'{"inputs": [1], "instances": [1]}',
        "null": b'{"inputs": null}',
        "not JSON": b"{inputs",
        "the predictor fails": b'{"inputs": ["a"]}',
    }
    try:
        for what, body in cases.items():
            by_fast_path, by_route = both(body)
            assert by_fast_path.status_code == by_route.status_code, what
            assert by_fast_path.json() == by_route.json(), what
        assert both(cases["usual"])[0].json() == {"predictions": [11.0, 12.5]}
        with monkeypatch.context() as patched:  # the route can no longer reach a predictor
            patched.setattr(deployments_router, "_client", _route_was_used)
            by_fast_path, by_route = both(cases["usual"])
            assert (by_fast_path.status_code, by_route.status_code) == (200, 500)
        for what, refused in {"no key": None, "another project's key": other_key}.items():
            by_fast_path, by_route = both(cases["usual"], refused)
            assert by_fast_path.status_code == by_route.status_code in (401, 403), what
            assert by_fast_path.json()["code"] == by_route.json()["code"], what
        deployment.stop()
        by_fast_path, by_route = both(cases["usual"])
        assert by_fast_path.status_code == by_route.status_code == 503
        assert by_fast_path.json() == by_route.json()
        assert "not running (state STOPPED): start it first" in by_fast_path.json()["message"]
    finally:
        deployment.delete()

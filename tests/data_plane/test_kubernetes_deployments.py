"""The Kubernetes backend of deployments against a real kube-apiserver (with etcd).

``ops/kube.sh`` builds kube-apiserver from the Go module proxy (cached) and starts it
with Debian's etcd. There is no kubelet nor controller manager, so pods never run:
these tests check the objects applied, their owner labels, the rollouts recorded
(the Deployment's generation), the status read back, and the cleanup, first of the
backend alone, then of a region whose deployments run there, through its REST API.
"""

from __future__ import annotations

import base64
import subprocess
import uuid

import httpx
import pytest
from kubernetes import client as k8s

from data_plane.kubernetes_deployments import (
    KubernetesConfig,
    KubernetesDeployments,
    PredictorSpec,
    object_name,
)
from granary_core import errors
from tests import remote_stack
from tests.remote_stack import REPO

SCRIPT = "class Predict:\n    def predict(self, inputs):\n        return inputs\n"


def _kube_port(region: str) -> int:
    ports = subprocess.run(
        ["bash", str(REPO / "ops" / "region"), "ports", region], capture_output=True, text=True, check=True
    ).stdout
    return int(dict(line.split() for line in ports.splitlines())["postgres"]) + 10


@pytest.fixture(scope="session")
def kube_server():
    region = remote_stack.test_region()
    port = _kube_port(region)
    script = ["bash", str(REPO / "ops" / "kube.sh")]
    started = subprocess.run(
        [*script, "start", region, str(port)], capture_output=True, text=True, timeout=1800
    )
    if started.returncode != 0:  # a missing service is a failure with its reason, never a skip
        pytest.fail(f"ops/kube.sh start failed:\n{(started.stdout + started.stderr)[-3000:]}", pytrace=False)
    state = REPO / ".regions" / region / "kube"
    # the API server's own self-signed certificate (it names 127.0.0.1) is the CA to trust
    yield (
        f"https://127.0.0.1:{port}",
        (state / "token").read_text().strip(),
        str(state / "certs" / "apiserver.crt"),
    )
    subprocess.run([*script, "stop", region, str(port)], capture_output=True, timeout=120)


@pytest.fixture
def kube(kube_server):
    host, token, ca_cert = kube_server
    backend = KubernetesDeployments(
        KubernetesConfig(host=host, token=token, namespace=f"g-{uuid.uuid4().hex[:8]}", ca_cert=ca_cert)
    )
    yield backend
    backend.close()


def test_apply_reads_status_back_records_rollouts_and_cleans_up(kube):
    env = {"GRANARY_HOST": "http://data-plane:8600"}
    kube.apply(PredictorSpec("fraud", "scorer", SCRIPT, ("fraud_model", 1), env))
    kube.apply(
        PredictorSpec("other", "scorer", SCRIPT, ("fraud_model", 1), env)
    )  # same name, another project
    object_id = object_name("fraud", "scorer")
    assert sorted(kube.owned("fraud", "scorer")) == [
        ("ConfigMap", object_id),
        ("Deployment", object_id),
        ("Secret", object_id),
        ("Service", object_id),
    ]
    state = kube.state("fraud", "scorer")
    # no kubelet here: the Deployment wants one replica and none becomes ready
    assert (state.state, state.replicas, state.ready_replicas, state.generation) == ("STARTING", 1, 0, 1)

    kube.apply(
        PredictorSpec("fraud", "scorer", SCRIPT, ("fraud_model", 1), env)
    )  # the same objects: no rollout
    assert kube.state("fraud", "scorer").generation == 1
    kube.apply(
        PredictorSpec("fraud", "scorer", SCRIPT + "# v2\n", ("fraud_model", 1), env)
    )  # a new script rolls out
    assert kube.state("fraud", "scorer").generation == 2

    kube.apply(PredictorSpec("fraud", "scorer", SCRIPT, ("fraud_model", 1), env, replicas=0))  # stopped
    assert kube.state("fraud", "scorer").state == "STOPPED"

    kube.delete("fraud", "scorer")
    assert kube.owned("fraud", "scorer") == []
    assert kube.state("fraud", "scorer").state == "STOPPED"
    assert len(kube.owned("other", "scorer")) == 4  # the other project's objects are untouched
    kube.delete("other", "scorer")
    kube.delete("other", "scorer")  # idempotent
    assert kube.owned("other", "scorer") == []


@pytest.fixture
def kube_plane(region_env, kube_server):
    """A data plane whose deployments run on the cluster (``GRANARY_KUBERNETES``)."""
    from tests.remote_stack import start_data_plane

    host, token, ca_cert = kube_server
    namespace = f"g-{uuid.uuid4().hex[:8]}"
    cluster = {"host": host, "token": token, "namespace": namespace, "ca_cert": ca_cert}
    plane = start_data_plane(region_env, materializer=False, kubernetes=cluster)
    yield plane
    plane.stop()


def test_a_region_on_kubernetes_runs_deployments_as_objects(kube_plane, tmp_path):
    project = kube_plane.login()
    (tmp_path / "model.bin").write_bytes(b"weights")
    model = project.get_model_registry().python.create_model("m").save(tmp_path / "model.bin")
    (tmp_path / "predictor.py").write_text(SCRIPT)
    deployment = model.deploy(
        name="scorer", script_file=tmp_path / "predictor.py", resources={"cpu": 0.5, "memory": 256}
    )
    kube = kube_plane.region.kubernetes

    # started through the REST API: applied, and STARTING for good (no kubelet runs the pod)
    assert project.backend.start_deployment("scorer").state == "STARTING"
    object_id = object_name(project.name, "scorer")
    assert {kind for kind, _ in kube.owned(project.name, "scorer")} == {
        "ConfigMap",
        "Deployment",
        "Secret",
        "Service",
    }
    applied = kube._dynamic.get(kube._kinds["Deployment"], name=object_id, namespace=kube.config.namespace)
    limits = applied.spec.template.spec.containers[0].resources.to_dict()
    assert limits == {
        "limits": {"cpu": "500m", "memory": "256Mi"},
        "requests": {"cpu": "500m", "memory": "256Mi"},
    }
    secret = kube._dynamic.get(kube._kinds["Secret"], name=object_id, namespace=kube.config.namespace)
    pod_key = base64.b64decode(secret.data["GRANARY_API_KEY"]).decode()
    models_url = f"{kube_plane.api_url}/api/v1/projects/{project.name}/models/m"
    # the pod's key reads the model (the pod fetches its files with it)
    assert httpx.get(models_url, headers={"authorization": f"Bearer {pod_key}"}).status_code == 200
    with pytest.raises(errors.BackendUnavailable, match=r"not running \(state STARTING\)"):
        deployment.predict(inputs=[1])

    # its logs are its pods': no kubelet runs one here, so the test makes the pod its
    # ReplicaSet would (and the ServiceAccount a controller manager would have made)
    core, namespace, pod = k8s.CoreV1Api(kube._api), kube.config.namespace, f"{object_id}-0"
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "default"}})
    labels = {"granary.io/deployment": object_id}
    container = {"name": "predictor", "image": kube.config.image}
    core.create_namespaced_pod(
        namespace, {"metadata": {"name": pod, "labels": labels}, "spec": {"containers": [container]}}
    )
    logs = deployment.get_logs()
    print(logs)
    assert logs.startswith(f"== pod {pod} ==\n(no l") and "the pod is Pending" in logs, logs
    core.delete_namespaced_pod(pod, namespace)

    assert deployment.stop().get_state().state == "STOPPED"
    assert kube.state(project.name, "scorer").replicas == 0
    assert httpx.get(models_url, headers={"authorization": f"Bearer {pod_key}"}).status_code == 401

    deployment.delete()
    assert kube.owned(project.name, "scorer") == []

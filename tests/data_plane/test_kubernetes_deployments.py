"""The Kubernetes backend of deployments against a real kube-apiserver (with etcd).

``ops/kube.sh`` builds kube-apiserver from the Go module proxy (cached) and starts it
with Debian's etcd. There is no kubelet nor controller manager, so pods never run:
these tests check the objects applied, their owner labels, the rollouts recorded
(the Deployment's generation), the status read back, and the cleanup.
"""

from __future__ import annotations

import subprocess
import uuid

import pytest

from data_plane.kubernetes_deployments import KubernetesConfig, KubernetesDeployments, object_name
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
    kube.apply("fraud", "scorer", SCRIPT, ("fraud_model", 1), env)
    kube.apply("other", "scorer", SCRIPT, ("fraud_model", 1), env)  # same name, another project
    object_id = object_name("fraud", "scorer")
    assert sorted(kube.owned("fraud", "scorer")) == [
        ("ConfigMap", object_id),
        ("Deployment", object_id),
        ("Service", object_id),
    ]
    state = kube.state("fraud", "scorer")
    # no kubelet here: the Deployment wants one replica and none becomes ready
    assert (state.state, state.replicas, state.ready_replicas, state.generation) == ("STARTING", 1, 0, 1)

    kube.apply("fraud", "scorer", SCRIPT, ("fraud_model", 1), env)  # the same objects: no rollout
    assert kube.state("fraud", "scorer").generation == 1
    kube.apply("fraud", "scorer", SCRIPT + "# v2\n", ("fraud_model", 1), env)  # a new script rolls out
    assert kube.state("fraud", "scorer").generation == 2

    kube.apply("fraud", "scorer", SCRIPT, ("fraud_model", 1), env, replicas=0)  # stopped
    assert kube.state("fraud", "scorer").state == "STOPPED"

    kube.delete("fraud", "scorer")
    assert kube.owned("fraud", "scorer") == []
    assert kube.state("fraud", "scorer").state == "STOPPED"
    assert len(kube.owned("other", "scorer")) == 3  # the other project's objects are untouched
    kube.delete("other", "scorer")
    kube.delete("other", "scorer")  # idempotent
    assert kube.owned("other", "scorer") == []

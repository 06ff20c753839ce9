"""Model deployments on Kubernetes: the region renders objects, the cluster runs them.

Beside the process supervisor (:mod:`data_plane.supervisor`), a region may hand its
deployments to a Kubernetes cluster. Per deployment it renders a ConfigMap (the
predictor script), a Deployment (the data plane's image running
:mod:`data_plane.predictor_host`, which fetches the model's files through the data plane's
REST API with the key in the deployment's Secret) and a Service (its port in the
cluster), all labelled
with their owner (``granary.io/project``, ``granary.io/deployment``,
``app.kubernetes.io/managed-by: granary``), and applies them by server-side apply under
one field manager, so applying again is idempotent and a changed script rolls the
pods (a checksum annotation changes the pod template, hence the generation). Stopping
scales to zero replicas; deleting removes every object with the owner labels. The
live state is read back from the Deployment's status, the logs from its pods.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError

from data_plane.deployments import RUNNING, STARTING, STOPPED

FIELD_MANAGER = "granary"
PREDICTOR_PORT = 8080
MANAGED_BY = {"app.kubernetes.io/managed-by": "granary"}


@dataclass(frozen=True)
class KubernetesConfig:
    """Where and how deployments run: the API server, a bearer token, the namespace and
    the image holding the data plane (it runs ``python -m data_plane.predictor_host``)."""

    host: str
    token: str
    namespace: str = "granary"
    image: str = "granary/data-plane:latest"
    verify_ssl: bool = True
    ca_cert: str | None = None


def object_name(project: str, name: str) -> str:
    """A DNS-1123 name for a project's deployment: lower case, '-', at most 63 characters."""
    raw = re.sub(r"[^a-z0-9-]+", "-", f"{project}-{name}".lower()).strip("-")
    digest = hashlib.sha256(f"{project}/{name}".encode()).hexdigest()[:8]
    return f"{raw[:50].rstrip('-')}-{digest}"


def label_value(text: str) -> str:
    """``text`` as a label value: at most 63 of [A-Za-z0-9_.-], alphanumeric at both ends."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:63].strip("_.-") or "none"


@dataclass(frozen=True)
class PredictorSpec:
    """One deployment as the cluster runs it: ``env`` plain variables of the pod,
    ``secrets`` those kept in its Secret (the predictor's API key); ``replicas=0`` is
    stopped."""

    project: str
    name: str
    script: str
    model: tuple[str, int]
    env: dict[str, str]
    replicas: int = 1
    secrets: dict[str, str] = field(default_factory=dict)
    #: ``{"cpu": cores, "memory": MiB}``, checked (:func:`data_plane.deployments.check_resources`)
    resources: dict[str, float] = field(default_factory=dict)


def container_resources(resources: dict[str, float]) -> dict[str, dict[str, str]]:
    """The pod's requests and limits (the same: the predictor gets what it asked for)."""
    quantities = {}
    if "cpu" in resources:
        quantities["cpu"] = f"{round(resources['cpu'] * 1000)}m"
    if "memory" in resources:
        quantities["memory"] = f"{round(resources['memory'])}Mi"
    return {"requests": quantities, "limits": quantities} if quantities else {}


@dataclass(frozen=True)
class KubeState:
    state: str
    replicas: int
    ready_replicas: int
    generation: int
    observed_generation: int


class KubernetesDeployments:
    def __init__(self, config: KubernetesConfig) -> None:
        configuration = k8s.Configuration()
        configuration.host = config.host
        configuration.api_key = {"authorization": f"Bearer {config.token}"}
        configuration.verify_ssl = config.verify_ssl
        configuration.ssl_ca_cert = config.ca_cert
        self.config = config
        self._api = k8s.ApiClient(configuration)
        self._dynamic = DynamicClient(self._api)
        self._kinds = {
            kind: self._dynamic.resources.get(api_version=version, kind=kind)
            for version, kind in (
                ("v1", "Namespace"),
                ("v1", "Secret"),
                ("v1", "ConfigMap"),
                ("v1", "Service"),
                ("apps/v1", "Deployment"),
            )
        }

    def close(self) -> None:
        self._api.close()

    def _labels(self, project: str, name: str) -> dict[str, str]:
        return {
            **MANAGED_BY,
            "granary.io/project": label_value(project),
            "granary.io/deployment": object_name(project, name),
        }

    def render(self, spec: PredictorSpec) -> list[dict[str, Any]]:
        """The Secret, ConfigMap, Deployment and Service of one deployment, as applied."""
        project, name = spec.project, spec.name
        object_id = object_name(project, name)
        labels = self._labels(project, name)
        metadata = {"name": object_id, "namespace": self.config.namespace, "labels": labels}
        script_sum = hashlib.sha256(spec.script.encode()).hexdigest()
        container = {
            "name": "predictor",
            "image": self.config.image,
            "command": ["python", "-m", "data_plane.predictor_host"],
            "args": ["/granary/predictor/predictor.py", "/granary/model", str(PREDICTOR_PORT)],
            "ports": [{"containerPort": PREDICTOR_PORT, "name": "http"}],
            "env": [
                {"name": k, "value": v}
                for k, v in {
                    **spec.env,
                    "GRANARY_DEPLOYMENT": name,
                    "GRANARY_MODEL": f"{spec.model[0]}:{spec.model[1]}",
                    "MODEL_FILES_PATH": "/granary/model",
                }.items()
            ]
            + [
                {"name": k, "valueFrom": {"secretKeyRef": {"name": object_id, "key": k}}}
                for k in sorted(spec.secrets)
            ],
            "readinessProbe": {"httpGet": {"path": "/health", "port": PREDICTOR_PORT}},
            "resources": container_resources(spec.resources),
            "volumeMounts": [{"name": "predictor", "mountPath": "/granary/predictor"}],
        }
        return [
            {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "stringData": dict(spec.secrets)},
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": metadata,
                "data": {"predictor.py": spec.script},
            },
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": metadata,
                "spec": {
                    "replicas": spec.replicas,
                    "selector": {"matchLabels": {"granary.io/deployment": object_id}},
                    "template": {
                        "metadata": {
                            "labels": labels,
                            "annotations": {"granary.io/script-sha256": script_sum},
                        },
                        "spec": {
                            "containers": [container],
                            "volumes": [{"name": "predictor", "configMap": {"name": object_id}}],
                        },
                    },
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": metadata,
                "spec": {
                    "selector": {"granary.io/deployment": object_id},
                    "ports": [{"name": "http", "port": PREDICTOR_PORT, "targetPort": PREDICTOR_PORT}],
                },
            },
        ]

    def _ensure_namespace(self) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": self.config.namespace, "labels": MANAGED_BY},
        }
        self._dynamic.server_side_apply(
            self._kinds["Namespace"], body=body, name=self.config.namespace, field_manager=FIELD_MANAGER
        )

    def apply(self, spec: PredictorSpec) -> None:
        """Create or update the deployment's objects (``replicas=0``: stopped)."""
        self._ensure_namespace()
        for body in self.render(spec):
            self._dynamic.server_side_apply(
                self._kinds[body["kind"]],
                body=body,
                name=body["metadata"]["name"],
                namespace=self.config.namespace,
                field_manager=FIELD_MANAGER,
                force_conflicts=True,
            )

    def state(self, project: str, name: str) -> KubeState:
        """What the cluster reports: ``RUNNING`` once every wanted replica is ready."""
        try:
            deployment = self._dynamic.get(
                self._kinds["Deployment"], name=object_name(project, name), namespace=self.config.namespace
            )
        except NotFoundError:
            return KubeState(STOPPED, 0, 0, 0, 0)
        wanted = deployment.spec.replicas or 0
        ready = deployment.status.readyReplicas or 0
        state = STOPPED if wanted == 0 else RUNNING if ready >= wanted else STARTING
        return KubeState(
            state,
            wanted,
            ready,
            deployment.metadata.generation or 0,
            deployment.status.observedGeneration or 0,
        )

    def owned(self, project: str, name: str) -> list[tuple[str, str]]:
        """(kind, name) of every object carrying the deployment's owner labels."""
        selector = ",".join(f"{k}={v}" for k, v in self._labels(project, name).items())
        found = []
        for kind in ("Secret", "ConfigMap", "Deployment", "Service"):
            items = self._dynamic.get(
                self._kinds[kind], namespace=self.config.namespace, label_selector=selector
            )
            found += [(kind, item.metadata.name) for item in items.items]
        return found

    def logs(self, project: str, name: str, tail: int) -> str:
        """The last ``tail`` lines of the predictor in each of the deployment's pods, under
        the pod's name; a pod with none to give (not scheduled, not started) says why."""
        core = k8s.CoreV1Api(self._api)
        selector = f"granary.io/deployment={object_name(project, name)}"
        pods = core.list_namespaced_pod(self.config.namespace, label_selector=selector).items
        parts = []
        for pod in sorted(pods, key=lambda p: p.metadata.name):
            try:
                text = core.read_namespaced_pod_log(
                    pod.metadata.name, self.config.namespace, container="predictor", tail_lines=tail
                )
                text = (text or "").rstrip() or f"(no lines yet: the pod is {pod.status.phase})"
            except ApiException as exc:
                text = f"(no logs: the pod is {pod.status.phase}: {_message(exc)})"
            parts.append(f"== pod {pod.metadata.name} ==\n{text}")
        return "\n".join(parts)

    def endpoint(self, project: str, name: str) -> str:
        """The deployment's Service inside the cluster (where the data plane sends predicts)."""
        return f"http://{object_name(project, name)}.{self.config.namespace}.svc:{PREDICTOR_PORT}"

    def delete(self, project: str, name: str) -> None:
        """Remove every object of the deployment (idempotent)."""
        for kind, object_id in self.owned(project, name):
            with contextlib.suppress(NotFoundError):
                self._dynamic.delete(self._kinds[kind], name=object_id, namespace=self.config.namespace)


def _message(exc: ApiException) -> str:
    """What the API server said (its Status ``message``), else the HTTP reason."""
    try:
        return json.loads(exc.body)["message"]
    except (TypeError, ValueError, KeyError):
        return f"{exc.status} {exc.reason}"

"""Start and stop a project's deployments as processes of the region.

Starting one: the quota is checked and the deployment marked to run (one transaction,
:meth:`DeploymentCatalog.set_running`); its script and the model's files (checked
against their SHA-256) are written to a folder of its own; a key bound to the project
is minted for it, so ``granary.login()`` in the predictor reaches this data plane
(``GRANARY_HOST``, ``GRANARY_API_KEY``); then the supervisor runs the process. The key
is the tenant's (issued by the control plane, held by the user who started it, read
only), so what the predictor reads is metered and limited as the tenant's reads are;
it is revoked when the deployment stops. The process gets none of the data plane's own
environment but what runs Python (:data:`PASSED_ENVIRONMENT`): a tenant's script must
not find the region's database, Kafka, Redis or S3 credentials there.

With ``GRANARY_KUBERNETES`` the cluster runs it instead
(:mod:`data_plane.kubernetes_deployments`): the same start, stop and delete apply its
objects (one replica, zero, none), the key travels in its Secret, and the pod fetches
the model's files through the REST API itself.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from data_plane.deployments import (
    RUNNING,
    DeploymentCatalog,
    check_resources,
    deployment_info,
    fetch_model_files,
)
from data_plane.engine import FeatureStoreEngine
from data_plane.kubernetes_deployments import PredictorSpec
from data_plane.metadata.models import DeploymentRecord, HomedProjectRecord, ProjectRecord
from data_plane.region import Region
from granary_core.errors import GranaryError
from granary_core.specs import DeploymentInfo
from tenancy.scope import Principal

log = logging.getLogger("granary.deployments")

#: The variables of the data plane's environment a predictor process gets.
PASSED_ENVIRONMENT = frozenset(
    {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH"}
)


def predictor_environment(inherited: Mapping[str, str], own: Mapping[str, str]) -> dict[str, str]:
    """``own`` and, of ``inherited``, only :data:`PASSED_ENVIRONMENT`."""
    return {k: v for k, v in inherited.items() if k in PASSED_ENVIRONMENT} | dict(own)


class DeploymentRunner:
    def __init__(self, region: Region, engine: FeatureStoreEngine) -> None:
        self.region = region
        self.engine = engine
        self.catalog = DeploymentCatalog(engine.catalog)
        self.project = engine.catalog.project

    def info(self, record: DeploymentRecord) -> DeploymentInfo:
        if self.region.kubernetes is not None:
            return deployment_info(record, self.region.kubernetes.state(self.project, record.name).state, 0)
        return deployment_info(record, *self.region.deployments.state((self.project, record.name)))

    def endpoint(self, name: str) -> str | None:
        """Where a running deployment answers (None when it does not run here now)."""
        kube = self.region.kubernetes
        if kube is None:
            return self.region.deployments.endpoint((self.project, name))
        return kube.endpoint(self.project, name) if kube.state(self.project, name).state == RUNNING else None

    def logs(self, name: str, tail: int) -> str:
        """The last ``tail`` lines its predictors wrote: every run's, here; each pod's, on
        the cluster."""
        self.catalog.get(name)
        if self.region.kubernetes is not None:
            return self.region.kubernetes.logs(self.project, name, tail)
        return self.region.deployments.logs((self.project, name), tail)

    def _new_key(self, record: DeploymentRecord, user_id: str | None) -> str:
        """A key for the predictor to read the project with; the deployment's earlier keys
        are revoked. A deployment a tenant started reads with a key of the tenant that the
        control plane issues (``project:read``, held by ``user_id``, the user who started
        it): its reads are the tenant's, metered and limited by its plan like any other.
        Only one an operator key started reads with a key of the region."""
        control_plane = self.region.control_plane
        if record.tenant_id is not None and control_plane is not None:
            return control_plane.issue_deployment_key(self.project, record.name, user_id)
        self._revoke_keys(record)
        return self.region.keys.create_key(self.project, name=f"deployment {record.name}")[1]

    def _revoke_keys(self, record: DeploymentRecord) -> None:
        """Revoke the keys its predictors were given. One the control plane cannot revoke
        now is logged: the deployment's next key revokes it, as does the tenant's end."""
        for key in self.region.keys.list_keys(self.project):
            if key.name == f"deployment {record.name}":
                self.region.keys.revoke(key.key_id)
        if record.tenant_id is not None and self.region.control_plane is not None:
            try:
                self.region.control_plane.revoke_deployment_keys(self.project, record.name)
            except GranaryError as exc:
                log.warning("%s: its key is not revoked yet: %s", self.catalog.where(record.name), exc)

    def _apply(self, record: DeploymentRecord, replicas: int, secrets: dict[str, str]) -> None:
        assert self.region.kubernetes is not None and self.region.settings.kubernetes is not None
        env = {
            "GRANARY_HOST": self.region.settings.kubernetes.data_plane_url,
            "GRANARY_PROJECT": self.project,
        }
        self.region.kubernetes.apply(
            PredictorSpec(
                self.project,
                record.name,
                record.script,
                (record.model_name, record.model_version),
                env,
                replicas,
                secrets,
                dict(record.resources or {}),
            )
        )

    def create(self, **fields: Any) -> DeploymentInfo:
        self.region.model_registry(self.engine).get(fields["model_name"], fields["model_version"])
        return self.info(self.catalog.create(**fields, limited=self.region.kubernetes is not None))

    def start(self, name: str, caller: Principal) -> DeploymentInfo:
        """Admit the deployment (the quota) and run it. A start that fails (the model's
        files missing, the cluster refusing its objects) marks it stopped again before
        the error reaches the caller, so it holds no ``model_deployments`` slot."""
        admit = self.region.quotas.new_deployment(caller)
        record = self.catalog.set_running(name, caller.tenant_id, admit)
        try:
            self.launch(record, caller.user_id)
        except BaseException:
            self.catalog.set_stopped(name)
            raise
        return self.info(record)

    def launch(self, record: DeploymentRecord, user_id: str | None = None) -> None:
        """Run a deployment marked to run, here or on the cluster: after a start, and for
        each of them when the region's data plane starts again (:func:`restore`). One the
        supervisor runs already is left as it is."""
        name = record.name
        if self.region.kubernetes is not None:
            self._apply(record, 1, {"GRANARY_API_KEY": self._new_key(record, user_id)})
            return
        if (self.project, name) in self.region.deployments:
            return
        # one made where deployments ran on Kubernetes may give resources processes ignore
        check_resources(record.resources or {}, self.catalog.where(name), limited=False)
        folder = self.region.deployments_dir / self.project / name
        shutil.rmtree(folder, ignore_errors=True)
        model_dir = fetch_model_files(
            self.region.model_registry(self.engine), record.model_name, record.model_version, folder / "model"
        )
        script = folder / "predictor.py"
        script.write_text(record.script)
        secret = self._new_key(record, user_id)  # revokes a key left by a data plane stopped meanwhile
        settings = self.region.settings
        host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::") else settings.api_host
        env = predictor_environment(
            os.environ,
            {
                "GRANARY_HOST": f"http://{host}:{settings.api_port}",
                "GRANARY_API_KEY": secret,
                "GRANARY_DEPLOYMENT": name,
                "GRANARY_MODEL": f"{record.model_name}:{record.model_version}",
                "MODEL_FILES_PATH": str(model_dir),
            },
        )
        self.region.deployments.start(
            (self.project, name),
            lambda port: [
                sys.executable,
                "-m",
                "data_plane.predictor_host",
                str(script),
                str(model_dir),
                str(port),
            ],
            env,
            folder / "log.txt",
            on_stop=lambda: self._revoke_keys(record),
        )

    def stop(self, name: str) -> DeploymentInfo:
        record = self.catalog.set_stopped(name)
        if self.region.kubernetes is not None:
            self._apply(record, 0, {})
            self._revoke_keys(record)
        else:
            self.region.deployments.stop((self.project, name))
        return self.info(record)

    def delete(self, name: str) -> None:
        self.stop(name)
        if self.region.kubernetes is not None:
            self.region.kubernetes.delete(self.project, name)
        self.catalog.delete(name)
        shutil.rmtree(self.region.deployments_dir / self.project / name, ignore_errors=True)


def restore(region: Region) -> int:
    """Run again every deployment marked to run of the projects this region is home to:
    the data plane supervising them stopped (a restart, a crash) and their processes
    with it. A standby region restores none (the home region runs them), nor does a
    region whose cluster keeps running them. Returns how many were started; one that
    cannot start (its model's files unreadable) is logged and left marked to run, so
    the next start of the data plane tries it again."""
    if region.kubernetes is not None:
        return 0
    query = (
        select(ProjectRecord.name, DeploymentRecord.name)
        .join(DeploymentRecord, DeploymentRecord.project_id == ProjectRecord.id)
        .join(HomedProjectRecord, HomedProjectRecord.project_id == ProjectRecord.id)
        .where(DeploymentRecord.desired_state == RUNNING, ProjectRecord.status == "active")
        .order_by(ProjectRecord.name, DeploymentRecord.name)
    )
    with region.session() as session:
        marked = list(session.execute(query))
    started = 0
    for project, name in marked:
        runner = DeploymentRunner(region, region.engine(project))
        try:
            runner.launch(runner.catalog.get(name))
        except (GranaryError, OSError) as exc:
            log.warning("deployment '%s' of project '%s' did not start again: %s", name, project, exc)
            continue
        started += 1
    return started

"""Report each project's sizes to the control plane, which checks size quotas against them.

Only the data plane knows how much a project stores, and only the control plane knows a
tenant's total across projects and regions, so the data plane measures and the control
plane adds up. A project is measured again only when its feature groups, commits or
running deployments changed since the last report: one metadata query per cycle finds
those.

Measured: ``feature_groups`` (metadata), ``offline_bytes`` (every object under the
project's offline prefix in S3, old table versions included, since they are stored and
time travel reads them), ``online_rows`` (the online store's ``count`` of the project)
and ``model_deployments`` (its deployments marked to run, as the quota counts them where
they start, :meth:`data_plane.deployments.DeploymentCatalog.set_running`).
"""

from __future__ import annotations

import logging
import threading

import pyarrow.fs as pafs
from sqlalchemy import text

from data_plane.region import Region
from granary_core.errors import GranaryError

log = logging.getLogger("granary.usage")

_CHANGES = text(
    "SELECT p.name, COUNT(DISTINCT fg.id), COUNT(c.id), "
    "(SELECT COUNT(*) FROM deployments d WHERE d.project_id = p.id AND d.desired_state = 'RUNNING') "
    "FROM projects p "
    "LEFT JOIN feature_groups fg ON fg.project_id = p.id "
    "LEFT JOIN commits c ON c.feature_group_id = fg.id WHERE p.status = 'active' GROUP BY p.id, p.name"
)


def project_sizes(region: Region, project: str, feature_groups: int) -> dict[str, int]:
    """What the project stores: its groups, its offline bytes and (with an online store)
    its online rows. The control plane also reads it through the admin API."""
    offline = region.s3.uri(region.layout.offline_prefix(project)).removeprefix("s3://")
    selector = pafs.FileSelector(offline, recursive=True, allow_not_found=True)
    files = region.filesystem.get_file_info(selector)
    sizes = {"feature_groups": feature_groups, "offline_bytes": sum(f.size or 0 for f in files)}
    online = region.online_store(project)
    if online is not None:
        sizes["online_rows"] = online.count()
    return sizes


class UsageReporter:
    def __init__(self, region: Region) -> None:
        if region.control_plane is None:
            raise ValueError("usage reports need a control plane (GRANARY_CONTROL_PLANE_URL)")
        self._region = region
        self._control_plane = region.control_plane
        #: project -> (feature groups, commits, running deployments) when last reported
        self._reported: dict[str, tuple[int, int, int]] = {}
        # Projects the control plane did not know, with what they looked like then: asked
        # again once they change, since the control plane writes a project to the region
        # before it commits its own record (and operator-key projects are never known).
        self._unknown: dict[str, tuple[int, int, int]] = {}

    def measure(self, project: str, feature_groups: int) -> dict[str, int]:
        return project_sizes(self._region, project, feature_groups)

    def report_once(self) -> int:
        """Report the projects that changed; returns how many were reported.

        A project is first announced with its metadata count alone (no S3 listing, no
        online store count): projects the control plane does not know, such as those of the
        region's operator keys, are not measured, and asked about again only when
        their groups or commits change.
        """
        with self._region.metadata.connect() as connection:
            current = {name: tuple(counts) for name, *counts in connection.execute(_CHANGES)}
        reported = 0
        for project, signature in current.items():
            if signature in (self._unknown.get(project), self._reported.get(project)):
                continue
            if project not in self._reported and not self._control_plane.report_usage(
                project, feature_groups=signature[0]
            ):
                self._unknown[project] = signature
                continue
            self._unknown.pop(project, None)
            sizes = self.measure(project, signature[0])
            self._control_plane.report_usage(project, **sizes, model_deployments=signature[2])
            self._reported[project] = signature
            reported += 1
        return reported

    def run(self, stop: threading.Event) -> None:
        interval = self._region.settings.usage_report_seconds
        while not stop.wait(interval):
            try:
                self.report_once()
            except (GranaryError, OSError) as exc:  # the online store raises BackendUnavailable
                log.warning("usage report failed, retrying in %.0f s: %s", interval, exc)

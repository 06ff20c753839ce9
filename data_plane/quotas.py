"""A tenant's plan, enforced where the work happens: before anything is written or read.

Counts the data plane knows exactly (feature groups of a project) are checked here,
counted and inserted in one transaction under a lock of the project;
sizes that add up across a tenant's projects and regions (offline bytes, online rows)
are asked of the control plane, which holds the reported totals; rates take tokens
from the tenant's bucket in the control plane's Redis, shared by every region.

Checks run before the work, and a refused request writes nothing. Sizes are checked
against an upper bound of what a request adds (its Arrow bytes, its row count), so a
tenant never passes a limit, at the price of refusing an update of existing keys that
would have fit. Operator keys (no tenant) are not limited.
"""

from __future__ import annotations

from collections.abc import Callable

from granary_core.errors import QuotaExceeded
from tenancy.control_plane_client import ControlPlaneClient
from tenancy.quotas import RateLimiter, check_count
from tenancy.scope import Principal


class QuotaGate:
    def __init__(self, control_plane: ControlPlaneClient | None, limiter: RateLimiter | None) -> None:
        self._control_plane = control_plane
        self._limiter = limiter

    def new_feature_group(self, principal: Principal) -> Callable[[int], None] | None:
        """The check a new feature group must pass given the project's current count, or None
        when no quota applies. The catalog runs it under a lock of the project, in the
        transaction that inserts the group, so concurrent creates cannot pass the limit."""
        quotas = principal.quotas
        if quotas is None:
            return None

        def admit(existing: int) -> None:
            check_count(
                "feature_groups_per_project",
                limit=quotas.feature_groups_per_project,
                current=existing,
                adding=1,
                subject=f"project '{principal.project}'",
            )

        return admit

    def new_deployment(self, principal: Principal) -> Callable[[int], None] | None:
        """The ``model_deployments`` check a deployment must pass to start, given how many
        other deployments of the tenant run; None when no quota applies. The deployment
        catalog runs it under a lock of the tenant (``DeploymentCatalog.set_running``)."""
        quotas = principal.quotas
        if quotas is None or principal.tenant_id is None:
            return None

        def admit(running: int) -> None:
            if quotas.model_deployments == 0:
                raise QuotaExceeded(
                    f"tenant {principal.tenant_id}: quota 'model_deployments' is 0: your plan allows no "
                    "model deployments (the free sandbox has none); an enterprise plan sets their number",
                    quota="model_deployments",
                    limit=0,
                    current=running,
                )
            check_count(
                "model_deployments",
                limit=quotas.model_deployments,
                current=running,
                adding=1,
                subject=f"tenant {principal.tenant_id}",
            )

        return admit

    def online_reads(self, principal: Principal, rows: int) -> None:
        """The one meter of online rows read, whatever the route: REST vectors (and their
        fast path) charge the entries asked for, Flight ``read_online`` the rows it read,
        all from the tenant's ``online_reads_per_second`` bucket, before any row leaves."""
        self._take(principal, "online_reads_per_second", rows)

    def online_reads_left(self, principal: Principal) -> None:
        """Refuse, taking nothing, when not one online row may be read now: asked before a
        read whose size is known only once it is done (a whole group's rows), so a spent
        bucket stops it before the store is scanned. The read is then charged its rows."""
        self._take(principal, "online_reads_per_second", 0, probe=True)

    def ingestion(self, principal: Principal, rows: int, nbytes: int, online: bool) -> None:
        if principal.quotas is None or self._control_plane is None or principal.project_id is None:
            return
        self._control_plane.check_quota(principal.project_id, "offline_bytes", nbytes)
        if online:
            self._control_plane.check_quota(principal.project_id, "online_rows", rows)
        self._take(principal, "ingestion_rows_per_second", rows)

    def _take(self, principal: Principal, quota: str, amount: int, probe: bool = False) -> None:
        if principal.quotas is None or self._limiter is None or principal.tenant_id is None:
            return
        if amount <= 0 and not probe:
            return
        self._limiter.check_and_consume(
            principal.tenant_id,
            quota,
            amount=amount,
            rate=principal.quotas.limit(quota),
            project=principal.project_id or principal.project,
        )

"""The data plane's calls to the control plane (region token): key checks, quota
checks of sizes and counts, usage reports, and the keys of deployments.

Key checks run on every request, so their answers are cached per (key, project) for
``cache_seconds``; :class:`tenancy.authn.AccessEvents` drops them early when the
control plane announces an access change.

While the control plane cannot be reached, a region keeps serving: a key it checked in
the last ``stale_seconds`` is taken on its last answer, and a size quota that passed
then lets writes through (a key never seen, or seen too long ago, gets 503). A
revocation made meanwhile takes effect once the control plane answers again; that is
the price of serving through its outage, and ``stale_seconds`` bounds it. After a
failed check the control plane is not asked again for ``cache_seconds``, so requests do
not each wait out its timeout.

Every call here may be sent twice without harm (checks, and usage reports that replace
the last one), so a dropped connection or a 5xx answer is tried again, briefly: a
request waits on the key check, and a control plane restart takes longer than a client
should wait anyway.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from granary_core.errors import BackendUnavailable, GranaryError, NotFound, error_from_dict
from tenancy.keys import hash_key
from tenancy.plans import Quotas
from tenancy.scope import Principal

log = logging.getLogger(__name__)


def _worth_another_try(exc: BaseException) -> bool:
    """A dropped connection or a 5xx, not a timeout: a control plane that took ``timeout``
    seconds to not answer would take them again, on a request that waits for it."""
    return isinstance(exc, BackendUnavailable) and not isinstance(exc.__cause__, httpx.TimeoutException)


class ControlPlaneClient:
    """One HTTP client to the control plane's ``/v1/internal`` API."""

    def __init__(
        self,
        url: str,
        region_token: str,
        cache_seconds: float = 5.0,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        stale_seconds: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {region_token}"},
            timeout=timeout,
            transport=transport,
        )
        self._cache_seconds = cache_seconds
        self._stale_seconds = stale_seconds
        self._clock = clock
        self._cache: dict[tuple[str, str | None], tuple[float, Principal]] = {}
        self._lock = threading.Lock()
        #: Until then the control plane is taken to be away (its last check failed).
        self._away_until = float("-inf")
        #: (project id, quota) -> when its last check passed
        self._quota_passed: dict[tuple[str, str], float] = {}

    def authenticate(self, key: str, project: str | None) -> Principal:
        cache_key = (hash_key(key), project)
        now = self._clock()
        with self._lock:
            hit = self._cache.get(cache_key)
        if hit is not None and now - hit[0] < self._cache_seconds:
            return hit[1]
        stale = hit is not None and now - hit[0] < self._stale_seconds
        if stale and now < self._away_until:
            return hit[1]
        try:
            body = self._post("/v1/internal/authenticate", {"api_key": key, "project": project})
        except BackendUnavailable:
            self._away_until = now + self._cache_seconds
            if stale:
                log.warning(
                    "control plane unreachable: serving a key on its answer of %.0f s ago", now - hit[0]
                )
                return hit[1]
            raise
        except GranaryError:  # refused now: forget the old answer
            with self._lock:
                self._cache.pop(cache_key, None)
            raise
        self._away_until = float("-inf")
        principal = Principal(
            key_id=body["key_id"],
            project=body["project"],
            project_id=body["project_id"],
            tenant_id=body["tenant_id"],
            permissions=frozenset(body["permissions"]),
            quotas=Quotas.model_validate(body["quotas"]),
            user_id=body["user_id"],
        )
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache = {k: v for k, v in self._cache.items() if now - v[0] < self._stale_seconds}
                if len(self._cache) > 10_000:
                    self._cache.clear()
            self._cache[cache_key] = (now, principal)
        return principal

    def check_quota(self, project_id: str, quota: str, adding: float) -> None:
        """403 ``QuotaExceeded`` when the tenant's use plus ``adding`` would pass the plan.

        While the control plane cannot be reached, a project whose last check of this
        quota passed within ``stale_seconds`` is let through (writes go on through a
        control plane outage; the sizes are measured again, and over-quota refused, once
        it answers); one never checked, or refused last, gets 503."""
        now = self._clock()
        passed = self._quota_passed.get((project_id, quota))
        recent = passed is not None and now - passed < self._stale_seconds
        if recent and now < self._away_until:
            return
        try:
            self._post(
                "/v1/internal/quota-check", {"project_id": project_id, "quota": quota, "adding": adding}
            )
        except BackendUnavailable:
            self._away_until = now + self._cache_seconds
            if recent:
                return
            raise
        except GranaryError:
            self._quota_passed.pop((project_id, quota), None)
            raise
        self._away_until = float("-inf")
        if len(self._quota_passed) > 10_000:
            self._quota_passed.clear()
        self._quota_passed[(project_id, quota)] = now

    def report_usage(self, project_id: str, **gauges: float) -> bool:
        """Send a project's current sizes; False when the control plane does not know it."""
        try:
            self._send("PUT", "/v1/internal/usage", {"project_id": project_id, **gauges})
        except NotFound:
            return False
        return True

    def issue_deployment_key(self, project_id: str, deployment: str, user_id: str | None) -> str:
        """A tenant key for the deployment's predictor (``project:read`` on its project,
        held by ``user_id``, or, None, by the user of its last key); its earlier keys
        are revoked. Returns the key's plaintext."""
        body = {"project_id": project_id, "deployment": deployment, "user_id": user_id}
        return self._post("/v1/internal/deployment-keys", body)["api_key"]

    def revoke_deployment_keys(self, project_id: str, deployment: str) -> None:
        body = {"project_id": project_id, "deployment": deployment}
        self._post("/v1/internal/deployment-keys/revoke", body)

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        return self._send("POST", path, body)

    @retry(
        retry=retry_if_exception(_worth_another_try),
        stop=stop_after_attempt(3),
        wait=wait_exponential(multiplier=0.05, max=0.4),
        reraise=True,
    )
    def _send(self, method: str, path: str, body: dict[str, Any]) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"the control plane is unreachable ({method} {path}): {exc}") from exc
        return _answer(response)

    def forget(self, tenant_id: str | None = None) -> None:
        """Drop cached answers: of one tenant, or all."""
        with self._lock:
            if tenant_id is None:
                self._cache.clear()
            else:
                self._cache = {k: v for k, v in self._cache.items() if v[1].tenant_id != tenant_id}

    def close(self) -> None:
        self._http.close()


def _answer(response: httpx.Response) -> Any:
    """The JSON body of a 2xx answer (None for 204); else the error the body names."""
    if response.is_success:
        return response.json() if response.content else None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 500 or not isinstance(body, dict) or "code" not in body:
        raise BackendUnavailable(
            f"the control plane answered {response.status_code} to {response.request.method} "
            f"{response.request.url.path}: {response.text[:200]}"
        )
    raise error_from_dict(body)

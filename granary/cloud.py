"""A small HTTP client of the control plane (signup, login, projects, keys).

Errors come back as the same ``GranaryError`` classes the service raised, rebuilt
from the ``{code, message}`` body.
"""

from __future__ import annotations

from typing import Any

import httpx
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_exponential

from granary_core.errors import BackendUnavailable, GranaryError, NotFound, error_from_dict

DEFAULT_HOST = "http://127.0.0.1:8700"


class ControlPlaneClient:
    def __init__(
        self,
        host: str = DEFAULT_HOST,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=host.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )
        self.host = host

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ControlPlaneClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, method: str, path: str, json: Any = None, timeout: float | None = None) -> Any:
        try:
            extra = {} if timeout is None else {"timeout": timeout}
            response = self._http.request(method, path, json=json, **extra)
        except httpx.TransportError as exc:
            raise BackendUnavailable(f"control plane at {self.host} is unreachable: {exc}") from exc
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            if isinstance(body, dict) and "code" in body:
                raise error_from_dict(body)
            raise GranaryError(f"{method} {path}: HTTP {response.status_code}: {response.text[:200]}")
        return response.json() if response.content else None

    # signup and login
    def signup(self, email: str, password: str) -> dict:
        return self._call("POST", "/v1/signup", {"email": email, "password": password})

    def verify(self, token: str, password: str) -> dict:
        """``password``: the one given at the sign-up that mailed ``token``."""
        return self._call("POST", "/v1/verify", {"token": token, "password": password})

    def accept_invitation(self, token: str, password: str) -> dict:
        return self._call("POST", "/v1/invitations/accept", {"token": token, "password": password})

    def invite_user(self, email: str, is_tenant_admin: bool = False) -> dict:
        return self._call("POST", "/v1/users", {"email": email, "is_tenant_admin": is_tenant_admin})

    def login(self, email: str, password: str) -> dict:
        return self._call("POST", "/v1/login", {"email": email, "password": password})

    def request_password_reset(self, email: str) -> dict:
        return self._call("POST", "/v1/password-reset", {"email": email})

    def reset_password(self, token: str, password: str) -> dict:
        return self._call("POST", "/v1/password-reset/confirm", {"token": token, "password": password})

    # projects
    def create_project(self, name: str, *, wait: bool = True, timeout: float = 120.0) -> dict:
        """Create a project; with ``wait``, return once its region has made it (``ready``).

        The control plane answers at once with status ``provisioning`` and provisions
        the project in its region afterwards. Raises ``BackendUnavailable`` if the region
        refused for good (``failed``) or ``timeout`` seconds passed.
        """
        project = self._call("POST", "/v1/projects", {"name": name})
        return self._until_settled(name, "provisioning", timeout) if wait else project

    def get_project(self, name: str) -> dict:
        return self._call("GET", f"/v1/projects/{name}")

    def list_projects(self) -> list[dict]:
        return self._call("GET", "/v1/projects")

    def delete_project(self, name: str, *, wait: bool = True, timeout: float = 300.0) -> None:
        """Delete a project; with ``wait``, return once its region has removed its data."""
        self._call("DELETE", f"/v1/projects/{name}")
        if wait:
            self._until_settled(name, "deleting", timeout)

    def _until_settled(self, name: str, passing: str, timeout: float) -> dict:
        """The project once its status is no longer ``passing`` ({"status": "deleted"} once
        it is gone); ``failed`` and timeouts raise ``BackendUnavailable``."""
        poll = Retrying(
            retry=retry_if_result(lambda p: p["status"] == passing),
            wait=wait_exponential(multiplier=0.05, max=2.0),
            stop=stop_after_delay(timeout),
            retry_error_callback=lambda state: state.outcome.result(),
        )
        project = poll(self._project_or_deleted, name)
        if project["status"] in (passing, "failed"):
            raise BackendUnavailable(
                f"project '{name}' is still '{project['status']}' after {timeout}s: "
                f"{project.get('last_error') or 'its region has not answered yet'}"
                if project["status"] == passing
                else f"project '{name}' failed in its region: {project.get('last_error')}"
            )
        return project

    def _project_or_deleted(self, name: str) -> dict:
        try:
            return self.get_project(name)
        except NotFound:
            return {"name": name, "status": "deleted"}

    # keys
    def create_key(self, name: str = "", project: str | None = None, scopes: list[str] | None = None) -> dict:
        return self._call("POST", "/v1/keys", {"name": name, "project": project, "scopes": scopes or ["*"]})

    def list_keys(self) -> list[dict]:
        return self._call("GET", "/v1/keys")

    def revoke_key(self, key_id: str) -> None:
        self._call("DELETE", f"/v1/keys/{key_id}")

    # operators (the admin token)
    def move_tenant(self, tenant: str, kind: str, from_region: str, to_region: str, timeout_s: float) -> dict:
        """``kind``: ``switchover`` (planned, loses nothing) or ``failover`` (the old region is gone)."""
        body = {"from_region": from_region, "to_region": to_region, "timeout_s": timeout_s}
        return self._call("POST", f"/v1/admin/tenants/{tenant}/{kind}", body, timeout=3 * timeout_s + 60)

    def regions(self) -> list[dict]:
        """Every region, asked now: reachable, catalog lag, projects routed to it."""
        return self._call("GET", "/v1/admin/regions")

    def tenant_routing(self, tenant: str) -> dict:
        """Where each of the tenant's projects is written, under which epoch."""
        return self._call("GET", f"/v1/admin/tenants/{tenant}/routing")

    def failback(self, region: str) -> dict:
        """Tell a region a failover took projects from that it writes them no more."""
        return self._call("POST", f"/v1/admin/regions/{region}/failback", timeout=120)

"""The control plane's client of each region's admin API (``/admin/v1`` of its data plane).

The control plane holds no credentials of a region's services and names none of their
topics, keys or objects: it asks the region's data plane, with the region token, to
provision a project (the answer says where its data will live), to delete it, to show
what of it is left, and to measure it. Calls are idempotent, so connection failures
are retried (tenacity); any other failure is a 503 that names the region.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from control_plane.settings import RegionSettings
from granary_core.errors import BackendUnavailable, NotFound, error_from_dict

#: Failures before any byte of the request reached the data plane: always safe to retry.
_CONNECTION_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError)


@dataclass(frozen=True)
class ProjectLayout:
    """Where a project's data lives in its region, as the region named it."""

    group_topic_prefix: str
    online_key_prefix: str
    object_prefixes: tuple[str, ...]


@dataclass
class Residue:
    """What of a project is still stored in a region (empty after a complete delete)."""

    postgres: list[str] = field(default_factory=list)
    kafka: list[str] = field(default_factory=list)
    redis: list[str] = field(default_factory=list)
    s3: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.postgres or self.kafka or self.redis or self.s3)

    def __str__(self) -> str:
        parts = [
            f"{kind} {len(names)} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
            for kind, names in vars(self).items()
            if names
        ]
        return "; ".join(parts) or "nothing"


@dataclass(frozen=True)
class Handoff:
    """What a region that stopped writing a project leaves the next home to wait for
    (:mod:`data_plane.handoff`): its heartbeat after the last write, and its group topics'
    end offsets."""

    region: str
    beat: int
    topics: dict[str, int] = field(default_factory=dict)


class RegionClient(abc.ABC):
    """What the control plane asks of a region, about a project by its name there."""

    name: str
    #: Where SDK users reach the region's data plane.
    url: str

    @abc.abstractmethod
    def provision_project(self, project: str) -> ProjectLayout:
        """Make the project exist in the region (idempotent); where its data will live."""

    @abc.abstractmethod
    def delete_project(self, project: str, group_ids: Sequence[str] = (), copy: bool = False) -> list[str]:
        """Fence the project's writers out and remove all of it (idempotent), every copy
        of the topics of its groups and of ``group_ids`` included; its groups' ids (the
        home's answer is what its standbys are given). ``copy``: the region holds a copy
        of a project homed elsewhere (a standby)."""

    @abc.abstractmethod
    def residue(self, project: str, group_ids: Sequence[str] = ()) -> Residue:
        """What of the project (and of ``group_ids``' topics) is still there; used to
        verify deletes."""

    @abc.abstractmethod
    def usage(self, project: str) -> dict[str, int | None]:
        """The project's sizes now (feature_groups, offline_bytes, online_rows)."""

    @abc.abstractmethod
    def home_epoch(self, project: str) -> int | None:
        """The epoch the region takes the project's writes under; None when it does not."""

    @abc.abstractmethod
    def catalog_lag_ms(self) -> dict[str, float]:
        """How far behind each region it subscribes to the region's catalog is."""

    @abc.abstractmethod
    def home(self, project: str, epoch: int, lost: str | None = None) -> dict[str, int | None]:
        """Take the project's writes from now on under ``epoch`` (409 for an older one);
        ``lost``: a failover from that region, whose catalog it stops receiving first.
        Returns, after a failover, until when (epoch ms) each group topic's feature data
        was copied from ``lost``."""

    @abc.abstractmethod
    def unhome(self, project: str) -> Handoff:
        """Stop taking the project's writes; answers once none is under way."""

    @abc.abstractmethod
    def catch_up(self, handoff: Handoff, timeout_s: float) -> int:
        """Wait until the region holds everything ``handoff`` names; its own beat then."""

    @abc.abstractmethod
    def fence(self, project: str, epoch: int) -> int | None:
        """Stop the region taking the project's writes under an epoch older than ``epoch``;
        the older epoch it stopped (None: there was nothing to fence)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class AdminApiRegion(RegionClient):
    """A region reached through its data plane's admin API."""

    def __init__(
        self, name: str, settings: RegionSettings, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.name = name
        self.url = settings.url
        self._http = httpx.Client(
            base_url=f"{(settings.admin_url or settings.url).rstrip('/')}/admin/v1",
            headers={"Authorization": f"Bearer {settings.token.get_secret_value()}"},
            timeout=settings.timeout_seconds,
            transport=transport,
        )

    def provision_project(self, project: str) -> ProjectLayout:
        body = self._call("PUT", f"/projects/{project}")
        return ProjectLayout(
            group_topic_prefix=body["group_topic_prefix"],
            online_key_prefix=body["online_key_prefix"],
            object_prefixes=tuple(body["object_prefixes"]),
        )

    def delete_project(self, project: str, group_ids: Sequence[str] = (), copy: bool = False) -> list[str]:
        params = {"group_id": list(group_ids), "copy": copy}
        return self._call("DELETE", f"/projects/{project}", params=params)["group_ids"]

    def residue(self, project: str, group_ids: Sequence[str] = ()) -> Residue:
        body = self._call("GET", f"/projects/{project}/residue", params={"group_id": list(group_ids)})
        return Residue(postgres=body["postgres"], kafka=body["kafka"], redis=body["redis"], s3=body["s3"])

    def usage(self, project: str) -> dict[str, int | None]:
        body = self._call("GET", f"/projects/{project}/usage")
        return {k: body[k] for k in ("feature_groups", "offline_bytes", "online_rows")}

    def home_epoch(self, project: str) -> int | None:
        return self._call("GET", f"/projects/{project}/home")["epoch"]

    def catalog_lag_ms(self) -> dict[str, float]:
        return self._call("GET", "/lag")["catalog_lag_ms"]

    def home(self, project: str, epoch: int, lost: str | None = None) -> dict[str, int | None]:
        body = self._call("PUT", f"/projects/{project}/home", json={"epoch": epoch, "lost": lost})
        return body.get("copied_until_ms", {})

    def unhome(self, project: str) -> Handoff:
        body = self._call("DELETE", f"/projects/{project}/home")
        return Handoff(self.name, body["beat"], body["topics"])

    def catch_up(self, handoff: Handoff, timeout_s: float, if_linked: bool = False) -> int:
        body = {"source": handoff.region, "beat": handoff.beat, "topics": handoff.topics}
        body |= {"timeout_s": timeout_s, "if_linked": if_linked}
        return self._call("POST", "/catch-up", json=body, timeout=timeout_s + 30)["beat"]

    def fence(self, project: str, epoch: int) -> int | None:
        return self._call("POST", f"/projects/{project}/fence", json={"epoch": epoch})["fenced_epoch"]

    @retry(
        retry=retry_if_exception_type(_CONNECTION_ERRORS),
        stop=stop_after_attempt(3),
        wait=wait_exponential(multiplier=0.2, max=2.0),
        reraise=True,
    )
    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._http.request(method, path, **kwargs)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer (None for 204); a refusal with a Granary error code is raised as
        that error, naming the region; any other failure is a 503 naming the region."""
        try:
            response = self._send(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(
                f"region '{self.name}': its admin API is unreachable ({method} {path}): {exc}"
            ) from exc
        if response.is_success:
            return response.json() if response.content else None
        try:
            body = response.json()
            message = body.get("message", response.text)
        except (ValueError, AttributeError):
            body, message = None, response.text
        if isinstance(body, dict) and body.get("code") in ("fenced", "moved", "timeout"):
            raise error_from_dict({"code": body["code"], "message": f"region '{self.name}': {message}"})
        raise BackendUnavailable(
            f"region '{self.name}' answered {response.status_code} to {method} {path}: {str(message)[:300]}"
        )

    def close(self) -> None:
        self._http.close()


class Regions:
    """The region clients by name, built from settings (tests may pass their own)."""

    def __init__(self, clients: dict[str, RegionClient]) -> None:
        self._clients = clients

    @classmethod
    def from_settings(cls, regions: dict[str, RegionSettings]) -> Regions:
        return cls({name: AdminApiRegion(name, cfg) for name, cfg in regions.items()})

    def names(self) -> list[str]:
        return sorted(self._clients)

    def get(self, name: str) -> RegionClient:
        client = self._clients.get(name)
        if client is None:
            raise NotFound(f"region '{name}' is not known to this control plane; known: {self.names()}")
        return client

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

"""The network between a world's regions and its control plane (``ops/network.sh``, a
Toxiproxy): every link that crosses a region's border is one proxy, named
``REGION-LINK``. A drill cuts links (the proxy closes its connections and refuses new
ones) or slows them (latency, a bandwidth cap, connections that stall), and heals them,
while every process keeps running.

Links of region R: ``R-postgres`` and ``R-kafka`` (R's stores as other regions reach
them), ``R-admin`` (R's admin API as the control plane reaches it),
``R-control-plane`` and ``R-control-plane-redis`` (the control plane as R reaches it).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

#: The links that cross region R's border, by what they carry.
REPLICATION_LINKS = ("postgres", "kafka")
CONTROL_LINKS = ("admin", "control-plane", "control-plane-redis")


@dataclass(frozen=True)
class Network:
    #: Toxiproxy's API.
    url: str

    def _http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)

    def links(self) -> dict[str, dict]:
        with self._http() as http:
            answer = http.get("/proxies")
        answer.raise_for_status()
        return answer.json()

    def address(self, link: str) -> str:
        """Where a link listens (host:port): the address its far side dials."""
        return self.links()[link]["listen"]

    def cut(self, links: list[str]) -> None:
        """Close the links' connections and refuse new ones until :meth:`heal`."""
        with self._http() as http:
            for link in links:
                http.post(f"/proxies/{link}", json={"enabled": False}).raise_for_status()

    def slow(self, links: list[str], latency_ms: int, jitter_ms: int, rate_kb_s: int | None = None) -> None:
        """Add latency (each way) and, given ``rate_kb_s``, a bandwidth cap to the links."""
        with self._http() as http:
            for link in links:
                for stream in ("upstream", "downstream"):
                    toxics = [
                        ("latency", {"latency": latency_ms, "jitter": jitter_ms}),
                        *([("bandwidth", {"rate": rate_kb_s})] if rate_kb_s else []),
                    ]
                    for kind, attributes in toxics:
                        http.post(
                            f"/proxies/{link}/toxics",
                            json={
                                "name": f"{kind}-{stream}",
                                "type": kind,
                                "stream": stream,
                                "attributes": attributes,
                            },
                        ).raise_for_status()

    def heal(self) -> None:
        """Every link enabled and without toxics (``POST /reset``)."""
        with self._http() as http:
            http.post("/reset").raise_for_status()


def border(region: str, kinds: tuple[str, ...] = REPLICATION_LINKS + CONTROL_LINKS) -> list[str]:
    """The names of a region's links of the given kinds."""
    return [f"{region}-{kind}" for kind in kinds]

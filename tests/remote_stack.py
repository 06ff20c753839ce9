"""A real region and the data plane services, for tests of the remote backend.

The region (PostgreSQL, Redis, Kafka, S3) comes from ``ops/region up NAME`` (NAME is
``$GRANARY_TEST_REGION``, default ``test``); it is idempotent, so a region already up
(``make test`` starts one) is reused. If it cannot start, the tests fail with the
script's own output: a missing service is a failure, never a skip.

The services (REST on uvicorn, Arrow Flight, the materializer) run in threads of the
test process on free loopback ports, in a namespace of their own (Kafka topics, S3
keys, Redis keys), so runs never see each other's data.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.fs as pafs
import uvicorn

if TYPE_CHECKING:
    from data_plane.settings import DataPlaneSettings

REPO = Path(__file__).resolve().parent.parent


RESERVED_PORTS = Path("/proc/sys/net/ipv4/ip_local_reserved_ports")


def free_port() -> int:
    """A free port for a test service, then kept from the kernel's own choices (the
    local port of an outgoing connection), as ``ops/`` keeps its services' ports: a
    service that binds it seconds later would otherwise race every client connecting
    meanwhile (a Go build downloading modules makes hundreds). Needs root; without it
    the port is only free."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with contextlib.suppress(OSError):
        current = RESERVED_PORTS.read_text().strip()
        RESERVED_PORTS.write_text(f"{current},{port}" if current else str(port))
    return port


def test_region() -> str:
    return os.environ.get("GRANARY_TEST_REGION", "test")


def region_ports(name: str) -> dict[str, int]:
    """The region's service ports (``ops/region ports``; nothing is started)."""
    ports = subprocess.run(
        ["bash", str(REPO / "ops" / "region"), "ports", name], capture_output=True, text=True, check=True
    ).stdout
    return {service: int(port) for service, port in (line.split() for line in ports.splitlines())}


def region_is_up(name: str) -> bool:
    """``ops/region up`` writes the env file and ``down`` removes it."""
    return (REPO / ".regions" / name / "env").exists()


def region_down(name: str) -> None:
    subprocess.run(["bash", str(REPO / "ops" / "region"), "down", name], capture_output=True, timeout=300)


def region_env(name: str | None = None) -> dict[str, str]:
    """Bring the test region up (idempotent) and return its GRANARY_* variables."""
    name = name or test_region()
    env_file = REPO / ".regions" / name / "env"
    result = subprocess.run(
        ["bash", str(REPO / "ops" / "region"), "up", name],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    if result.returncode != 0 or not env_file.exists():
        tail = (result.stdout + result.stderr)[-3000:]
        raise RuntimeError(f"ops/region up {name} failed (exit {result.returncode}):\n{tail}")
    values = {}
    for line in env_file.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            values[key] = value
    return values


@dataclass
class DataPlane:
    """Running services plus what tests need to reach them."""

    settings: object
    region: object
    api_url: str
    flight_uri: str
    #: The materializer running in a thread (None when started without one).
    materializer: object = None
    _stops: list = field(default_factory=list)

    def new_key(self, project: str | None = None) -> tuple[str, str]:
        project = project or f"t_{uuid.uuid4().hex[:10]}"
        _, key = self.region.keys.create_key(project)
        return project, key

    def login(self, project: str | None = None):
        import granary

        _, key = self.new_key(project)
        return granary.login(host=self.api_url, api_key=key)

    @property
    def filesystem(self) -> pafs.FileSystem:
        return self.region.filesystem

    def stop(self) -> None:
        PLANES.pop(self.api_url, None)
        for stop in reversed(self._stops):
            stop()


def region_settings(env: dict[str, str], **overrides: object) -> DataPlaneSettings:
    """Settings of a data plane on the region's services, in a namespace of its own."""
    from data_plane.settings import DataPlaneSettings

    fields: dict[str, object] = dict(
        pg_url=env["GRANARY_PG_URL"],
        redis_url=env["GRANARY_REDIS_URL"],
        kafka_bootstrap=env["GRANARY_KAFKA_BOOTSTRAP"],
        s3_endpoint=env["GRANARY_S3_ENDPOINT"],
        s3_access_key=env["GRANARY_S3_ACCESS_KEY"],
        s3_secret_key=env["GRANARY_S3_SECRET_KEY"],
        namespace=f"t{uuid.uuid4().hex[:8]}",
    )
    return DataPlaneSettings(**{**fields, **overrides})


def start_data_plane(env: dict[str, str], materializer: bool = True, **overrides: object) -> DataPlane:
    """Start REST, Flight and (optionally) a materializer in threads; returns when ready.

    ``overrides`` replace settings (e.g. ``api_port``, ``namespace``, the control plane's).
    With a control plane, the materializer thread is joined by a usage reporter.
    """
    for key, value in env.items():
        if key.startswith("AWS_"):
            os.environ.setdefault(key, value)
    from data_plane.api.app import create_app
    from data_plane.flight.server import GranaryFlightServer
    from data_plane.ingest.materializer import Materializer
    from data_plane.region import Region

    fields: dict[str, object] = dict(
        api_port=free_port(),
        flight_port=free_port(),
        write_wait_seconds=60,
        max_body_bytes=8 * 1024 * 1024,
    )
    settings = region_settings(env, **{**fields, **overrides})
    api_port = settings.api_port
    region = Region(settings)
    plane = DataPlane(settings, region, f"http://127.0.0.1:{api_port}", settings.flight_uri)

    flight_server = GranaryFlightServer(region, f"grpc://127.0.0.1:{settings.flight_port}")
    threading.Thread(target=flight_server.serve, daemon=True, name="flight").start()
    plane._stops.append(flight_server.shutdown)

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, region),
            host="127.0.0.1",
            port=api_port,
            log_level="warning",
            access_log=False,
        )
    )
    api_thread = threading.Thread(target=server.run, daemon=True, name="api")
    api_thread.start()

    def stop_api() -> None:
        server.should_exit = True
        api_thread.join(10)

    plane._stops.append(stop_api)
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not api_thread.is_alive():
            plane.stop()
            raise RuntimeError("the REST API did not start")
        time.sleep(0.05)

    if materializer:
        stop = threading.Event()
        worker = plane.materializer = Materializer(region)
        threads = [threading.Thread(target=worker.run, args=(stop,), daemon=True, name="materializer")]
        if region.control_plane is not None:
            from data_plane.usage import UsageReporter

            reporter = UsageReporter(region)
            threads.append(threading.Thread(target=reporter.run, args=(stop,), daemon=True, name="usage"))
        for thread in threads:
            thread.start()

        def stop_materializer() -> None:
            stop.set()
            for thread in threads:
                thread.join(10)

        plane._stops.append(stop_materializer)
    plane._stops.insert(0, region.close)
    PLANES[plane.api_url] = plane
    return plane


#: Running data planes by REST URL (for the storage helpers below).
PLANES: dict[str, DataPlane] = {}


def location_files(project, location: str) -> list[str]:
    """Names directly under a stored location of ``project``: a local folder or an
    ``s3://`` prefix, read through the S3 of the project's own data plane (planes of
    other regions, such as the control plane tests', may be running too)."""
    if location.startswith("s3://"):
        fs = PLANES[project.backend.host].filesystem
        path = location.removeprefix("s3://")
        infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
        return [info.base_name for info in infos]
    folder = Path(location)
    return [p.name for p in folder.iterdir()] if folder.exists() else []


def offline_location(project, folder: str) -> str:
    """Where a feature group's offline table lives, for either backend."""
    backend = project.backend
    if hasattr(backend, "home"):
        return str(backend.home / "offline" / project.name / folder)
    plane = PLANES[backend.host]
    return plane.region.s3.uri(plane.settings.namespace, "offline", project.name, folder)

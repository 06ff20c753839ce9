"""Fixtures of the control plane tests: its own PostgreSQL and Redis (ops/ launchers),
a fresh database per test cloned from a migrated template, and a real SMTP sink.

Regions: most tests are about the control plane alone and get :class:`RecordingRegion`,
which only records what it was asked. Tests of what happens in a region take
``admin_plane``: a real data plane (its admin API) on the test region ``cpr``.
"""

from __future__ import annotations

import contextlib
import email
import secrets
import socket
import threading
import time
from email.message import Message

import psycopg
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from control_plane.__main__ import server_config
from control_plane.api.app import create_app
from control_plane.db import open_database
from control_plane.regions import Handoff, ProjectLayout, RegionClient, Regions, Residue
from control_plane.settings import ControlPlaneSettings, Limits, RegionSettings
from granary_core.errors import BackendUnavailable
from tests.control_plane.services import CP_NAME, CP_PG_PORT, CP_REDIS_PORT, Launched, LaunchedRegion

ADMIN_TOKEN = "admin-" + "a" * 32
REGION_TOKEN = "region-" + "r" * 32
#: The data planes' GRANARY_REGION_TOKEN: what the control plane presents on /admin/v1.
REGION_ADMIN_TOKEN = "region-admin-" + "z" * 32
PG_BASE = f"postgresql+psycopg://granary:granary@127.0.0.1:{CP_PG_PORT}"
TEMPLATE = "cp_template"


@pytest.fixture(scope="session")
def cp_postgres():
    launched = Launched("postgres.sh", CP_NAME, CP_PG_PORT).start()
    yield PG_BASE
    launched.stop()


@pytest.fixture(scope="session")
def cp_redis():
    launched = Launched("redis.sh", CP_NAME, CP_REDIS_PORT).start()
    yield f"redis://127.0.0.1:{CP_REDIS_PORT}/0"
    launched.stop()


def _admin_sql(*statements: str) -> None:
    with psycopg.connect(
        f"host=127.0.0.1 port={CP_PG_PORT} user=granary password=granary dbname=granary", autocommit=True
    ) as conn:
        for sql in statements:
            conn.execute(sql)


@pytest.fixture(scope="session")
def cp_template(cp_postgres):
    """One migrated database per session; each test clones it (fast: a file copy)."""
    _admin_sql(
        f"UPDATE pg_database SET datistemplate = false WHERE datname = '{TEMPLATE}'",
        f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)",
        f"CREATE DATABASE {TEMPLATE}",
    )
    engine = open_database(f"{cp_postgres}/{TEMPLATE}")
    engine.dispose()
    # no connections (autovacuum included) may hold it while tests clone it
    _admin_sql(f"ALTER DATABASE {TEMPLATE} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
    return TEMPLATE


@contextlib.contextmanager
def _clone(base: str, template: str):
    name = f"cp_t_{secrets.token_hex(6)}"
    for attempt in range(20):
        try:
            _admin_sql(f"CREATE DATABASE {name} TEMPLATE {template}")
            break
        except psycopg.errors.ObjectInUse:  # a clone being dropped still holds the template
            if attempt == 19:
                raise
            time.sleep(0.1)
    yield f"{base}/{name}"
    _admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def cp_database(cp_postgres, cp_template):
    with _clone(cp_postgres, cp_template) as url:
        yield url


class Mailbox:
    """What the SMTP sink received; ``wait_for`` blocks until a message to an address arrives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._cond = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        message = email.message_from_bytes(envelope.content)
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()
        return "250 OK"

    def wait_for(self, to: str, after: int = 0, timeout: float = 10.0) -> Message:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in self.messages[after:] if m["To"] == to]
                if found:
                    return found[-1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no mail to {to} within {timeout}s; got {len(self.messages)} others"
                    )
                self._cond.wait(left)

    def count(self) -> int:
        with self._cond:
            return len(self.messages)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_sink():
    """A real SMTP server (aiosmtpd) on a loopback port, in this process."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller.port, mailbox
    controller.stop()


@pytest.fixture
def mailbox(smtp_sink) -> Mailbox:
    return smtp_sink[1]


@pytest.fixture
def cp_settings(cp_database, cp_redis, smtp_sink) -> ControlPlaneSettings:
    return make_settings(cp_database, cp_redis, smtp_sink[0])


def make_settings(database_url: str, redis_url: str, smtp_port: int) -> ControlPlaneSettings:
    return ControlPlaneSettings(
        database_url=database_url,
        redis_url=redis_url,
        admin_token=ADMIN_TOKEN,
        region_token=REGION_TOKEN,
        regions={
            "local": RegionSettings(url="http://127.0.0.1:8600", token=REGION_ADMIN_TOKEN),
            "eu-1": RegionSettings(url="http://127.0.0.1:8601", token=REGION_ADMIN_TOKEN),
        },
        sandbox_region="local",
        smtp_port=smtp_port,
        redis_prefix=f"cptest:{secrets.token_hex(4)}",
        login_limits=Limits(
            per_address_client=3, per_address=6, per_client=10, overall=100, window_seconds=900
        ),
        # fixtures sign many users up from one client
        signup_limits=Limits(
            per_address_client=3, per_address=3, per_client=100, overall=1000, window_seconds=3600
        ),
        argon2_time_cost=1,
        argon2_memory_kib=8192,
        argon2_parallelism=1,
    )


class Clock:
    """Seconds since the epoch, moved by hand: throttle windows pass without sleeping."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingRegion(RegionClient):
    """A region that records what the control plane asked of it, and holds nothing."""

    def __init__(self, name: str, url: str) -> None:
        self.name, self.url = name, url
        self.projects: dict[str, str] = {}
        #: The epoch each project homed here is written under.
        self.homes: dict[str, int] = {}
        #: The regions whose handoff this one was asked to catch up with, in order.
        self.caught_up: list[str] = []
        #: False: the region is dark, and a fence or a lag read fails as it would.
        self.reachable = True

    def provision_project(self, project: str) -> ProjectLayout:
        self.projects[project] = "active"
        return ProjectLayout("test.fg.", f"test.{project}:", (f"test/offline/{project}/",))

    def delete_project(self, project: str, group_ids=(), copy: bool = False) -> list[str]:
        self.projects[project] = "deleted copy" if copy else "deleted"
        return list(group_ids)

    def residue(self, project: str, group_ids=()) -> Residue:
        return Residue()

    def usage(self, project: str) -> dict[str, int | None]:
        return {"feature_groups": 0, "offline_bytes": 0, "online_rows": 0}

    def home_epoch(self, project: str) -> int | None:
        return self.homes.get(project)

    def catalog_lag_ms(self) -> dict[str, float]:
        self._answer()
        return {}

    def _answer(self) -> None:
        if not self.reachable:
            raise BackendUnavailable(f"region '{self.name}': its admin API is unreachable")

    def home(self, project: str, epoch: int, lost: str | None = None) -> dict[str, int | None]:
        self.homes[project] = epoch
        return {}

    def unhome(self, project: str) -> Handoff:
        self.homes.pop(project, None)
        return Handoff(self.name, beat=1)

    def catch_up(self, handoff: Handoff, timeout_s: float, if_linked: bool = False) -> int:
        self.caught_up.append(handoff.region)
        return 1

    def fence(self, project: str, epoch: int) -> int | None:
        self._answer()
        current = self.homes.get(project)
        if current is None or current >= epoch:
            return None
        del self.homes[project]
        return current


def recording_regions(settings: ControlPlaneSettings) -> Regions:
    return Regions({name: RecordingRegion(name, cfg.url) for name, cfg in settings.regions.items()})


class LiveServer:
    """The control plane under uvicorn on a loopback port, in a thread (like httpx's tests),
    configured as ``python -m control_plane`` configures it. Its regions are recording
    ones unless ``real_regions`` (their admin APIs, as the settings name them) or
    ``regions`` are given."""

    def __init__(
        self,
        settings: ControlPlaneSettings,
        clock: Clock | None = None,
        mailer=None,
        real_regions: bool = False,
        regions: Regions | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if regions is None and not real_regions:
            regions = recording_regions(settings)
        app = self.app = create_app(settings, clock=self.clock, mailer=mailer, regions=regions)
        config = server_config(app, settings, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on {self.url}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    def settle(self) -> None:
        settle(self.app)


@pytest.fixture(scope="module")
def live_server(cp_postgres, cp_template, cp_redis, smtp_sink):
    """One real HTTP server (and database) per test module."""
    with _clone(cp_postgres, cp_template) as url, LiveServer(make_settings(url, cp_redis, smtp_sink[0])) as s:
        yield s


@pytest.fixture
def serve(cp_postgres, cp_template, cp_redis, smtp_sink):
    """Start a live server of its own (fresh database and Redis prefix) with settings
    changed by keyword; validators run, as at the entrypoint."""
    with contextlib.ExitStack() as stack:

        def start(mailer=None, **overrides) -> LiveServer:
            url = stack.enter_context(_clone(cp_postgres, cp_template))
            base = make_settings(url, cp_redis, smtp_sink[0]).model_dump()
            settings = ControlPlaneSettings(**{**base, **overrides})
            return stack.enter_context(LiveServer(settings, mailer=mailer))

        yield start


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(cp_settings, clock):
    with TestClient(create_app(cp_settings, clock=clock, regions=recording_regions(cp_settings))) as c:
        yield c


@pytest.fixture(scope="session")
def cpr_env():
    """The test region ``cpr`` (PostgreSQL, Kafka, Redis, S3), brought up once."""
    region = LaunchedRegion()
    env = region.up()
    yield env
    region.down()


@pytest.fixture(scope="session")
def admin_plane(cpr_env):
    """A real data plane on ``cpr`` (REST with its admin API; no materializer), in a
    namespace of its own."""
    from tests.remote_stack import start_data_plane

    plane = start_data_plane(cpr_env, materializer=False, region_token=REGION_ADMIN_TOKEN)
    yield plane
    plane.stop()


def with_region(settings: ControlPlaneSettings, plane, **region: object) -> ControlPlaneSettings:
    """``settings`` whose regions are ``plane``'s data plane (``region`` overrides fields)."""
    real = RegionSettings(**{"url": plane.api_url, "token": REGION_ADMIN_TOKEN, **region})
    return settings.model_copy(update={"regions": {"local": real, "eu-1": real}})


def settle(app_or_client) -> None:
    """Deliver the region outbox until nothing is due: what project creates and deletes
    promised their region is done (or has failed) when this returns."""
    app = getattr(app_or_client, "app", app_or_client)
    app.state.services.dispatcher.run_until_idle()


def token_from(message: Message, command: str = "granary verify --token ") -> str:
    """The token after ``command`` in a mail: verify, accept-invitation or password-reset."""
    body = message.get_payload(decode=True).decode()
    return body[body.index(command) + len(command) :].split()[0]


def add_user(client, mailbox, admin: dict[str, str], email: str, password: str, **invite) -> dict[str, str]:
    """Invite ``email`` as ``admin``, accept from the mail with ``password``, log in: its key."""
    before = mailbox.count()
    r = client.post("/v1/users", json={"email": email, **invite}, headers=admin)
    assert r.status_code == 202, r.text
    token = token_from(mailbox.wait_for(email, after=before), "granary accept-invitation --token ")
    r = client.post("/v1/invitations/accept", json={"token": token, "password": password})
    assert r.status_code == 200, r.text
    r = client.post("/v1/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return bearer(r.json()["api_key"])


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
REGION = {"Authorization": f"Bearer {REGION_TOKEN}"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def make_tenant(client, name: str, *, projects: int = 3, **plan) -> dict:
    """An enterprise tenant; returns the creation body (with the admin key)."""
    body = {
        "name": name,
        "plan": {
            "home_region": "local",
            "allowed_regions": ["local", "eu-1"],
            "quotas": {"projects": projects},
            **plan,
        },
        "admin_email": f"admin@{name}.example.com",
    }
    r = client.post("/v1/admin/tenants", json=body, headers=ADMIN)
    assert r.status_code == 201, r.text
    return r.json()

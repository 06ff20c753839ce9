"""The managed service end to end: control plane and a data plane on a real region.

The control plane runs under uvicorn with its own PostgreSQL and Redis; the data plane
(REST, Flight, materializer, usage reporter) runs on the test region (PostgreSQL,
Kafka, Redis, S3) and asks the control plane about every key it does not issue
itself. Everything here goes through HTTP or Flight, as a user's notebook would.
Each security test prints how many attempts it made.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pandas as pd
import pyarrow.flight as flight
import pyarrow.fs as pafs
import pytest
import redis
from kafka import KafkaAdminClient
from sqlalchemy import text

import granary
from control_plane.settings import RegionSettings
from granary.cloud import ControlPlaneClient
from granary_core import errors
from tests.control_plane.conftest import (
    ADMIN,
    REGION_ADMIN_TOKEN,
    REGION_TOKEN,
    LiveServer,
    _clone,
    add_user,
    bearer,
    make_settings,
    token_from,
)
from tests.remote_stack import free_port, start_data_plane

PASSWORD = "correct-horse-battery"


@dataclasses.dataclass
class Managed:
    cp: LiveServer
    plane: object
    mailbox: object
    http: httpx.Client

    def tenant(self, name: str, **quotas) -> dict:
        """An enterprise tenant homed in the test region; returns its admin's headers."""
        body = {
            "name": f"{name}-{secrets.token_hex(3)}",
            "plan": {"home_region": "local", "quotas": {"projects": 3, **quotas}},
            "admin_email": f"admin@{name}-{secrets.token_hex(3)}.example.com",
        }
        r = self.http.post("/v1/admin/tenants", json=body, headers=ADMIN)
        assert r.status_code == 201, r.text
        return {"name": body["name"], "admin": bearer(r.json()["admin_key"]["api_key"])}

    def project(self, admin: dict, name: str = "fraud") -> dict:
        """A project, provisioned in the region (``ready``)."""
        r = self.http.post("/v1/projects", json={"name": name}, headers=admin)
        assert r.status_code == 201, r.text
        self.cp.settle()
        r = self.http.get(f"/v1/projects/{name}", headers=admin)
        assert r.json()["status"] == "ready", r.text
        return r.json()

    def key(self, headers: dict, project: str, scopes: list[str] | None = None) -> str:
        body = {"name": "sdk", "project": project, "scopes": scopes or ["*"]}
        r = self.http.post("/v1/keys", json=body, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()["api_key"]

    def dp(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.plane.api_url, headers=bearer(key), timeout=60)


@pytest.fixture(scope="module")
def managed(region_env, cp_postgres, cp_template, cp_redis, smtp_sink):
    with managed_service(region_env, cp_postgres, cp_template, cp_redis, smtp_sink) as service:
        yield service


@contextlib.contextmanager
def managed_service(
    region_env, cp_postgres, cp_template, cp_redis, smtp_sink, region_names: tuple[str, ...] = ("local",)
) -> Iterator[Managed]:
    """The control plane and a data plane on the test region (other modules' fixtures too).

    The control plane knows the data plane under each of ``region_names``: tests of
    placement in two regions get real provisioning in both without a second data plane."""
    api_port, namespace = free_port(), f"m{uuid.uuid4().hex[:8]}"
    region = RegionSettings(url=f"http://127.0.0.1:{api_port}", token=REGION_ADMIN_TOKEN)
    with _clone(cp_postgres, cp_template) as url:
        settings = make_settings(url, cp_redis, smtp_sink[0])
        settings = settings.model_copy(update={"regions": dict.fromkeys(region_names, region)})
        with LiveServer(settings, real_regions=True) as cp:
            plane = start_data_plane(
                region_env,
                api_port=api_port,
                namespace=namespace,
                region_token=REGION_ADMIN_TOKEN,
                control_plane_url=cp.url,
                control_plane_token=REGION_TOKEN,
                control_plane_redis_url=cp_redis,
                control_plane_redis_prefix=settings.redis_prefix,
                # long enough that only the control plane's access messages can explain
                # a refusal within the tests' deadlines
                key_cache_seconds=300,
                usage_report_seconds=0.3,
            )
            assert plane.region._access_events.wait_ready(10)
            http = httpx.Client(base_url=cp.url, timeout=60)
            yield Managed(cp, plane, smtp_sink[1], http)
            http.close()
            plane.stop()


def _frame(n: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "card_id": range(start, start + n),
            "ts": pd.date_range("2026-01-01", periods=n, freq="h", tz="UTC"),
            "amount": [float(i) for i in range(start, start + n)],
        }
    )


def _group(fs, name: str = "cards", online: bool = True):
    return fs.create_feature_group(
        name, version=1, primary_key=["card_id"], event_time="ts", online_enabled=online
    )


def test_sandbox_signup_to_sdk(managed):
    """Sign up, verify, log in, create a project and a key, then use the SDK against it."""
    email = f"me-{secrets.token_hex(3)}@example.com"
    with ControlPlaneClient(managed.cp.url) as cloud:
        before = managed.mailbox.count()
        cloud.signup(email, PASSWORD)
        cloud.verify(token_from(managed.mailbox.wait_for(email, after=before)), PASSWORD)
        user_key = cloud.login(email, PASSWORD)["api_key"]
    with ControlPlaneClient(managed.cp.url, user_key) as cloud:
        project = cloud.create_project("fraud")
        project_key = cloud.create_key(name="notebook", project="fraud")["api_key"]
    assert project["data_plane_url"] == managed.plane.api_url

    # through the control plane's directory: the SDK finds the project's region itself
    fs = granary.login(host=managed.cp.url, api_key=user_key, project="fraud").get_feature_store()
    cards = _group(fs)
    cards.insert(_frame(5))
    assert sorted(cards.read()["amount"]) == [0.0, 1.0, 2.0, 3.0, 4.0]

    # straight to the data plane with the project-bound key: same project, same data
    fs2 = granary.login(host=managed.plane.api_url, api_key=project_key).get_feature_store()
    query = fs2.get_feature_group("cards", 1).select_all()
    view = fs2.create_feature_view("cards_view", version=1, query=query)
    assert len(view.training_data()[0]) == 5  # training data over Arrow Flight
    view.init_serving()
    assert view.get_feature_vector({"card_id": 3}, return_type="dict")["amount"] == 3.0

    # the sandbox plan's usage shows what the data plane reported and metered
    with ControlPlaneClient(managed.cp.url, user_key) as cloud:
        deadline = time.monotonic() + 30
        while True:
            usage = cloud._call("GET", "/v1/projects/fraud/usage")
            if usage["gauges"]["online_rows"] == 5 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert usage["gauges"]["feature_groups"] == 1
    assert usage["gauges"]["online_rows"] == 5
    assert usage["gauges"]["offline_bytes"] > 0
    assert usage["metered"]["online_reads_per_second"] >= 1
    assert usage["metered"]["ingestion_rows_per_second"] == 5


def test_roles_are_enforced_by_the_data_plane(managed):
    tenant = managed.tenant("roles")
    project = managed.project(tenant["admin"])
    owner_key = managed.key(tenant["admin"], "fraud")
    fs = granary.login(host=managed.plane.api_url, api_key=owner_key).get_feature_store()
    _group(fs).insert(_frame(3))

    viewer_email = f"viewer-{secrets.token_hex(3)}@example.com"
    add_user(managed.http, managed.mailbox, tenant["admin"], viewer_email, PASSWORD)
    r = managed.http.put(
        f"/v1/projects/fraud/members/{viewer_email}", json={"role": "viewer"}, headers=tenant["admin"]
    )
    assert r.status_code == 200, r.text
    viewer_login = managed.http.post("/v1/login", json={"email": viewer_email, "password": PASSWORD})
    viewer_key = viewer_login.json()["api_key"]
    read_only = managed.key(tenant["admin"], "fraud", scopes=["project:read"])

    scope = project["metadata_scope"]
    base = f"/api/v1/projects/{scope}"
    writes = [
        ("POST", f"{base}/feature-groups", {"name": "x", "version": 1, "primary_key": ["k"]}),
        ("DELETE", f"{base}/feature-groups/cards/versions/1", None),
        ("POST", f"{base}/feature-views", {"name": "v", "version": 1, "query": {}}),
    ]
    attempts = 0
    for key in (viewer_key, read_only):
        with managed.dp(key) as dp:
            assert dp.get(f"{base}/feature-groups/cards").status_code == 200  # reading is allowed
            for method, path, body in writes:
                r = dp.request(method, path, json=body)
                attempts += 1
                assert r.status_code == 403, (method, path, r.status_code, r.text)
                assert r.json()["code"] == "permission_denied"
        viewer_fs = granary.login(host=managed.plane.api_url, api_key=key, project=scope).get_feature_store()
        with pytest.raises(errors.PermissionDenied):
            viewer_fs.get_feature_group("cards", 1).insert(_frame(2, start=100))
        attempts += 1
    assert sorted(fs.get_feature_group("cards", 1).read()["card_id"]) == [0, 1, 2]
    print(f"\nviewer and read-only writes at the data plane: {attempts} attempts, all refused")


def test_a_tenant_never_reaches_another_tenants_project(managed):
    a, b = managed.tenant("alpha"), managed.tenant("beta")
    a_project, b_project = managed.project(a["admin"]), managed.project(b["admin"], "ledger")
    a_key, b_key = managed.key(a["admin"], "fraud"), managed.key(b["admin"], "ledger")
    a_fs = granary.login(host=managed.plane.api_url, api_key=a_key).get_feature_store()
    _group(a_fs).insert(_frame(4))
    b_fs = granary.login(host=managed.plane.api_url, api_key=b_key).get_feature_store()
    _group(b_fs).insert(_frame(2, start=50))

    target = a_project["metadata_scope"]
    base = f"/api/v1/projects/{target}"
    attempts = 0
    # B's own admin key and B's project key, against A's project, over REST
    for key in (b_key, b["admin"]["Authorization"].removeprefix("Bearer ")):
        with managed.dp(key) as dp:
            for method, path, body in [
                ("GET", f"{base}/feature-groups", None),
                ("GET", f"{base}/feature-groups/cards", None),
                ("POST", f"{base}/feature-groups", {"name": "evil", "version": 1, "primary_key": ["k"]}),
                ("DELETE", f"{base}/feature-groups/cards/versions/1", None),
                ("POST", f"{base}/queries/sql", {"query": {}}),
                ("GET", f"/api/v1/whoami?project={target}", None),
            ]:
                r = dp.request(method, path, json=body)
                attempts += 1
                assert r.status_code == 403, (method, path, r.status_code, r.text)
        # ... and over Arrow Flight
        client = flight.FlightClient(managed.plane.flight_uri)
        options = flight.FlightCallOptions(headers=[(b"authorization", f"Bearer {key}".encode())])
        ticket = flight.Ticket(json.dumps({"kind": "read", "project": target, "name": "cards", "version": 1}))
        with pytest.raises(flight.FlightUnauthorizedError):
            client.do_get(ticket, options).read_all()
        attempts += 1
        client.close()
    with pytest.raises(errors.PermissionDenied):
        granary.login(host=managed.plane.api_url, api_key=b_key, project=target)
    attempts += 1
    assert sorted(a_fs.get_feature_group("cards", 1).read()["card_id"]) == [0, 1, 2, 3]
    assert b_project["metadata_scope"] != target
    print(f"\ncross-tenant attempts at the data plane (REST and Flight): {attempts}, all refused")


def test_revocation_and_suspension_take_effect_at_once(managed):
    tenant = managed.tenant("gamma")
    project = managed.project(tenant["admin"])
    key = managed.key(tenant["admin"], "fraud")
    spare = managed.key(tenant["admin"], "fraud")
    whoami = f"/api/v1/whoami?project={project['metadata_scope']}"
    with managed.dp(key) as dp, managed.dp(spare) as dp_spare:
        assert dp.get(whoami).status_code == 200  # now cached for key_cache_seconds (300 s)
        assert dp_spare.get(whoami).status_code == 200
        key_id = key.split("_")[1]
        assert managed.http.delete(f"/v1/keys/{key_id}", headers=tenant["admin"]).status_code == 204
        refused_after = _refused_within(dp, whoami, 401, seconds=2.0)
        assert dp_spare.get(whoami).status_code == 200  # the other key still works

        r = managed.http.post(f"/v1/admin/tenants/{tenant['name']}/suspend", headers=ADMIN)
        assert r.status_code == 200, r.text
        suspended_after = _refused_within(dp_spare, whoami, 403, seconds=2.0)
        assert dp_spare.get(whoami).json()["code"] == "tenant_suspended"
        client = flight.FlightClient(managed.plane.flight_uri)
        options = flight.FlightCallOptions(headers=[(b"authorization", f"Bearer {spare}".encode())])
        ticket = flight.Ticket(
            json.dumps({"kind": "read", "project": project["metadata_scope"], "name": "x", "version": 1})
        )
        with pytest.raises(flight.FlightUnauthorizedError, match="suspended"):
            client.do_get(ticket, options).read_all()
        client.close()

        resumed = managed.http.post(f"/v1/admin/tenants/{tenant['name']}/resume", headers=ADMIN)
        assert resumed.status_code == 200
        assert dp_spare.get(whoami).status_code == 200
    print(
        f"\nrevoked key refused after {refused_after * 1000:.0f} ms, suspended tenant after "
        f"{suspended_after * 1000:.0f} ms (key cache: 300 s)"
    )


def _refused_within(client: httpx.Client, path: str, status: int, seconds: float) -> float:
    started = time.monotonic()
    while True:
        code = client.get(path).status_code
        if code == status:
            return time.monotonic() - started
        assert time.monotonic() - started < seconds, f"still {code} after {seconds} s"
        time.sleep(0.01)


def _read_once_refilled(view, seconds: float) -> list[float]:
    """The amounts of the first read of card 1 that the bucket lets through again, polled."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return [row["amount"] for row in view.get_feature_vectors([{"card_id": 1}], return_type="dict")]
        except errors.RateLimitExceeded:
            assert time.monotonic() < deadline, f"online reads still refused after {seconds} s"
            time.sleep(0.5)


def _quota_error(exc_info, quota: str) -> None:
    error = exc_info.value
    assert error.quota == quota, error
    assert error.limit is not None and error.current is not None, error


def test_quotas_are_enforced_where_the_work_happens(managed):
    tenant = managed.tenant(
        "delta",
        feature_groups_per_project=2,
        online_reads_per_second=4,
        ingestion_rows_per_second=2,
        online_rows=12,
    )
    managed.project(tenant["admin"])
    key = managed.key(tenant["admin"], "fraud")
    fs = granary.login(host=managed.plane.api_url, api_key=key).get_feature_store()
    attempts = 0

    # feature groups per project: 403, and nothing is created
    cards = _group(fs)
    _group(fs, "merchants", online=False)
    with pytest.raises(errors.QuotaExceeded) as exc_info:
        _group(fs, "third")
    attempts += 1
    _quota_error(exc_info, "feature_groups_per_project")
    assert sorted(g.name for g in fs.get_feature_groups()) == ["cards", "merchants"]

    # ingestion rate: 2 rows/s with a burst of 2. A batch larger than the burst gets
    # through on a full bucket and leaves it 8 rows in debt (4 s), so the next insert
    # is refused and writes nothing
    cards.insert(_frame(10))
    with pytest.raises(errors.RateLimitExceeded) as exc_info:
        cards.insert(_frame(1, start=10))
    attempts += 1
    _quota_error(exc_info, "ingestion_rows_per_second")
    assert len(cards.read()) == 10

    # online rows: 10 stored, limit 12; once reported, 3 more would pass it (sizes are
    # checked before rates, so the empty bucket does not matter)
    _wait_for_gauge(managed, tenant, "online_rows", 10)
    with pytest.raises(errors.QuotaExceeded) as exc_info:
        cards.insert(_frame(3, start=10))
    attempts += 1
    _quota_error(exc_info, "online_rows")
    assert len(cards.read()) == 10

    # online reads: 4 keys/s. A batch of 40 passes on a full bucket and leaves it 36
    # keys (9 s) in debt, so the next read is refused however slowly the machine runs
    view = fs.create_feature_view("v", version=1, query=cards.select_all())
    view.init_serving()
    view.get_feature_vectors([{"card_id": i % 10} for i in range(40)])
    with pytest.raises(errors.RateLimitExceeded) as exc_info:
        view.get_feature_vectors([{"card_id": 1}])
    attempts += 1
    _quota_error(exc_info, "online_reads_per_second")
    assert _read_once_refilled(view, seconds=60) == [1.0]
    print(f"\nover-quota attempts at the data plane: {attempts}, all refused with the quota named")


def test_offline_bytes_quota(managed):
    tenant = managed.tenant("epsilon", offline_bytes=1)
    managed.project(tenant["admin"])
    key = managed.key(tenant["admin"], "fraud")
    cards = _group(granary.login(host=managed.plane.api_url, api_key=key).get_feature_store(), online=False)
    with pytest.raises(errors.QuotaExceeded) as exc_info:
        cards.insert(_frame(3))
    _quota_error(exc_info, "offline_bytes")
    assert cards.commit_details() == {}  # nothing was written


def _wait_for_gauge(managed: Managed, tenant: dict, metric: str, value: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        usage = managed.http.get("/v1/projects/fraud/usage", headers=tenant["admin"]).json()
        if usage["gauges"].get(metric) == value:
            return
        assert time.monotonic() < deadline, f"{metric} never reported as {value}: {usage}"
        time.sleep(0.1)


def test_an_unreachable_control_plane_is_a_503_and_operator_keys_still_work(managed, region_env, cp_redis):
    tenant = managed.tenant("zeta")
    project = managed.project(tenant["admin"])
    key = managed.key(tenant["admin"], "fraud")
    orphan = start_data_plane(
        region_env,
        materializer=False,
        control_plane_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        control_plane_token=REGION_TOKEN,
        control_plane_redis_url=cp_redis,
    )
    try:
        with httpx.Client(base_url=orphan.api_url, headers=bearer(key), timeout=30) as dp:
            r = dp.get(f"/api/v1/whoami?project={project['metadata_scope']}")
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "backend_unavailable"
        assert "control plane is unreachable" in r.json()["message"]
        operator_fs = orphan.login().get_feature_store()  # the region's own keys need no control plane
        assert operator_fs.get_feature_groups() == []
    finally:
        orphan.stop()


def _stored(plane, region_env, project: str, topics: list[str]) -> dict[str, list[str]]:
    """What of ``project`` the region's four services hold, looked up in them directly."""
    ns = plane.settings.namespace
    with plane.region.metadata.connect() as c:
        rows = c.execute(
            text(
                "SELECT 'feature_groups/' || fg.name FROM feature_groups fg JOIN projects p "
                "ON p.id = fg.project_id WHERE p.name = :p UNION ALL "
                "SELECT 'api_keys/' || key_id FROM api_keys WHERE project = :p UNION ALL "
                "SELECT 'projects/' || status FROM projects WHERE name = :p AND status <> 'deleted'"
            ),
            {"p": project},
        )
        postgres = [r[0] for r in rows]
    online = redis.Redis.from_url(region_env["GRANARY_REDIS_URL"])
    keys = [k.decode() for k in online.scan_iter(match=f"{ns}.{project}:*", count=1000)]
    online.close()
    kafka = KafkaAdminClient(bootstrap_servers=region_env["GRANARY_KAFKA_BOOTSTRAP"])
    live_topics = sorted(set(kafka.list_topics()) & set(topics))
    kafka.close()
    objects = []
    for folder in ("offline", "training_datasets"):
        selector = pafs.FileSelector(
            f"{plane.settings.s3_bucket}/{ns}/{folder}/{project}", recursive=True, allow_not_found=True
        )
        objects += [i.path for i in plane.filesystem.get_file_info(selector)]
    return {"postgres": postgres, "kafka": live_topics, "redis": keys, "s3": objects}


class _Writer(threading.Thread):
    """Inserts rows with ``wait=False`` into a group until stopped, counting answers."""

    def __init__(self, group) -> None:
        super().__init__(daemon=True)
        self.group, self.accepted, self.refused = group, 0, 0
        self.stop = threading.Event()

    def run(self) -> None:
        start = 100
        while not self.stop.is_set():
            try:
                self.group.insert(_frame(50, start=start), wait=False)
                self.accepted += 1
            except errors.GranaryError:
                self.refused += 1
            start += 50

    def until(self, done, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while not done() and self.is_alive():
            assert time.monotonic() < deadline, f"accepted={self.accepted} refused={self.refused}"
            time.sleep(0.01)


def test_deleting_a_project_while_it_is_written_leaves_nothing(managed, region_env):
    """A writer inserts with ``wait=False`` through the SDK while the project is deleted
    through the control plane. Once the materializer has let go of the project's topics,
    nothing of it may be left in PostgreSQL, Kafka, Redis or S3; several rounds."""
    tenant = managed.tenant("doomed")
    for round_ in range(3):
        name = f"doomed{round_}"
        project = managed.project(tenant["admin"], name)
        key = managed.key(tenant["admin"], name)
        cards = _group(granary.login(host=managed.plane.api_url, api_key=key).get_feature_store())
        cards.insert(_frame(5))  # materialized: its topic, Delta table and online rows exist
        topics = [f"{managed.plane.settings.namespace}.fg.{cards.id}"]
        writer = _Writer(cards)
        writer.start()
        writer.until(lambda w=writer: w.accepted >= 5)  # records in flight before the deletion
        deleted = managed.http.delete(f"/v1/projects/{name}", headers=tenant["admin"])
        managed.cp.settle()  # the region has deleted the project
        writer.until(lambda w=writer: w.refused >= 3)  # and writes still arriving after it
        writer.stop.set()
        writer.join(30)
        assert deleted.status_code == 202, deleted.text

        # the materializer lets go of a topic once Kafka no longer lists it; whatever it
        # would still write of the project, it has written by then
        deadline = time.monotonic() + 45
        while set(topics) & set(managed.plane.materializer.owned_offsets()) and time.monotonic() < deadline:
            time.sleep(0.2)
        stored = _stored(managed.plane, region_env, project["metadata_scope"], topics)
        print(
            f"\nround {round_}: inserts accepted={writer.accepted} refused={writer.refused}; left: "
            + ", ".join(f"{service}={len(names)}" for service, names in stored.items())
        )
        assert stored == {"postgres": [], "kafka": [], "redis": [], "s3": []}, stored

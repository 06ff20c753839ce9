"""A standby region serves what its home region wrote: the catalog arrives by logical
replication, the rows by MirrorMaker 2, and the standby's own materializer writes them
into its offline table and online store. Two real regions (``ops/world``)."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

import granary
from data_plane.layout import Layout
from replication import catalog as replication
from replication.catalog import RegionDatabase
from replication.kafka_mirror import Cluster, MirrorFlow, MirrorMaker
from tenancy.store import KeyStore
from tests.remote_stack import REPO

NAMESPACE = "granary"  # the world's data planes run with the default namespace


def _secrets() -> dict[str, str]:
    """The tokens ``ops/world`` made for its services."""
    cp = os.environ.get("GRANARY_TEST_WORLD_CP", "testcp")
    return dict(line.split("=", 1) for line in (REPO / ".regions" / cp / "world.secrets").read_text().split())


def _key(db: RegionDatabase, project: str) -> str:
    """An operator key of ``project`` in one region (keys are region-local)."""
    return KeyStore(db.engine).create_key(project)[1]


@pytest.fixture(scope="module")
def linked(world):
    """The standby subscribed to the home's catalog, and the home's group topics mirrored."""
    home = RegionDatabase(world.home, world.env[world.home]["GRANARY_PG_URL"])
    standby = RegionDatabase(world.standby, world.env[world.standby]["GRANARY_PG_URL"])
    replication.reseed(standby, home)  # a fresh copy, whatever an earlier run left
    flow = MirrorFlow(
        source=Cluster(world.home, world.env[world.home]["GRANARY_KAFKA_BOOTSTRAP"]),
        target=Cluster(world.standby, world.env[world.standby]["GRANARY_KAFKA_BOOTSTRAP"]),
        topics=Layout(NAMESPACE).group_topic_pattern,
    )
    mirror_maker = MirrorMaker(world.standby, [flow])
    mirror_maker.start()
    yield home, standby
    mirror_maker.stop()
    replication.unsubscribe(standby, home.region_id)
    home.dispose()
    standby.dispose()


def _frame(start: int, n: int, spend_offset: float = 0.0) -> pd.DataFrame:
    users = range(start, start + n)
    return pd.DataFrame(
        {
            "user": users,
            "ts": pd.to_datetime(["2026-01-01"] * n, utc=True) + pd.to_timedelta(users, unit="s"),
            "spend": [float(u) + spend_offset for u in users],
        }
    )


def _until(what: str, check, seconds: float = 90.0):
    """``check()``'s first answer that is not None, polled within a bounded time."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value is not None:
            return value
        assert time.monotonic() < deadline, f"{what} within {seconds:.0f} s"
        time.sleep(0.5)


def test_rows_written_in_the_home_region_are_served_by_the_standby(world, linked):
    home, standby = linked
    project = f"p_{uuid.uuid4().hex[:12]}"
    token = _secrets()["REGION_ADMIN_TOKEN"]
    provisioned = httpx.put(
        f"{world.planes[world.home]}/admin/v1/projects/{project}",
        headers={"authorization": f"Bearer {token}"},
    )
    assert provisioned.status_code == 200, provisioned.text

    fs = granary.login(host=world.planes[world.home], api_key=_key(home, project)).get_feature_store()
    fg = fs.get_or_create_feature_group(
        name="spend", version=1, primary_key=["user"], event_time="ts", online_enabled=True
    )
    fg.insert(_frame(0, 50), wait=True)
    fg.insert(_frame(25, 50, spend_offset=1000), wait=True)  # 25 updated, 25 new
    fs.create_feature_view(name="spend_view", version=1, query=fg.select_all())
    replication.wait_caught_up(standby, home)

    started = time.monotonic()
    remote = granary.login(host=world.planes[world.standby], api_key=_key(standby, project))
    standby_fs = remote.get_feature_store()
    standby_fg = standby_fs.get_feature_group("spend", 1)

    def all_rows() -> pd.DataFrame | None:
        frame = standby_fg.read()
        return frame if len(frame) == 75 else None

    rows = _until("the standby's offline table has all 75 rows", all_rows)
    offline_s = time.monotonic() - started
    view = standby_fs.get_feature_view("spend_view", 1)
    view.init_serving()

    def newest() -> list | None:
        vectors = view.get_feature_vectors([{"user": 30}, {"user": 74}])
        return vectors if [v[-1] if v else None for v in vectors] == [1030.0, 1074.0] else None

    vectors = _until("the standby's online store has the newest rows", newest)
    print(f"standby caught up: offline {offline_s:.1f} s, then online")
    assert standby_fg.id == fg.id
    expected = {u: float(u) for u in range(25)} | {u: u + 1000.0 for u in range(25, 75)}
    assert rows.set_index("user")["spend"].to_dict() == expected
    assert [v[-1] for v in vectors] == [1030.0, 1074.0]
    with standby.engine.connect() as c:  # the standby materialized the mirrored topic itself
        topics = c.scalars(
            sa.text("SELECT topic FROM ingest_checkpoints WHERE topic LIKE :t"),
            {"t": f"{world.home}.{NAMESPACE}.fg.{fg.id}"},
        ).all()
    assert topics == [f"{world.home}.{NAMESPACE}.fg.{fg.id}"]


def _until_ready(cp: httpx.Client, headers: dict, project: str) -> dict:
    def ready() -> dict | None:
        body = cp.get(f"/v1/projects/{project}", headers=headers).json()
        return body if body["status"] == "ready" else None

    return _until(f"project {project} provisioned", ready)


def _epochs(db: RegionDatabase, group_id: str) -> list[int]:
    with db.engine.connect() as c:
        return c.scalars(
            sa.text("SELECT DISTINCT epoch FROM commits WHERE feature_group_id = :g ORDER BY epoch"),
            {"g": group_id},
        ).all()


class Writer:
    """One client inserting a row at a time through the SDK, logged in at the control
    plane, recording each insert acknowledged and each failure, until stopped."""

    def __init__(self, connect, first_user: int = 1000) -> None:
        self.acknowledged: list[int] = []
        #: (start, end, user, error) of each insert that did not succeed
        self.failures: list[tuple[float, float, int, str]] = []
        self._connect, self._user, self._last = connect, first_user, first_user + 5000
        self._stop = threading.Event()
        self._progress = threading.Condition()
        self._thread = threading.Thread(target=self._run)

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        group = self._connect()
        while not self._stop.is_set() and self._user < self._last:
            started = time.monotonic()
            try:
                group.insert(_frame(self._user, 1), wait=False)
            except Exception as exc:  # any failure is the test's finding
                self.failures.append((started, time.monotonic(), self._user, repr(exc)))
            else:
                with self._progress:
                    self.acknowledged.append(self._user)
                    self._progress.notify_all()
            self._user += 1

    def wait_for(self, n: int, failures: int = 0) -> None:
        """Until ``n`` inserts are acknowledged (bounded); more than ``failures`` failures
        end the wait."""
        with self._progress:
            done = self._progress.wait_for(
                lambda: len(self.acknowledged) >= n or len(self.failures) > failures, timeout=300
            )
        assert done and len(self.failures) <= failures, self.failures


def _tenant_project(world, cp: httpx.Client, admin: dict, project: str) -> tuple[str, str, dict]:
    """A new enterprise tenant allowed both regions, with ``project`` provisioned in the
    home region: (tenant, its admin key, the project as the control plane shows it)."""
    tenant = f"t{uuid.uuid4().hex[:10]}"
    created = cp.post(
        "/v1/admin/tenants",
        json={
            "name": tenant,
            "plan": {"home_region": world.home, "allowed_regions": [world.home, world.standby]},
            "admin_email": f"admin@{tenant}.example.com",
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    key = created.json()["admin_key"]["api_key"]
    owner = {"authorization": f"Bearer {key}"}
    assert cp.post("/v1/projects", json={"name": project}, headers=owner).status_code == 201
    return tenant, key, _until_ready(cp, owner, project)


@pytest.fixture(scope="module")
def both_ways(world, linked):
    """``linked``, and the home subscribed to the standby's catalog and mirroring its
    group topics too, as a real pair of regions is."""
    home, standby = linked
    replication.reseed(home, standby)  # a fresh copy, whatever an earlier run left
    flow = MirrorFlow(
        source=Cluster(world.standby, world.env[world.standby]["GRANARY_KAFKA_BOOTSTRAP"]),
        target=Cluster(world.home, world.env[world.home]["GRANARY_KAFKA_BOOTSTRAP"]),
        topics=Layout(NAMESPACE).group_topic_pattern,
    )
    mirror_maker = MirrorMaker(world.home, [flow])
    mirror_maker.start()
    yield home, standby
    mirror_maker.stop()
    replication.unsubscribe(home, standby.region_id)


def _converged(world, key: str, scope: str, expected: set[int], unknown: set[int] = frozenset()) -> dict:
    """Wait until every region serves the same rows of the tenant's ``spend`` group:
    offline, every acknowledged user (and of the ``unknown`` ones, any); online, the
    newest offline row of each key. Returns the offline rows, per region."""
    tables = {
        region: _serves(region, plane, key, scope, expected, unknown)
        for region, plane in world.planes.items()
    }
    first, *others = tables.values()
    assert all(other == first for other in others), "offline tables differ between regions"
    return tables


def _serves(region: str, plane: str, key: str, scope: str, expected: set[int], unknown: set[int]) -> dict:
    """One region's offline rows (user: spend) once they and its online store are current."""
    fs = granary.login(host=plane, api_key=key, project=scope).get_feature_store()
    fg = fs.get_feature_group("spend", 1)

    def offline() -> pd.DataFrame | None:
        rows = fg.read()
        users = set(rows["user"])
        return rows if users >= expected and users - expected <= unknown else None

    rows = _until(f"{region}'s offline table holds every acknowledged row", offline)
    newest = rows.sort_values("ts").groupby("user").last()["spend"].to_dict()
    users = sorted(newest)
    view = fs.get_feature_view("spend_view", 1)
    view.init_serving()

    def online() -> dict | None:
        vectors = view.get_feature_vectors([{"user": u} for u in users], allow_missing=True)
        served = {u: (v[-1] if v else None) for u, v in zip(users, vectors, strict=True)}
        return served if served == newest else None

    _until(f"{region}'s online store serves the newest offline row of each key", online)
    return rows.set_index("user")["spend"].sort_index().to_dict()


def _move(world, cp: httpx.Client, admin: dict, tenant: str, kind: str) -> dict:
    """The operator moves the tenant from the home region to the standby: what moved."""
    moved = cp.post(
        f"/v1/admin/tenants/{tenant}/{kind}",
        json={"from_region": world.home, "to_region": world.standby},
        headers=admin,
    )
    assert moved.status_code == 200, moved.text
    [move] = moved.json()["moved"]
    return move


def test_a_switchover_through_the_control_plane_loses_no_acknowledged_write(world, both_ways):
    """A tenant's writer keeps inserting through the SDK (logged in at the control plane)
    while the operator switches the tenant over to the standby: every insert is either
    acknowledged or still waiting, none fails, and every acknowledged row is in the new
    home afterwards; the new home took its own writes under the next epoch."""
    _, standby = both_ways
    admin = {"authorization": f"Bearer {_secrets()['ADMIN_TOKEN']}"}
    cp = httpx.Client(base_url=world.control_plane, timeout=300)
    tenant, key, before = _tenant_project(world, cp, admin, "moves")
    assert (before["region"], before["epoch"]) == (world.home, 0)

    def group():
        fs = granary.login(host=world.control_plane, api_key=key, project="moves").get_feature_store()
        return fs.get_or_create_feature_group(
            name="spend", version=1, primary_key=["user"], event_time="ts", online_enabled=True
        )

    fg = group()
    fg.insert(_frame(0, 10), wait=True)
    store = granary.login(host=world.control_plane, api_key=key, project="moves").get_feature_store()
    store.create_feature_view(name="spend_view", version=1, query=fg.select_all())
    with Writer(group) as writer:
        writer.wait_for(20)
        move = _move(world, cp, admin, tenant, "switchover")
        writer.wait_for(len(writer.acknowledged) + 20)  # the writer goes on, in the new home
    print(
        f"switchover: drain {move['drain_ms']:.0f} ms, catch-up {move['catch_up_ms']:.0f} ms, "
        f"writes refused {move['writes_refused_ms']:.0f} ms; {len(writer.acknowledged)} inserts acknowledged"
    )
    assert writer.failures == []
    assert (move["epoch"], move["to_region"]) == (1, world.standby)
    owner = {"authorization": f"Bearer {key}"}
    after = cp.get("/v1/projects/moves", headers=owner).json()
    assert (after["region"], after["epoch"]) == (world.standby, 1)

    moved_fg = group()
    moved_fg.insert(_frame(9000, 1), wait=True)  # behind every acknowledged row in the new home
    assert set(moved_fg.read()["user"]) == {*range(10), *writer.acknowledged, 9000}
    # the new home applied the old home's writes (epoch 0) and took its own under epoch 1;
    # the old home, which applies the new one's mirrored writes too, refuses writes (below)
    assert _epochs(standby, fg.id) == [0, 1]
    _converged(world, key, before["metadata_scope"], {*range(10), *writer.acknowledged, 9000})
    with pytest.raises(granary.errors.Moved):  # the old home refuses a writer that goes there directly
        old = granary.login(host=world.planes[world.home], api_key=key, project=before["metadata_scope"])
        old.get_feature_store().get_feature_group("spend", 1).insert(_frame(9001, 1))


def test_a_failover_through_the_control_plane_moves_the_writer_to_the_standby(world, both_ways):
    """The home region's data plane is killed (SIGKILL) under a running writer; the
    operator fails the tenant over. The writer waits, then goes on in the standby without
    a failed insert. The home's Kafka outlived its data plane, so MirrorMaker copied every
    record it had acknowledged: nothing is lost, and the standby converges."""
    home, standby = both_ways
    admin = {"authorization": f"Bearer {_secrets()['ADMIN_TOKEN']}"}
    cp = httpx.Client(base_url=world.control_plane, timeout=300)
    tenant, key, project = _tenant_project(world, cp, admin, "outage")

    def group():
        fs = granary.login(host=world.control_plane, api_key=key, project="outage").get_feature_store()
        return fs.get_or_create_feature_group(
            name="spend", version=1, primary_key=["user"], event_time="ts", online_enabled=True
        )

    fg = group()
    fg.insert(_frame(0, 10), wait=True)
    store = granary.login(host=world.control_plane, api_key=key, project="outage").get_feature_store()
    store.create_feature_view(name="spend_view", version=1, query=fg.select_all())
    pid = int((REPO / ".regions" / world.home / "data-plane" / "pid").read_text())
    try:
        with Writer(group) as writer:
            writer.wait_for(20)
            killed = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            at_kill = len(writer.acknowledged)
            move = _move(world, cp, admin, tenant, "failover")
            failed_over = time.monotonic()
            writer.wait_for(at_kill + 20, failures=10)  # resumed in the standby
    finally:
        world.restore()
    # the old home came back still homing the project under epoch 0; the control plane's
    # fence reaches it the moment it answers
    region = {"authorization": f"Bearer {_secrets()['REGION_ADMIN_TOKEN']}"}
    scope = project["metadata_scope"]

    def fenced() -> dict | None:
        answer = httpx.get(f"{world.planes[world.home]}/admin/v1/projects/{scope}/home", headers=region)
        return answer.json() if answer.status_code == 200 and not answer.json()["home"] else None

    fenced_after = time.monotonic()
    _until("the returned region fenced by the control plane", fenced, seconds=60)
    print(f"fenced {time.monotonic() - fenced_after:.1f} s after the region was back")
    with standby.engine.connect() as c:  # the standby stopped receiving the lost home's catalog
        enabled = c.scalar(
            sa.text("SELECT subenabled FROM pg_subscription WHERE subname = :s"),
            {"s": replication.subscription_name(world.home)},
        )
    assert enabled is False
    print(
        f"failover: writes refused {move['writes_refused_ms']:.0f} ms after the failover call; "
        f"catalog lag then {move['lag_ms']} ms; {len(writer.acknowledged)} inserts acknowledged"
    )
    # Inserts cut by the kill fail with their outcome unknown (the region died with the
    # request on the wire); none that started after the failover fails: they go on in
    # the standby. Nothing acknowledged is lost either way (below).
    print(f"cut by the outage: {[(user, round(start - killed, 3)) for start, _, user, _ in writer.failures]}")
    assert all(
        start < failed_over and "may or may not have taken effect" in error
        for start, _, _, error in writer.failures
    ), writer.failures
    assert (move["kind"], move["epoch"], move["to_region"]) == ("failover", 1, world.standby)
    assert move["lag_ms"] is not None and move["lag_ms"] >= 0
    # the feature data's bound: until when the home's topic was copied into the new home
    [(topic, copied_ms)] = move["copied_until_ms"].items()
    assert topic == f"{world.home}.{NAMESPACE}.fg.{fg.id}"
    assert copied_ms is not None and copied_ms <= time.time() * 1000

    moved_fg = group()
    moved_fg.insert(_frame(9000, 1), wait=True)
    expected = {*range(10), *writer.acknowledged, 9000}
    unknown = {user for _, _, user, _ in writer.failures}  # may or may not have been written

    def converged() -> set | None:
        rows = set(moved_fg.read()["user"])
        return rows if rows >= expected and rows - expected <= unknown else None

    _until("every acknowledged row in the new home", converged)
    assert _epochs(standby, fg.id) == [0, 1]

    # failback: the old region returns as a standby, re-seeded, and catches up
    routing = cp.get(f"/v1/admin/tenants/{tenant}/routing", headers=admin).json()["projects"]
    assert [(p["region"], p["epoch"], p["unfenced_regions"]) for p in routing] == [(world.standby, 1, [])]
    lost = replication.failback(home, [standby])
    assert not any(lost.values()), lost  # the home's Kafka outlived its data plane: nothing lost
    replication.wait_caught_up(home, standby, timeout_s=120)  # its re-seeded copy landed
    _converged(world, key, scope, expected, unknown)
    assert replication.check([home, standby]) == []

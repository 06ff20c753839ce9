"""Catalog replication between two regions, each its own PostgreSQL 15 cluster: both
ways without loops, lag from heartbeats, a planned switchover, a failover and a
failback, checked through the rows each region ends up with."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from data_plane import publication
from data_plane.catalog import Catalog
from data_plane.metadata.db import MIGRATIONS, upgrade
from replication import catalog as replication
from replication.catalog import RegionDatabase, ReplicationError
from tenancy import migrate
from tests import remote_stack
from tests.remote_stack import REPO, region_ports


@dataclass
class Cluster:
    name: str
    port: int

    def ctl(self, action: str) -> None:
        subprocess.run(
            ["bash", str(REPO / "ops" / "postgres.sh"), action, self.name, str(self.port)],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://granary:granary@127.0.0.1:{self.port}/{database}"


@pytest.fixture(scope="module")
def clusters() -> Iterator[tuple[Cluster, Cluster]]:
    """Two PostgreSQL clusters beside the test region's (its port + 20 and + 22: + 10 to
    + 12 are the Kubernetes tests' API server and etcd)."""
    region = remote_stack.test_region()
    base = region_ports(region)["postgres"]
    pair = (Cluster(f"{region}-cat-a", base + 20), Cluster(f"{region}-cat-b", base + 22))
    for cluster in pair:
        cluster.ctl("start")
        _clear(cluster)  # what an interrupted run left
    yield pair
    for cluster in pair:
        cluster.ctl("stop")


def _database(cluster: Cluster, region_id: str, revision: str = "head") -> RegionDatabase:
    name = f"catalog_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    db = RegionDatabase(region_id, cluster.url(name))
    if revision == "head":
        upgrade(db.engine)
    else:
        migrate.upgrade(db.engine, MIGRATIONS, revision=revision)
    return db


def _unlink(db: RegionDatabase) -> None:
    """Drop the database's subscriptions, leaving their slots (dropped with the databases)."""
    with db.autocommit.connect() as c:
        names = c.scalars(
            sa.text(
                "SELECT subname FROM pg_subscription "
                "WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        ).all()
        for name in names:
            c.execute(sa.text(f"ALTER SUBSCRIPTION {name} DISABLE"))
            c.execute(sa.text(f"ALTER SUBSCRIPTION {name} SET (slot_name = NONE)"))
            c.execute(sa.text(f"DROP SUBSCRIPTION {name}"))


def _clear(cluster: Cluster) -> None:
    admin = sa.create_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        names = c.scalars(sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'catalog_%'")).all()
    admin.dispose()
    for name in names:
        db = RegionDatabase("leftover", cluster.url(name))
        _unlink(db)
        _drop(cluster, db)


def _drop(cluster: Cluster, db: RegionDatabase) -> None:
    database = sa.make_url(db.url).database
    db.dispose()
    admin = sa.create_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        for slot in c.scalars(
            sa.text("SELECT slot_name FROM pg_replication_slots WHERE database = :d"), {"d": database}
        ).all():
            c.execute(sa.text("SELECT pg_drop_replication_slot(:s)"), {"s": slot})
        c.execute(sa.text(f'DROP DATABASE "{database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def regions(clusters) -> Iterator[tuple[RegionDatabase, RegionDatabase]]:
    a, b = _database(clusters[0], "ra"), _database(clusters[1], "rb")
    yield a, b
    clusters[0].ctl("start")  # the failover test stops it
    _unlink(a)
    _unlink(b)
    _drop(clusters[0], a)
    _drop(clusters[1], b)


def _provision(db: RegionDatabase, project: str) -> str:
    """What the admin API does in a project's home region: home it, then create it."""
    from data_plane.metadata.models import ProjectRecord
    from granary_core.ids import new_id

    project_id = new_id()
    with db.engine.begin() as c:
        publication.home(c, db.region_id, [project_id])
        c.execute(sa.insert(ProjectRecord).values(id=project_id, name=project))
    return project_id


def _group(db: RegionDatabase, project: str, name: str, version: int = 1) -> str:
    info = Catalog(db.engine, project).create_group(
        name=name, version=version, primary_key=["k"], location=f"{project}/{name}_v{version}"
    )
    return info.id


def _groups(db: RegionDatabase, project: str) -> set[tuple[str, str, int, str]]:
    with db.engine.connect() as c:
        return {
            tuple(r)
            for r in c.execute(
                sa.text(
                    "SELECT fg.id, fg.name, fg.version, fg.description FROM feature_groups fg "
                    "JOIN projects p ON p.id = fg.project_id WHERE p.name = :p"
                ),
                {"p": project},
            )
        }


def _link_both_ways(a: RegionDatabase, b: RegionDatabase) -> None:
    replication.subscribe(b, a)
    replication.subscribe(a, b)
    replication.wait_caught_up(b, a)
    replication.wait_caught_up(a, b)


def test_two_regions_homing_different_projects_replicate_both_ways_without_loops(regions):
    a, b = regions
    _provision(a, "pa")
    _provision(b, "pb")
    _link_both_ways(a, b)
    _provision(a, "pa2")  # homed after the link was made
    ga, gb = _group(a, "pa", "clicks"), _group(b, "pb", "orders")
    ga2 = _group(a, "pa2", "views")
    replication.wait_caught_up(b, a)
    replication.wait_caught_up(a, b)
    assert _groups(a, "pa") == _groups(b, "pa") == {(ga, "clicks", 1, "")}
    assert _groups(b, "pa2") == {(ga2, "views", 1, "")}
    assert _groups(a, "pb") == _groups(b, "pb") == {(gb, "orders", 1, "")}
    with a.engine.begin() as c:  # one change, and its row version in its home region
        c.execute(sa.text("UPDATE feature_groups SET description = 'once' WHERE id = :g"), {"g": ga})
        before = c.scalar(sa.text("SELECT xmin::text FROM feature_groups WHERE id = :g"), {"g": ga})
    for _ in range(3):  # a loop would send the change back to a, as a new row version there
        replication.wait_caught_up(b, a)
        replication.wait_caught_up(a, b)
    with a.engine.connect() as c:
        after = c.scalar(sa.text("SELECT xmin::text FROM feature_groups WHERE id = :g"), {"g": ga})
    assert _groups(b, "pa") == {(ga, "clicks", 1, "once")}
    assert after == before
    assert replication.check([a, b]) == []


def test_regions_at_different_schema_revisions_are_not_linked(clusters, regions):
    a, _ = regions
    old = _database(clusters[1], "rold", revision="0010")
    try:
        with pytest.raises(ReplicationError, match="migrate both"):
            replication.subscribe(old, a)
        with old.engine.connect() as c:
            assert c.scalar(sa.text("SELECT count(*) FROM pg_subscription")) == 0
    finally:
        _unlink(old)
        _drop(clusters[1], old)


def test_links_report_lag_from_heartbeats_and_no_errors(regions):
    a, b = regions
    _link_both_ways(a, b)
    samples = []
    for _ in range(20):
        replication.wait_caught_up(b, a)
        (link,) = replication.links(b)
        samples.append(link.lag_ms)
    (link,) = replication.links(b)
    samples.sort()
    print(f"lag_ms p50={samples[10]:.1f} max={samples[-1]:.1f}")
    assert link.source == "ra" and link.enabled and link.streaming
    assert (link.apply_errors, link.sync_errors) == (0, 0)
    assert all(s is not None and s >= 0 for s in samples)


def test_a_misconfigured_double_home_is_reported(regions):
    a, b = regions
    project_id = _provision(a, "twice")
    with b.engine.begin() as c:
        publication.home(c, b.region_id, [project_id])
    problems = replication.check([a, b])
    print(problems)
    assert any("homed in both ra and rb" in p for p in problems)


def test_planned_switchover_moves_a_project_losing_nothing(regions):
    a, b = regions
    _provision(a, "moving")
    _link_both_ways(a, b)
    before = {_group(a, "moving", f"g{i}") for i in range(5)}
    (moved,) = replication.switchover(["moving"], old=a, new=b)
    after = {_group(b, "moving", f"h{i}") for i in range(5)}
    with b.engine.begin() as c:  # the new home changes a row the old home made
        c.execute(sa.text("UPDATE feature_groups SET description = 'b' WHERE name = 'g0'"))
    replication.wait_caught_up(a, b)
    replication.wait_caught_up(b, a)
    in_a, in_b = _groups(a, "moving"), _groups(b, "moving")
    print(f"groups a={len(in_a)} b={len(in_b)}")
    assert in_a == in_b and {g[0] for g in in_a} == before | after
    assert "b" in {g[3] for g in in_a if g[1] == "g0"}
    with a.engine.connect() as ca, b.engine.connect() as cb:
        assert moved not in publication.homed(ca) and moved in publication.homed(cb)
    assert replication.check([a, b]) == []


def test_failover_then_failback_reports_the_lost_writes_and_converges(clusters, regions):
    a, b = regions
    _provision(a, "fo")
    _link_both_ways(a, b)
    kept = {_group(a, "fo", f"k{i}") for i in range(3)}
    replication.wait_caught_up(b, a)
    with b.autocommit.connect() as c:  # a partition: b stops hearing a ...
        c.execute(sa.text(f"ALTER SUBSCRIPTION {replication.subscription_name('ra')} DISABLE"))
    lost = {_group(a, "fo", f"lost{i}") for i in range(2)}  # ... while a still takes writes
    clusters[0].ctl("stop")  # then a is gone
    replication.failover(["fo"], lost=a, new=b)
    after = {_group(b, "fo", f"new{i}") for i in range(2)}
    clusters[0].ctl("start")  # a returns: as a standby, never as a second writer
    report = replication.failback(a, [b])
    print(f"lost={ {t: len(ids) for t, ids in report.items()} }")
    replication.wait_caught_up(a, b)
    replication.wait_caught_up(b, a)
    in_a, in_b = _groups(a, "fo"), _groups(b, "fo")
    assert in_a == in_b and {g[0] for g in in_b} == kept | after
    assert set(report["feature_groups"]) == lost  # reported, and gone everywhere
    assert report["projects"] == [] and not lost & {g[0] for g in in_a}
    with a.engine.connect() as ca, b.engine.connect() as cb:
        assert publication.homed(ca) == [] and len(publication.homed(cb)) == 1
    assert replication.check([a, b]) == []


REGION_TOKEN = "catalog-replication-token-0123456789"


def test_a_group_made_through_one_regions_api_is_served_by_the_other(regions, region_env):
    """Two data planes, each on its own region's PostgreSQL: the project is provisioned
    through the home region's admin API (which homes it), the group made with the SDK
    there; the other region's API answers for the same group, same id."""
    import httpx

    from tests.remote_stack import start_data_plane

    a, b = regions
    planes = [
        start_data_plane(
            region_env, materializer=False, pg_url=db.url, region_id=db.region_id, region_token=REGION_TOKEN
        )
        for db in (a, b)
    ]
    try:
        provisioned = httpx.put(
            f"{planes[0].api_url}/admin/v1/projects/shop", headers={"authorization": f"Bearer {REGION_TOKEN}"}
        )
        assert provisioned.status_code == 200, provisioned.text
        _link_both_ways(a, b)
        home = planes[0].login("shop").get_feature_store()
        made = home.get_or_create_feature_group(
            name="baskets", version=1, primary_key=["k"], description="made in ra"
        )
        replication.wait_caught_up(b, a)
        seen = planes[1].login("shop").get_feature_store().get_feature_group("baskets", 1)
        metrics = httpx.get(f"{planes[1].api_url}/metrics").text
    finally:
        for plane in planes:
            plane.stop()
    assert (seen.id, seen.description) == (made.id, "made in ra")
    lag = [line for line in metrics.splitlines() if line.startswith("granary_catalog_lag_ms{")]
    print(lag)
    assert len(lag) == 1 and lag[0].startswith('granary_catalog_lag_ms{source="ra"} ')
    assert float(lag[0].split()[-1]) >= 0


def test_the_operator_commands_link_report_and_move(regions):
    import sys

    a, b = regions
    _provision(a, "cli")
    specs = [f"{db.region_id}={db.url}" for db in (a, b)]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "replication", "catalog", *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
        )

    linked = run("link", *specs)
    assert linked.returncode == 0, linked.stderr
    replication.wait_caught_up(b, a)
    status = run("status", *specs)
    moved = run("switchover", "cli", "--from", specs[0], "--to", specs[1])
    checked = run("check", *specs)
    print(linked.stdout, status.stdout, moved.stdout, checked.stdout)
    assert set(linked.stdout.split("\n")) >= {"ra <- rb", "rb <- ra"}
    assert "rb <- ra: flowing" in status.stdout and "0 apply / 0 sync errors" in status.stdout
    assert moved.returncode == 0 and "cli: home ra -> rb, nothing lost" in moved.stdout, moved.stderr
    assert (checked.returncode, checked.stdout.strip()) == (0, "no problems")
    with b.engine.connect() as c:
        assert len(publication.homed(c)) == 1

"""Catalog replication between regions: subscriptions, project moves and checks.

Each region publishes the catalog rows of the projects it homes
(:mod:`data_plane.publication`); this module wires regions together and moves projects
between them, talking to each region's PostgreSQL as its operator. Nothing here is done
by hand: ``subscribe`` creates what a link needs, ``check`` says what is wrong, and the
moves follow the procedures of ``replication/README.md``.

Names: region ``eu``'s subscription to ``us`` is ``granary_catalog_from_us``; its slot,
which lives in ``us``, is ``granary_catalog_us_to_eu`` (a slot name is unique per
publisher, and several regions subscribe to one).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine, create_engine, make_url, text

from data_plane import heartbeat, publication
from data_plane.metadata.models import catalog_tables, project_column
from data_plane.publication import slot_name, subscription_name

MIGRATION_TABLE = "alembic_version"
#: pg_subscription is shared by a cluster's databases: only this database's count.
_HERE = "subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())"


class ReplicationError(RuntimeError):
    """A replication step that cannot go on; the message says what to do."""


@dataclass
class RegionDatabase:
    """One region's metadata database, as its operator reaches it.

    ``url`` is a SQLAlchemy URL of a role that may create subscriptions (a superuser in
    PostgreSQL 15); ``peer_url`` the address other regions' subscriptions use to reach
    this one (the same unless they see it elsewhere).
    """

    region_id: str
    url: str
    peer_url: str | None = None
    _engines: list[Engine] = field(default_factory=list, repr=False)

    @cached_property
    def engine(self) -> Engine:
        engine = create_engine(self.url, pool_pre_ping=True)
        self._engines.append(engine)
        return engine

    @cached_property
    def autocommit(self) -> Engine:
        """For CREATE/DROP SUBSCRIPTION, which may not run inside a transaction."""
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        self._engines.append(engine)
        return engine

    def conninfo(self) -> str:
        """The libpq connection string a subscriber uses to reach this region."""
        url = make_url(self.peer_url or self.url)
        parts = {
            "host": url.host,
            "port": url.port or 5432,
            "dbname": url.database,
            "user": url.username,
            "password": url.password,
        }
        return " ".join(f"{k}={v}" for k, v in parts.items() if v is not None)

    def dispose(self) -> None:
        for engine in self._engines:
            engine.dispose()


def _revision(db: RegionDatabase) -> str | None:
    with db.engine.connect() as connection:
        return connection.scalar(text(f"SELECT version_num FROM {MIGRATION_TABLE}"))


def subscribe(target: RegionDatabase, source: RegionDatabase, copy_data: bool = True) -> None:
    """Make ``target`` receive the catalog rows ``source`` publishes (idempotent).

    Both must be migrated to the same revision first: DDL is not replicated, and a row
    arriving for a column the subscriber lacks stops the subscription.
    ``copy_data`` copies the rows published now before streaming changes; a region
    re-seeded from ``source`` wants it, a link re-made after a move must not (its rows
    are here already).
    """
    ours, theirs = _revision(target), _revision(source)
    if ours != theirs:
        raise ReplicationError(
            f"region {target.region_id} is at schema revision {ours} and {source.region_id} at {theirs}: "
            "migrate both (python -m data_plane migrate) before their rows flow"
        )
    with source.engine.begin() as connection:
        # made (or made again) here, by the operator who names the source region: the
        # publication carries that region's heartbeat, whatever wrote it last
        publication.publish(connection, source.region_id, create=True)
    name, slot = subscription_name(source.region_id), slot_name(source.region_id, target.region_id)
    with target.autocommit.connect() as connection:
        if connection.scalar(
            text(f"SELECT 1 FROM pg_subscription WHERE subname = :s AND {_HERE}"), {"s": name}
        ):
            connection.execute(text(f"ALTER SUBSCRIPTION {name} ENABLE"))
            return
        connection.execute(
            text(
                f"CREATE SUBSCRIPTION {name} CONNECTION '{source.conninfo()}' "
                f"PUBLICATION {publication.PUBLICATION} WITH (slot_name = '{slot}', "
                f"copy_data = {str(copy_data).lower()})"
            )
        )


def unsubscribe(target: RegionDatabase, source_id: str, source_alive: bool = True) -> None:
    """Stop ``target`` receiving from ``source_id``; drop the subscription (idempotent).

    With the source gone, the slot in it cannot be dropped from here: the subscription
    lets go of it first, and :func:`drop_slot` removes it once the source is back.
    """
    name = subscription_name(source_id)
    with target.autocommit.connect() as connection:
        if not connection.scalar(
            text(f"SELECT 1 FROM pg_subscription WHERE subname = :s AND {_HERE}"), {"s": name}
        ):
            return
        if not source_alive:
            connection.execute(text(f"ALTER SUBSCRIPTION {name} DISABLE"))
            connection.execute(text(f"ALTER SUBSCRIPTION {name} SET (slot_name = NONE)"))
        connection.execute(text(f"DROP SUBSCRIPTION {name}"))


def drop_slot(db: RegionDatabase, slot: str) -> bool:
    """Drop a slot of ``db`` that no subscriber reads (a slot nobody reads holds WAL until
    the disk fills); whether there was one. A slot being read is an error: its
    subscription must be dropped instead."""
    with db.engine.begin() as connection:
        active = connection.scalar(
            text("SELECT active FROM pg_replication_slots WHERE slot_name = :s"), {"s": slot}
        )
        if active is None:
            return False
        if active:
            raise ReplicationError(f"slot {slot} in {db.region_id} is in use; drop its subscription instead")
        connection.execute(text("SELECT pg_drop_replication_slot(:s)"), {"s": slot})
    return True


# --- barriers ---------------------------------------------------------------------------
def _synced(target: RegionDatabase, source_id: str) -> bool:
    """Every table of ``target``'s subscription to ``source_id`` has its initial copy."""
    with target.engine.connect() as connection:
        return not connection.scalar(
            text(
                "SELECT count(*) FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid "
                f"WHERE s.subname = :s AND s.{_HERE} AND r.srsubstate <> 'r'"
            ),
            {"s": subscription_name(source_id)},
        )


def wait_caught_up(
    target: RegionDatabase,
    source: RegionDatabase,
    timeout_s: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Return once ``target`` has applied everything ``source`` committed before this
    call: every table's initial copy is done and a fresh beat of ``source`` has arrived.
    The beat's number."""
    wanted = heartbeat.beat(source.engine, source.region_id)
    deadline = clock() + timeout_s
    while True:
        seen = heartbeat.beats(target.engine).get(source.region_id)
        if seen is not None and seen.seq >= wanted and _synced(target, source.region_id):
            return wanted
        if clock() > deadline:
            raise ReplicationError(
                f"region {target.region_id} has not applied {source.region_id}'s beat {wanted} "
                f"within {timeout_s:.0f} s (it has {None if seen is None else seen.seq}); "
                "see `replication check`"
            )
        sleep(0.02)


# --- moves ------------------------------------------------------------------------------
def _project_ids(db: RegionDatabase, projects: Iterable[str]) -> list[str]:
    names = list(projects)
    with db.engine.connect() as connection:
        found = dict(
            connection.execute(text("SELECT name, id FROM projects WHERE name = ANY(:n)"), {"n": names}).all()
        )
    missing = [n for n in names if n not in found]
    if missing:
        raise ReplicationError(f"region {db.region_id} has no project {', '.join(missing)}")
    return [found[n] for n in names]


def switchover(projects: Iterable[str], old: RegionDatabase, new: RegionDatabase) -> list[str]:
    """Planned move of the projects' home from ``old`` to ``new``, losing nothing.

    The caller has stopped writes to the projects in ``old`` (the routing epoch). Then:
    wait until ``new`` has everything ``old`` committed; wait until ``old`` has what
    ``new`` itself published (so no change ``new`` applied from ``old`` is still
    undecoded there when its filter changes); ``old`` stops publishing the projects,
    ``new`` starts. Rows are not rewritten, so nothing conflicts. Returns the ids moved.
    """
    ids = _project_ids(old, projects)
    wait_caught_up(new, old)
    wait_caught_up(old, new)
    with old.engine.begin() as connection:
        publication.unhome(connection, old.region_id, ids)
    with new.engine.begin() as connection:
        publication.home(connection, new.region_id, ids)
    return ids


def failover(projects: Iterable[str], lost: RegionDatabase, new: RegionDatabase) -> list[str]:
    """Unplanned move: ``lost`` is unreachable; ``new`` homes the projects from now.

    ``new`` drops its subscription to ``lost`` (letting go of the slot it cannot reach;
    :func:`failback` drops it when ``lost`` returns),
    so nothing ``lost`` committed after its last beat seen here will ever arrive: those
    writes are lost, bounded by the lag at the moment of loss (read the beat before).
    """
    ids = _project_ids(new, projects)
    unsubscribe(new, lost.region_id, source_alive=False)
    with new.engine.begin() as connection:
        publication.home(connection, new.region_id, ids)
    return ids


def reseed(target: RegionDatabase, source: RegionDatabase) -> dict[str, list[str]]:
    """Throw away ``target``'s copy of the projects ``source`` homes and copy them anew.

    For a link whose history cannot be trusted (after a failover one side holds writes
    the other never saw). The rows are deleted with triggers off, so ``target``'s own
    state that points at them (commits of its Delta tables) stays; then the link is
    made again with a fresh copy. Until the copy lands ``target`` lacks those projects.
    Returns, per table, the ids ``target`` had that ``source`` has not: writes lost.
    """
    unsubscribe(target, source.region_id)
    with source.engine.connect() as connection:
        theirs = publication.homed(connection)
        present = {
            table: set(
                connection.scalars(
                    text(f"SELECT id FROM {table} WHERE {project_column(table)} = ANY(:p)"), {"p": theirs}
                )
            )
            for table in catalog_tables()
        }
    lost: dict[str, list[str]] = {}
    with target.engine.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        for table in reversed(catalog_tables()):
            deleted = connection.scalars(
                text(f"DELETE FROM {table} WHERE {project_column(table)} = ANY(:p) RETURNING id"),
                {"p": theirs},
            )
            lost[table] = sorted(set(deleted) - present[table])
        # the copy brings the source's beat again
        connection.execute(
            text(f"DELETE FROM {publication.HEARTBEATS} WHERE region_id = :r"), {"r": source.region_id}
        )
    subscribe(target, source, copy_data=True)
    return lost


def failback(old: RegionDatabase, active: Iterable[RegionDatabase]) -> dict[str, list[str]]:
    """Bring a region back after a failover, as a standby of the projects it lost.

    ``old`` may hold writes that never left it, and its publication may still name
    projects homed elsewhere now. It first stops homing every project another region
    homes (so nothing it does next is published); then each link between it and the
    others is re-seeded both ways (:func:`reseed`), dropping on the way the slot each
    other region read from it before the failover. Returns, per table, the ids of rows
    only ``old`` had: the writes the failover lost.
    """
    others = list(active)
    theirs: set[str] = set()
    for region in others:
        with region.engine.connect() as connection:
            theirs |= set(publication.homed(connection))
    with old.engine.begin() as connection:
        publication.unhome(connection, old.region_id, theirs & set(publication.homed(connection)))
    lost: dict[str, list[str]] = {}
    for region in others:
        # ``region``'s link from ``old``: disabled by a failover through the control plane
        # (dropped with its slot now that ``old`` answers), or dropped by ``failover``
        # here, which let go of the slot it read in ``old``
        unsubscribe(region, old.region_id)
        drop_slot(old, slot_name(old.region_id, region.region_id))
        for table, ids in reseed(old, region).items():
            lost[table] = sorted({*lost.get(table, []), *ids})
        reseed(region, old)
    return lost


# --- status -----------------------------------------------------------------------------
@dataclass(frozen=True)
class LinkStatus:
    source: str
    enabled: bool
    #: The apply worker is running (False while it retries after an error).
    streaming: bool
    apply_errors: int
    sync_errors: int
    #: Milliseconds since the newest beat of ``source`` applied here (None: none yet).
    lag_ms: float | None


def links(db: RegionDatabase) -> list[LinkStatus]:
    """Each subscription of ``db``: whether it flows, its errors, its lag."""
    beats = heartbeat.beats(db.engine, exclude=db.region_id)
    with db.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT s.subname, s.subenabled, "
                "EXISTS (SELECT 1 FROM pg_stat_subscription w WHERE w.subid = s.oid AND w.pid IS NOT NULL "
                "AND w.relid IS NULL), "
                "COALESCE(st.apply_error_count, 0), COALESCE(st.sync_error_count, 0) "
                "FROM pg_subscription s LEFT JOIN pg_stat_subscription_stats st ON st.subid = s.oid "
                f"WHERE s.subname LIKE 'granary_catalog_from_%' AND s.{_HERE}"
            )
        ).all()
    statuses = []
    by_name = {subscription_name(r): r for r in beats}
    for name, enabled, streaming, apply_errors, sync_errors in rows:
        source = by_name.get(name, name.removeprefix("granary_catalog_from_"))
        beat = beats.get(source)
        statuses.append(
            LinkStatus(
                source, enabled, streaming, apply_errors, sync_errors, None if beat is None else beat.age_ms
            )
        )
    return statuses


def check(regions: Iterable[RegionDatabase], errors: bool = True) -> list[str]:
    """What is wrong between the regions, one sentence each (empty: nothing).

    ``errors=False`` leaves out the subscriptions' error counts (they count a lost
    connection too, as when a drill kills a publisher) and asks instead that every
    subscription streams now."""
    regions = list(regions)
    problems: list[str] = []
    homes: dict[str, str] = {}
    read = {  # the slots some subscription reads: (source, slot)
        (link.source, slot_name(link.source, db.region_id)) for db in regions for link in links(db)
    }
    for db in regions:
        with db.engine.connect() as connection:
            for project_id in publication.homed(connection):
                if project_id in homes:
                    problems.append(
                        f"project {project_id} is homed in both {homes[project_id]} and {db.region_id}: "
                        "its changes would loop between them"
                    )
                homes[project_id] = db.region_id
            revision = connection.scalar(text(f"SELECT version_num FROM {MIGRATION_TABLE}"))
            slots = connection.execute(
                text(
                    "SELECT slot_name, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) "
                    "FROM pg_replication_slots "
                    "WHERE slot_name LIKE 'granary_catalog_%' AND database = current_database()"
                )
            ).all()
        for slot, held in slots:
            if (db.region_id, slot) not in read:
                problems.append(
                    f"slot {slot} in {db.region_id} has no subscription; it holds {held} bytes of WAL"
                )
        for link in links(db):
            if not errors and link.enabled and not link.streaming:
                problems.append(f"{db.region_id}'s subscription to {link.source} is not streaming")
            if errors and (link.apply_errors or link.sync_errors):
                problems.append(
                    f"{db.region_id}'s subscription to {link.source} had {link.apply_errors} apply and "
                    f"{link.sync_errors} sync errors: see that region's PostgreSQL log"
                )
            if not link.enabled:
                problems.append(f"{db.region_id}'s subscription to {link.source} is disabled")
        if revision != _revision(regions[0]):
            problems.append(f"{db.region_id} is at schema revision {revision}, {regions[0].region_id} is not")
    return problems

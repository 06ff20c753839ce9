"""Metadata fit for several regions: UUIDv7 ids that never collide, catalog rows that
name their project (publications filter on it), and region-local state kept apart."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pandas as pd
import sqlalchemy as sa

import granary
from data_plane.metadata.models import Base, catalog_tables, project_column, region_tables, replica_identity


def _frame(keys: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "k": keys,
            "ts": pd.to_datetime([dt.datetime(2025, 1, 1)] * len(keys), utc=True),
            "v": [1.0] * len(keys),
        }
    )


def _pipeline(fs) -> None:
    """A group with two commits, a view on it and a training dataset of the view."""
    fg = fs.get_or_create_feature_group(name="g", version=1, primary_key=["k"], event_time="ts")
    fg.insert(_frame([1, 2]), wait=True)
    fg.insert(_frame([3]), wait=True)
    fv = fs.create_feature_view(name="v", version=1, query=fg.select_all())
    fv.create_training_data()


def _uuid7(text: str) -> bool:
    return uuid.UUID(text).version == 7 and str(uuid.UUID(text)) == text


def test_every_id_a_region_makes_is_a_uuid7(tmp_path):
    fs = granary.login(home=tmp_path / "home").get_feature_store()
    _pipeline(fs)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'home' / 'metadata.db'}")
    with engine.connect() as c:
        ids = {t: [r[0] for r in c.execute(sa.text(f"SELECT id FROM {t}"))] for t in catalog_tables()}
        ids["commits"] = [r[0] for r in c.execute(sa.text("SELECT id FROM commits"))]
    engine.dispose()
    print({t: len(v) for t, v in ids.items()})
    made = {"projects", "feature_groups", "feature_views", "training_datasets", "commits"}
    assert all(ids[t] for t in made) and all(_uuid7(i) for v in ids.values() for i in v)
    commits = fs.get_feature_group("g", 1).commit_details()
    assert all(_uuid7(c) for c in commits)


def test_catalogs_of_two_stores_merge_without_a_key_collision(tmp_path):
    """What logical replication does to two regions' catalogs: rows made independently
    in two databases go into one. Sequence keys (both made project 1, group 1) collided."""
    engines = []
    for name in ("a", "b"):
        home = tmp_path / name
        fs = granary.login(home=home, project=f"project_{name}").get_feature_store()
        _pipeline(fs)
        engines.append(sa.create_engine(f"sqlite:///{home / 'metadata.db'}"))
    source, target = engines
    tables = catalog_tables()
    with source.connect() as read, target.begin() as write:
        for table in tables:
            rows = [dict(r._mapping) for r in read.execute(sa.select(Base.metadata.tables[table]))]
            if rows:  # an IntegrityError on a collision
                write.execute(Base.metadata.tables[table].insert(), rows)
    with target.connect() as c:
        counts = {t: c.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in tables}
    for engine in engines:
        engine.dispose()
    print(counts)
    assert counts == {
        "projects": 2,
        "feature_groups": 2,
        "feature_views": 2,
        "training_datasets": 2,
        "models": 0,
        "deployments": 0,
    }


def test_the_catalog_and_region_local_state_are_separate_tables():
    catalog, local = set(catalog_tables()), set(region_tables())
    assert catalog == {
        "projects",
        "feature_groups",
        "feature_views",
        "training_datasets",
        "models",
        "deployments",
    }
    assert {"commits", "ingest_checkpoints", "ingest_failures"} <= local
    assert not catalog & local
    assert catalog | local | {"replication_heartbeats"} == set(Base.metadata.tables)
    for name in catalog:
        columns = Base.metadata.tables[name].c
        assert not columns[project_column(name)].nullable
        assert isinstance(columns["id"].type, sa.String) and columns["id"].primary_key
    # a catalog row never points into region-local state (publishing it alone stays whole)
    for name in catalog:
        for fk in Base.metadata.tables[name].foreign_keys:
            assert fk.column.table.name in catalog, f"{name} -> {fk.column.table.name}"


def _old_home(home, migrate_to: str = "0007"):
    """An embedded home as the store wrote it before ids were UUIDs: integer keys."""
    from data_plane.metadata.db import MIGRATIONS
    from tenancy import migrate

    home.mkdir()
    engine = sa.create_engine(f"sqlite:///{home / 'metadata.db'}")
    migrate.upgrade(engine, MIGRATIONS, revision=migrate_to)
    day = "2026-01-01 00:00:00.000000"
    statements = [
        f"INSERT INTO projects (id, name, created_at, status) VALUES (1, 'default', '{day}', 'active')",
        f"INSERT INTO projects (id, name, created_at, status) VALUES (2, 'other', '{day}', 'active')",
        "INSERT INTO feature_groups (id, project_id, name, version, description, primary_key, event_time, "
        "partition_key, online_enabled, transformations, location, created_at) VALUES "
        f"(1, 1, 'old', 1, 'first', '[\"k\"]', 'ts', '[]', 0, '[]', 'default/old_v1', '{day}'),"
        f"(2, 1, 'old', 2, 'second', '[\"k\"]', 'ts', '[]', 0, '[]', 'default/old_v2', '{day}'),"
        f"(3, 2, 'old', 1, 'elsewhere', '[\"k\"]', 'ts', '[]', 0, '[]', 'other/old_v1', '{day}')",
        "INSERT INTO commits (feature_group_id, table_version, committed_at, operation, rows_inserted, "
        f"rows_updated, rows_deleted) VALUES (2, 0, '{day}', 'upsert', 5, 0, 0),"
        f"(2, 1, '{day}', 'upsert', 0, 5, 0), (1, 0, '{day}', 'upsert', 1, 0, 0)",
        "INSERT INTO feature_views (id, project_id, name, version, description, query, labels, "
        f"transformations, created_at) VALUES (1, 1, 'view', 1, '', '{json.dumps({'left': 'x'})}', "
        f"'[]', '[]', '{day}')",
        "INSERT INTO training_datasets (id, feature_view_id, version, description, data_format, location, "
        f"query_sql, options, statistics, created_at) VALUES (1, 1, 1, 'td', 'parquet', 'x', 'SELECT 1', "
        f"'{{}}', '{{}}', '{day}')",
        "INSERT INTO models (id, project_id, name, version, framework, description, metrics, feature_view, "
        "feature_view_version, artifacts, state, created_at) VALUES ('0190d5c4-8f5e-7000-8000-000000000001', "
        f"1, 'm', 1, 'python', '', '{{}}', 'view', 1, '[]', 'ready', '{day}')",
        "INSERT INTO deployments (id, project_id, name, model_name, model_version, script, resources, "
        "desired_state, created_at) VALUES ('0190d5c4-8f5e-7000-8000-000000000002', 1, 'd', 'm', 1, "
        f"'class Predict: ...', '{{}}', 'STOPPED', '{day}')",
    ]
    with engine.begin() as c:
        for statement in statements:
            c.execute(sa.text(statement))
    return engine


def test_upgrade_rekeys_every_row_and_keeps_every_reference(tmp_path):
    home = tmp_path / "home"
    _old_home(home).dispose()
    fs = granary.login(home=home).get_feature_store()  # opening migrates
    groups = {g.version: g for g in fs.get_feature_groups("old")}
    assert sorted(groups) == [1, 2] and [g.description for g in groups.values()] == ["first", "second"]
    assert all(_uuid7(g.id) for g in groups.values())
    assert groups[2].id > groups[1].id  # old order kept: newer ids sort after older ones
    assert [(c["table_version"], c["rows_inserted"]) for c in groups[2].commit_details().values()] == [
        (1, 0),
        (0, 5),
    ]
    assert [c["rows_inserted"] for c in groups[1].commit_details().values()] == [1]
    engine = sa.create_engine(f"sqlite:///{home / 'metadata.db'}")
    with engine.connect() as c:
        td_view = c.execute(
            sa.text(
                "SELECT fv.name FROM training_datasets td JOIN feature_views fv ON fv.id = td.feature_view_id"
            )
        ).all()
        other = c.execute(
            sa.text(
                "SELECT fg.description FROM feature_groups fg JOIN projects p ON p.id = fg.project_id "
                "WHERE p.name = 'other'"
            )
        ).all()
        model = c.execute(
            sa.text(
                "SELECT m.id, d.id, p.name FROM models m JOIN projects p ON p.id = m.project_id "
                "JOIN deployments d ON d.project_id = p.id"
            )
        ).all()
    engine.dispose()
    assert td_view == [("view",)] and other == [("elsewhere",)]
    assert model == [
        ("0190d5c4-8f5e-7000-8000-000000000001", "0190d5c4-8f5e-7000-8000-000000000002", "default")
    ]


def test_each_catalog_table_replicates_by_a_key_that_names_its_project(region_env):
    """On PostgreSQL, what a publication filtered by project needs: a replica identity
    holding the project column, on every catalog table (set by the migrations)."""
    from data_plane.metadata.db import upgrade

    engine = sa.create_engine(region_env["GRANARY_PG_URL"])
    upgrade(engine)  # what every service does when it starts
    with engine.connect() as c:
        identities = {
            table: c.execute(
                sa.text(
                    "SELECT c.relreplident, a.attname FROM pg_class c "
                    "LEFT JOIN pg_index i ON i.indrelid = c.oid AND "
                    "(i.indisreplident OR (c.relreplident = 'd' AND i.indisprimary)) "
                    "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey) "
                    "WHERE c.relname = :t AND c.relnamespace = 'public'::regnamespace"
                ),
                {"t": table},
            ).all()
            for table in catalog_tables()
        }
    engine.dispose()
    print(identities)
    for table, rows in identities.items():
        kind = {r[0] for r in rows}
        assert kind == ({"i"} if replica_identity(table) else {"d"}), table
        assert project_column(table) in {r[1] for r in rows}, table


def test_a_region_upgrades_its_integer_keys_on_postgresql(region_env):
    """The same upgrade on PostgreSQL (sequences, constraints and indexes go with the
    old tables), on a database of its own."""
    from data_plane.metadata.db import MIGRATIONS, upgrade
    from tenancy import migrate

    admin = sa.create_engine(region_env["GRANARY_PG_URL"], isolation_level="AUTOCOMMIT")
    name = f"upgrade_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(region_env["GRANARY_PG_URL"]).set(database=name)
    engine = sa.create_engine(url)
    try:
        migrate.upgrade(engine, MIGRATIONS, revision="0004")
        with engine.begin() as c:
            c.execute(sa.text("INSERT INTO projects (name, created_at) VALUES ('p', now())"))
            c.execute(
                sa.text(
                    "INSERT INTO feature_groups (project_id, name, version, description, primary_key, "
                    "partition_key, online_enabled, transformations, location, created_at) "
                    "SELECT id, 'g', 1, '', '[]', '[]', false, '[]', 'p/g_v1', now() FROM projects"
                )
            )
            c.execute(
                sa.text(
                    "INSERT INTO commits (feature_group_id, table_version, committed_at, operation, "
                    "rows_inserted, rows_updated, rows_deleted) SELECT id, 0, now(), 'upsert', 1, 0, 0 "
                    "FROM feature_groups"
                )
            )
        upgrade(engine)
        with engine.connect() as c:
            row = c.execute(
                sa.text(
                    "SELECT p.id, fg.project_id, fg.id, cm.feature_group_id, cm.id FROM projects p "
                    "JOIN feature_groups fg ON fg.project_id = p.id "
                    "JOIN commits cm ON cm.feature_group_id = fg.id"
                )
            ).one()
            sequences = c.scalar(sa.text("SELECT count(*) FROM pg_class WHERE relkind = 'S'"))
    finally:
        engine.dispose()
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
    assert all(_uuid7(row[i]) for i in (0, 2, 4))
    assert (row[1], row[3]) == (row[0], row[2])
    assert sequences == 0  # nothing left that a replica would have to copy


def test_the_migrations_make_the_tables_the_models_describe(tmp_path):
    """Migrations that make tables anew must keep every column a later model has."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from data_plane.metadata.db import open_metadata

    engine = open_metadata(f"sqlite:///{tmp_path / 'metadata.db'}")
    with engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), Base.metadata)
    engine.dispose()
    shape = [
        d
        for d in diff
        if isinstance(d, tuple) and d[0] in {"add_table", "remove_table", "add_column", "remove_column"}
    ]
    assert shape == []

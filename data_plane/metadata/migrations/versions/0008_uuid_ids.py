"""UUIDv7 ids for every metadata row; every catalog row names its project

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 17:30:00

Integer keys came from sequences, which logical replication does not copy: two regions
would both make feature group 7. Every id becomes a UUIDv7 string (old ids mapped in
their order, so "newest first" still holds). Training datasets gain their project's id,
so every catalog row names its project; on PostgreSQL each catalog table replicates by
``(id, project_id)``, the columns a publication filtered by project may use.

An integer primary key cannot change type in place on SQLite, so the tables are read,
dropped and created anew in one transaction (the metadata is small: it describes
feature data, it does not hold it). Topics were named by the integer group id: a
region must be drained (every acknowledged write materialized) before it upgrades, as
for any data plane upgrade.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from granary_core.ids import ID_LENGTH, new_id
from granary_core.sqltypes import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: Tables made anew, parents first; and the columns pointing at re-keyed ids. Models and
#: deployments had UUIDs already: they are made anew for their project ids alone.
_REKEYED = ["projects", "feature_groups", "feature_views", "training_datasets", "commits", "ingest_failures"]
_TABLES = [*_REKEYED[:4], "models", "deployments", *_REKEYED[4:]]
_REFERENCES = {
    ("models", "project_id"): "projects",
    ("deployments", "project_id"): "projects",
    ("feature_groups", "project_id"): "projects",
    ("feature_views", "project_id"): "projects",
    ("training_datasets", "feature_view_id"): "feature_views",
    ("commits", "feature_group_id"): "feature_groups",
}


def _id() -> sa.Column:
    return sa.Column("id", sa.String(length=ID_LENGTH), nullable=False)


def _identity(table: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint("id", "project_id", name=f"{table}_replica_identity")


def _create_tables() -> None:
    op.create_table(
        "projects",
        _id(),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "feature_groups",
        _id(),
        sa.Column("project_id", sa.String(length=ID_LENGTH), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("primary_key", sa.JSON(), nullable=False),
        sa.Column("event_time", sa.String(length=256), nullable=True),
        sa.Column("partition_key", sa.JSON(), nullable=False),
        sa.Column("online_enabled", sa.Boolean(), nullable=False),
        sa.Column("ttl_seconds", sa.Float(), nullable=True),
        sa.Column("features", sa.JSON(), nullable=True),
        sa.Column("transformations", sa.JSON(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("feature_descriptions", sa.JSON(), server_default="{}", nullable=False),
        sa.Column("tags", sa.JSON(), server_default="{}", nullable=False),
        sa.Column("statistics_config", sa.JSON(), server_default="{}", nullable=False),
        sa.Column("expectation_suite", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name", "version"),
        _identity("feature_groups"),
    )
    op.create_table(
        "feature_views",
        _id(),
        sa.Column("project_id", sa.String(length=ID_LENGTH), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("query", sa.JSON(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("transformations", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name", "version"),
        _identity("feature_views"),
    )
    op.create_table(
        "training_datasets",
        _id(),
        sa.Column("project_id", sa.String(length=ID_LENGTH), nullable=False),
        sa.Column("feature_view_id", sa.String(length=ID_LENGTH), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("data_format", sa.String(length=16), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("query_sql", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("statistics", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["feature_view_id"], ["feature_views.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("feature_view_id", "version"),
        _identity("training_datasets"),
    )
    op.create_index("ix_training_datasets_feature_view_id", "training_datasets", ["feature_view_id"])
    op.create_table(
        "models",
        _id(),
        sa.Column("project_id", sa.String(length=ID_LENGTH), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("framework", sa.String(32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("input_example", sa.JSON(), nullable=True),
        sa.Column("model_schema", sa.JSON(), nullable=True),
        sa.Column("feature_view", sa.String(256), nullable=True),
        sa.Column("feature_view_version", sa.Integer(), nullable=True),
        sa.Column("training_dataset_version", sa.Integer(), nullable=True),
        sa.Column("artifacts", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name", "version"),
        _identity("models"),
    )
    op.create_index("ix_models_lineage", "models", ["project_id", "feature_view", "feature_view_version"])
    op.create_table(
        "deployments",
        _id(),
        sa.Column("project_id", sa.String(length=ID_LENGTH), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("model_name", sa.String(256), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("script", sa.Text(), nullable=False),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("desired_state", sa.String(16), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name"),
        _identity("deployments"),
    )
    op.create_index("ix_deployments_tenant_id", "deployments", ["tenant_id"])
    op.create_table(
        "commits",
        _id(),
        sa.Column("feature_group_id", sa.String(length=ID_LENGTH), nullable=False),
        sa.Column("table_version", sa.Integer(), nullable=False),
        sa.Column("committed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("rows_inserted", sa.Integer(), nullable=False),
        sa.Column("rows_updated", sa.Integer(), nullable=False),
        sa.Column("rows_deleted", sa.Integer(), nullable=False),
        sa.Column("source_offset", sa.BigInteger(), nullable=True),
        sa.Column("epoch", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["feature_group_id"], ["feature_groups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_commits_feature_group_id", "commits", ["feature_group_id"])
    op.create_table(
        "ingest_failures",
        _id(),
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("failed_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ingest_failures_topic", "ingest_failures", ["topic"])


def _rekeyed_rows(connection: sa.Connection) -> dict[str, list[dict[str, Any]]]:
    """Every row of the tables made anew, with its new ids, read before the tables go."""
    old = sa.MetaData()
    old.reflect(connection, only=_TABLES)
    new_ids: dict[str, dict[int, str]] = {}
    rows: dict[str, list[dict[str, Any]]] = {}
    for name in _TABLES:
        table = old.tables[name]
        records = [dict(r._mapping) for r in connection.execute(sa.select(table).order_by(table.c.id))]
        if name in _REKEYED:
            new_ids[name] = {r["id"]: new_id() for r in records}
            for record in records:
                record["id"] = new_ids[name][record["id"]]
        for record in records:
            for (child, column), parent in _REFERENCES.items():
                if child == name:
                    record[column] = new_ids[parent][record[column]]
        rows[name] = records
    views = {v["id"]: v["project_id"] for v in rows["feature_views"]}
    for dataset in rows["training_datasets"]:
        dataset["project_id"] = views[dataset["feature_view_id"]]
    return rows


def upgrade() -> None:
    connection = op.get_bind()
    rows = _rekeyed_rows(connection)
    for name in reversed(_TABLES):
        op.drop_table(name)
    _create_tables()
    new = sa.MetaData()
    new.reflect(connection, only=_TABLES)
    for name in _TABLES:
        if rows[name]:
            connection.execute(new.tables[name].insert(), rows[name])
    if connection.dialect.name == "postgresql":
        for name in ("feature_groups", "feature_views", "training_datasets", "models", "deployments"):
            op.execute(f"ALTER TABLE {name} REPLICA IDENTITY USING INDEX {name}_replica_identity")


def downgrade() -> None:
    raise NotImplementedError("ids cannot go back to sequences: restore the metadata backup instead")

"""The service skeleton: error bodies, unit of work, migrations, append-only audit."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker

from control_plane.db import MIGRATIONS, open_database
from control_plane.models import AuditEvent, Tenant
from control_plane.uow import UnitOfWork
from tests.control_plane.conftest import ADMIN


def test_health_and_openapi(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/signup", "/v1/verify", "/v1/login", "/v1/admin/tenants", "/v1/projects", "/v1/keys"} <= set(
        paths
    )


def test_granary_errors_become_code_and_message(client):
    r = client.get("/v1/admin/tenants/nope", headers=ADMIN)
    assert r.status_code == 404
    assert r.json() == {"code": "not_found", "message": "tenant 'nope' does not exist"}
    r = client.get("/v1/projects")
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"


def test_bad_body_is_422_with_the_field_named(client):
    r = client.post("/v1/signup", json={"email": "not-an-address", "password": "x" * 12})
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_input" and "email" in r.json()["message"]


def _tenant(tid: str) -> Tenant:
    return Tenant(id=tid, name=tid, kind="sandbox", plan={"home_region": "local"})


def test_unit_of_work_rolls_back_unless_committed(cp_database):
    engine = open_database(cp_database, migrate=False)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with UnitOfWork(sessions) as uow:
        uow.session.add(_tenant("t_rolledback"))
        uow.session.flush()
    with pytest.raises(RuntimeError), UnitOfWork(sessions) as uow:
        uow.session.add(_tenant("t_raised"))
        uow.session.flush()
        raise RuntimeError("handler failed")
    ran = []
    with UnitOfWork(sessions) as uow:
        uow.session.add(_tenant("t_committed"))
        uow.after_commit(lambda: ran.append("after"))
        assert ran == []
        uow.commit()
    assert ran == ["after"]
    with sessions() as s:
        assert s.scalars(select(Tenant.id)).all() == ["t_committed"]
    engine.dispose()


def test_migrations_are_at_head_and_separate_from_the_data_plane(cp_database):
    engine = open_database(cp_database)  # idempotent
    with engine.connect() as c:
        head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
        assert c.execute(text("SELECT version_num FROM cp_alembic_version")).scalar_one() == head
        tables = set(c.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'")).scalars())
    assert "alembic_version" not in tables and "feature_groups" not in tables
    engine.dispose()


def test_audit_log_is_append_only_in_the_database(cp_database):
    engine = open_database(cp_database, migrate=False)
    sessions = sessionmaker(engine)
    with sessions() as s, s.begin():
        s.add(AuditEvent(actor="admin", action="x", method="POST", path="/", status=200))
    for sql in ("UPDATE audit_events SET action = 'y'", "DELETE FROM audit_events", "TRUNCATE audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as c:
            c.execute(text(sql))
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 1
    engine.dispose()


def test_pending_signups_leave_the_users_table(cp_postgres):
    """c0003: an unverified user becomes a pending sign-up (its live token kept) and
    no longer holds its address; verified users and their tenants stay."""
    from control_plane.db import upgrade
    from tests.control_plane.conftest import _admin_sql

    name = "cp_m_c0003"
    _admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
    engine = open_database(f"{cp_postgres}/{name}", migrate=False)
    try:
        upgrade(engine, "c0002")
        with engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO tenants (id, name, kind, status, plan, created_at, updated_at) VALUES "
                    "('t_old', 'sandbox-old', 'sandbox', 'active', '{}', now(), now()),"
                    "('t_ok', 'sandbox-ok', 'sandbox', 'active', '{}', now(), now())"
                )
            )
            c.execute(
                text(
                    "INSERT INTO users (id, tenant_id, email, password_hash, verified_at, is_tenant_admin, "
                    "created_at) VALUES ('u_old', 't_old', 'p@example.com', 'h', NULL, true, now()),"
                    "('u_ok', 't_ok', 'v@example.com', 'h', now(), true, now())"
                )
            )
            c.execute(
                text(
                    "INSERT INTO email_verifications (token_hash, user_id, expires_at) VALUES "
                    "('live', 'u_old', now() + interval '1 hour'),"
                    "('dead', 'u_old', now() - interval '1 hour')"
                )
            )
        upgrade(engine)
        with engine.connect() as c:
            assert c.execute(text("SELECT token_hash, email FROM pending_signups")).all() == [
                ("live", "p@example.com")
            ]
            assert c.execute(text("SELECT id FROM users")).scalars().all() == ["u_ok"]
            assert c.execute(text("SELECT id FROM tenants")).scalars().all() == ["t_ok"]
    finally:
        engine.dispose()
        _admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

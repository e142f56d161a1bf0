"""The read-only analyst role (PostgreSQL only): a member reads the views and nothing else."""

from __future__ import annotations

import re
import secrets
from typing import Iterator

import psycopg2.errors
import pytest
import sqlalchemy as sa

from dealer_pipeline.store import views
from dealer_pipeline.store.engine import create_store_engine
from tests.quality.factories import (
    BR_DEALER,
    UK_DEALER,
    br_vehicle,
    documented_queries,
    insert_dealers,
    insert_vehicles,
    uk_vehicle,
)

SECRET_TABLES = ["vehicles", "api_tokens", "webhook_events", "leads", "quality_findings", "dealers", "alembic_version"]


def _admin(url: str, *statements: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    engine.dispose()


@pytest.fixture
def analyst_url(store: sa.Engine, store_url: str) -> Iterator[str]:
    """A login that is a member of dealer_pipeline_analyst, on the test database."""
    views.apply_analyst_role(store)
    views.apply_analyst_role(store)  # idempotent
    login, password = f"analyst_{secrets.token_hex(4)}", secrets.token_hex(16)
    _admin(store_url, f"CREATE ROLE {login} LOGIN PASSWORD '{password}' IN ROLE {views.ANALYST_ROLE}")
    url = sa.make_url(store_url).set(username=login, password=password)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        _admin(store_url, f"DROP ROLE IF EXISTS {login}")


@pytest.mark.parametrize("backend", ["postgresql"])
def test_analyst_reads_views_and_nothing_else(store: sa.Engine, analyst_url: str) -> None:
    insert_dealers(store, (UK_DEALER, "Example Motors Ltd"))
    insert_vehicles(store, [uk_vehicle(0), br_vehicle(0)])
    engine = create_store_engine(analyst_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT current_user").scalar() == sa.make_url(analyst_url).username
            stock = conn.exec_driver_sql("SELECT dealer_id, dealer_name FROM v_stock_current ORDER BY 1").all()
            assert stock == [(UK_DEALER, "Example Motors Ltd"), (BR_DEALER, None)]
            for name in views.view_names():
                conn.exec_driver_sql(f"SELECT * FROM {name}").all()
            for query in documented_queries():  # the README's questions need nothing beyond the role
                conn.exec_driver_sql(query).all()
        for table in SECRET_TABLES:
            with engine.connect() as conn, pytest.raises(sa.exc.ProgrammingError) as denied:
                conn.exec_driver_sql(f"SELECT * FROM {table}").all()
            assert isinstance(denied.value.orig, psycopg2.errors.InsufficientPrivilege), table
        with engine.connect() as conn, pytest.raises(sa.exc.ProgrammingError) as denied:
            conn.exec_driver_sql("CREATE TABLE scratch (x int)")
        assert isinstance(denied.value.orig, psycopg2.errors.InsufficientPrivilege)
        with engine.connect() as conn:
            for privilege, expected in (("SELECT", True), ("INSERT", False), ("UPDATE", False), ("DELETE", False)):
                held = conn.exec_driver_sql(
                    f"SELECT has_table_privilege(current_user, 'v_stock_current', '{privilege}')").scalar()
                assert held is expected, privilege
    finally:
        engine.dispose()


def test_the_role_grants_exactly_the_analyst_views() -> None:
    script = views.roles_file().read_text()
    (granted,) = re.findall(r"GRANT SELECT ON (.+?) TO dealer_pipeline_analyst;", script)
    assert sorted(name.strip() for name in granted.split(",")) == sorted(views.view_names())
    assert "NOLOGIN" in script


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_role_is_refused_on_sqlite(store: sa.Engine) -> None:
    with pytest.raises(ValueError, match="only on PostgreSQL"):
        views.apply_analyst_role(store)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_analyst_has_no_temp_objects_barrier_views_and_a_statement_timeout(
    store: sa.Engine, store_url: str, analyst_url: str
) -> None:
    views.apply_analyst_role(store)  # again, now that the login exists: its timeout is set
    engine = create_store_engine(analyst_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "1min"
        for statement in ("CREATE TEMP TABLE scratch (x int)",
                          "CREATE FUNCTION pg_temp.peek(text) RETURNS bool LANGUAGE sql AS 'SELECT true'"):
            with engine.connect() as conn, pytest.raises(sa.exc.ProgrammingError) as denied:
                conn.exec_driver_sql(statement)
            assert isinstance(denied.value.orig, psycopg2.errors.InsufficientPrivilege), statement
    finally:
        engine.dispose()
    with store.connect() as conn:
        options = dict(conn.exec_driver_sql(
            "SELECT relname, reloptions FROM pg_class WHERE relkind = 'v' AND relnamespace = 'public'::regnamespace").all())
        acl = conn.exec_driver_sql("SELECT datacl::text FROM pg_database WHERE datname = current_database()").scalar()
        owner_has_temp = conn.exec_driver_sql(
            "SELECT has_database_privilege(current_user, current_database(), 'TEMP')").scalar()
    for name in views.view_names():  # every view the role can read (others are not granted)
        assert "security_barrier=true" in (options[name] or []), (name, options[name])
    public_entries = [entry for entry in acl.strip("{}").split(",") if entry.startswith("=")]
    assert all("T" not in entry.split("/")[0] for entry in public_entries), acl  # PUBLIC: no TEMP
    assert owner_has_temp  # the pipeline's own bulk upserts keep their temporary tables

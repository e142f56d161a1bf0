"""Shared fixtures: a fresh migrated store on SQLite and on a real PostgreSQL per test.

PostgreSQL comes from `DEALER_PIPELINE_TEST_PG_URL` (set by `make test`, which starts a
throwaway server); without it the session starts its own. A migrated template database
is built once; each test gets `CREATE DATABASE ... TEMPLATE` (tens of milliseconds).
A skipped test fails the session: skips are never counted as passing.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa

from dealer_pipeline.settings import get_settings
from dealer_pipeline.store import migrate
from dealer_pipeline.store.engine import create_store_engine, get_engine
from tests.support.postgres import URL_VARIABLE, throwaway_postgres

pytest_plugins = ["tests.support.sandbox_fixtures", "tests.publishing.channels_fixtures"]

BACKENDS = ["sqlite", "postgresql"]
PG_TEMPLATE = "dp_template"


@pytest.fixture(autouse=True)
def _no_stale_dagster_instance() -> Iterator[None]:
    """Each test starts with no Dagster instance current. An instance a test entered and left to the
    garbage collector would otherwise stay current (a context variable) for every later test, whose
    definitions then fail to load ("undefined DagsterInstance weakref")."""
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        yield


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    url = os.environ.get(URL_VARIABLE)
    if url:
        yield url
        return
    with throwaway_postgres() as started:
        yield started


def _with_database(url: str, name: str) -> str:
    return sa.make_url(url).set(database=name).render_as_string(hide_password=False)


def _admin_execute(admin_url: str, *statements: str) -> None:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    engine.dispose()


@pytest.fixture(scope="session")
def pg_template(pg_admin_url: str) -> str:
    """A migrated database that per-test databases are copied from."""
    _admin_execute(pg_admin_url, f"DROP DATABASE IF EXISTS {PG_TEMPLATE}", f"CREATE DATABASE {PG_TEMPLATE}")
    engine = create_store_engine(_with_database(pg_admin_url, PG_TEMPLATE))
    migrate.upgrade(engine)
    engine.dispose()
    return PG_TEMPLATE


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "store.sqlite"
    engine = create_store_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@contextlib.contextmanager
def fresh_pg_database(admin_url: str, template: str | None) -> Iterator[str]:
    name = f"t_{secrets.token_hex(6)}"
    clause = f" TEMPLATE {template}" if template else ""
    _admin_execute(admin_url, f"CREATE DATABASE {name}{clause}")
    try:
        yield _with_database(admin_url, name)
    finally:
        _admin_execute(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, migrated store on the parametrized backend."""
    if backend == "sqlite":
        target = tmp_path / "store.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    admin_url = request.getfixturevalue("pg_admin_url")
    with fresh_pg_database(admin_url, request.getfixturevalue("pg_template")) as url:
        yield url


@pytest.fixture
def empty_store_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty (unmigrated) database on the parametrized backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    with fresh_pg_database(request.getfixturevalue("pg_admin_url"), None) as url:
        yield url


@pytest.fixture
def store(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[sa.Engine]:
    """An engine on a fresh store, also made the process default (`DEALER_PIPELINE_DATABASE_URL`)."""
    monkeypatch.setenv("DEALER_PIPELINE_DATABASE_URL", store_url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    engine = get_engine(store_url)
    yield engine
    engine.dispose()
    get_engine.cache_clear()
    get_settings.cache_clear()


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped and exitstatus == 0:
        session.exitstatus = 1
        print(f"\n{len(_skipped)} test(s) skipped; a skip is not a pass: {_skipped[:5]}")

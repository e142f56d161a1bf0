"""Engines for the canonical store, and the one way to open a write transaction.

SQLite runs in WAL mode with a busy timeout, and write transactions start with
`BEGIN IMMEDIATE` so two processes never deadlock upgrading a read lock to a write lock.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy import event

from dealer_pipeline.store.types import storable_json

SQLITE_BUSY_TIMEOUT_MS = 30_000
_IMMEDIATE = "dealer_pipeline_immediate"


def create_store_engine(url: str, *, pool_size: int = 5) -> sa.Engine:
    """A new engine for `url` with the project's dialect settings applied."""
    sa_url = sa.make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        engine = sa.create_engine(sa_url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(
        sa_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, pool_recycle=1800,
        json_serializer=storable_json,
    )


def _configure_sqlite(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below take over
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@functools.lru_cache(maxsize=8)
def get_engine(url: str | None = None) -> sa.Engine:
    """The process-wide engine for `url` (default: `DEALER_PIPELINE_DATABASE_URL`)."""
    if url is None:
        from dealer_pipeline.settings import get_settings

        url = get_settings().database_url
    return create_store_engine(url)


@contextmanager
def transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction: committed on success, rolled back on any exception."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{_IMMEDIATE: True})
        with conn.begin():
            yield conn


def is_postgres(bind: sa.Engine | sa.Connection) -> bool:
    return bind.dialect.name == "postgresql"

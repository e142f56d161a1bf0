"""Writing deliveries to the store: `webhook_events` (authentic) and `webhook_rejections`.

Each write is its own committed transaction, finished before the receiver answers: a 2xx
means the event is in the store. PostgreSQL commits are durable by default
(`synchronous_commit=on`); on SQLite the receiver's connections use `synchronous=FULL` so
a commit survives power loss as well as a killed process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite

from dealer_pipeline.store.engine import create_store_engine, transaction
from dealer_pipeline.store.schema import webhook_events, webhook_rejections
from dealer_pipeline.webhooks.keys import EventIdentity

PENDING, FAILED = "pending", "failed"

# Header names whose values are credentials; never stored.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


def receiver_engine(url: str, *, pool_size: int) -> sa.Engine:
    """An engine sized for the receiver's worker threads, durable on commit on SQLite too."""
    engine = create_store_engine(url, pool_size=pool_size)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _full_sync(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

    return engine


def storable_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items() if name.lower() not in _SECRET_HEADERS}


def storable_text(raw: bytes) -> str:
    """The body as text: UTF-8, undecodable bytes and NULs escaped (PostgreSQL text refuses NUL)."""
    return raw.decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")


@dataclass(frozen=True)
class Stored:
    event_id: int | None  # None: a duplicate of an event stored before
    created: bool


def _insert_ignore(conn: sa.Connection):  # type: ignore[no-untyped-def]
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(webhook_events)


def store_event(
    engine: sa.Engine,
    *,
    source: str,
    identity: EventIdentity,
    received_at: datetime,
    headers: Mapping[str, str],
    raw: bytes,
    status: str = PENDING,
    error: str | None = None,
) -> Stored:
    """Insert the event unless `(source, event_key)` exists; committed when this returns."""
    row = {
        "source": source,
        "event_key": identity.event_key,
        "event_type": identity.event_type,
        "subject_id": identity.subject_id,
        "subject_version": identity.subject_version,
        "dealer_id": identity.dealer_id,
        "received_at": received_at,
        "headers": storable_headers(headers),
        "body": storable_text(raw),
        "status": status,
        "attempts": 0,
        "error": error,
    }
    with transaction(engine) as conn:
        stmt = (
            _insert_ignore(conn)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["source", "event_key"])
            .returning(webhook_events.c.id)
        )
        new_id = conn.execute(stmt).scalar()
    return Stored(event_id=new_id, created=new_id is not None)


def store_rejection(
    engine: sa.Engine,
    *,
    source: str,
    received_at: datetime,
    http_status: int,
    reason: str,
    remote_addr: str | None,
    headers: Mapping[str, str],
    raw: bytes | None,
    body_bytes: int | None,
) -> None:
    """Keep an invalid request for forensics; `raw` is None when it was over the size cap."""
    with transaction(engine) as conn:
        conn.execute(
            sa.insert(webhook_rejections).values(
                source=source,
                received_at=received_at,
                http_status=http_status,
                reason=reason,
                remote_addr=remote_addr,
                headers=storable_headers(headers),
                body=storable_text(raw) if raw is not None else None,
                body_bytes=body_bytes,
            )
        )


def store_is_reachable(engine: sa.Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True
    except sa.exc.SQLAlchemyError:
        return False

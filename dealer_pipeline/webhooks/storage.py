"""Writing deliveries to the store: `webhook_events` (authentic) and `webhook_rejections`.

Every event is committed before the receiver answers: a 2xx means the event is in the
store. PostgreSQL commits are durable by default (`synchronous_commit=on`); on SQLite the
receiver's connections use `synchronous=FULL`, so a commit survives power loss as well as a
killed process.

Under load, `EventWriter` commits events in groups: requests that arrive while a commit is in
flight are inserted together by the next one (one multi-row INSERT, one commit, one fsync),
and each request is answered once the commit that holds its event has returned. A lone
request is written alone, so latency at low load is one round trip.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite

from dealer_pipeline.store.engine import create_store_engine, transaction
from dealer_pipeline.store.schema import webhook_events, webhook_rejections
from dealer_pipeline.store.types import storable_text as clean_text
from dealer_pipeline.webhooks.budget import MAX_STORED_BODY
from dealer_pipeline.webhooks.keys import EventIdentity

log = logging.getLogger(__name__)

PENDING, FAILED = "pending", "failed"

# Header names whose values are credentials; never stored.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
#: Identity fields are short in every real notification; longer values are cut (keys hashed),
#: since a PostgreSQL index entry over ~2.7 KB fails the insert.
MAX_KEY_CHARS = 200
MAX_FIELD_CHARS = 500
#: What one rejected request may add to `webhook_rejections`, in UTF-8 bytes per column.
MAX_REJECTED_HEADER_BYTES = 8 * 1024
MAX_REJECTED_HEADER_VALUE = 1024
MAX_REASON_BYTES = 1024
MAX_INT32 = 2**31 - 1


def receiver_engine(url: str, *, pool_size: int) -> sa.Engine:
    """An engine sized for the receiver, durable on commit on SQLite too.

    No pre-ping on PostgreSQL: it would double the round trips of every write; a connection
    broken by a server restart fails one group (answered 503, so redelivered) and the pool
    replaces it.
    """
    if sa.make_url(url).get_backend_name() == "postgresql":
        return sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
    engine = create_store_engine(url, pool_size=pool_size)

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


def clip(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` bytes of UTF-8 (never inside a character)."""
    encoded = text.encode("utf-8")
    return text if len(encoded) <= max_bytes else encoded[:max_bytes].decode("utf-8", "ignore")


def _field(value: str | None) -> str | None:
    return None if value is None else clip(clean_text(value), MAX_FIELD_CHARS)


def storable_key(key: str) -> str:
    """The dedupe key as stored: a long or unusual one becomes its SHA-256 (still unique per value)."""
    cleaned = clean_text(key)
    if len(cleaned) <= MAX_KEY_CHARS and cleaned == key:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def rejected_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers of a refused request, bounded: values cut, and no more than fits the byte budget."""
    kept: dict[str, str] = {}
    used = 0
    for name, value in storable_headers(headers).items():
        name, value = clip(name, 128), clip(value, MAX_REJECTED_HEADER_VALUE)
        used += len(name.encode()) + len(value.encode()) + 8
        if used > MAX_REJECTED_HEADER_BYTES:
            kept["..."] = f"{len(headers) - len(kept)} more headers not kept"
            break
        kept[name] = value
    return kept


@dataclass(frozen=True)
class Stored:
    event_id: int | None  # None: a duplicate of an event stored before
    created: bool


def event_row(
    *,
    source: str,
    identity: EventIdentity,
    received_at: datetime,
    headers: Mapping[str, str],
    raw: bytes,
    status: str = PENDING,
    error: str | None = None,
) -> dict[str, Any]:
    return {
        "source": source,
        "event_key": storable_key(identity.event_key),
        "event_type": _field(identity.event_type),
        "subject_id": _field(identity.subject_id),
        "subject_version": identity.subject_version,
        "dealer_id": _field(identity.dealer_id),
        "received_at": received_at,
        "headers": storable_headers(headers),
        "body": storable_text(raw),
        "status": status,
        "attempts": 0,
        "error": error,
    }


def _insert_ignore(conn: sa.Connection):  # type: ignore[no-untyped-def]
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return (
        module.insert(webhook_events)
        .on_conflict_do_nothing(index_elements=["source", "event_key"])
        .returning(webhook_events.c.id, webhook_events.c.source, webhook_events.c.event_key)
    )


def insert_events(engine: sa.Engine, rows: Sequence[Mapping[str, Any]]) -> list[Stored]:
    """Insert `rows` in one committed transaction; per row, its new id or "duplicate".

    A key repeated within `rows` is stored once: its first row is created, later ones are
    duplicates, as if they had arrived one after the other.
    """
    first_of: dict[tuple[str, str], int] = {}
    for index, row in enumerate(rows):
        first_of.setdefault((row["source"], row["event_key"]), index)
    unique = [rows[i] for i in sorted(first_of.values())]
    with transaction(engine) as conn:
        result = conn.execute(_insert_ignore(conn), unique) if len(unique) > 1 else \
            conn.execute(_insert_ignore(conn).values(**unique[0]))
        new_ids = {(r.source, r.event_key): r.id for r in result}
    stored = []
    for index, row in enumerate(rows):
        key = (row["source"], row["event_key"])
        created = first_of[key] == index and key in new_ids
        stored.append(Stored(event_id=new_ids[key] if created else None, created=created))
    return stored


class EventWriter:
    """Group commit: callers block in `store()` until the commit holding their row returns."""

    def __init__(self, engine: sa.Engine, *, threads: int = 2, max_group: int = 200) -> None:
        self.engine = engine
        self.max_group = max_group
        self._queue: queue.Queue[tuple[dict[str, Any], Future] | None] = queue.Queue()
        self._threads = [threading.Thread(target=self._loop, name=f"event-writer-{i}", daemon=True)
                         for i in range(threads)]
        for thread in self._threads:
            thread.start()

    def submit(self, row: dict[str, Any]) -> "Future[Stored]":
        """Queue `row`; the future resolves once its group is committed (or fails)."""
        future: Future[Stored] = Future()
        self._queue.put((row, future))
        return future

    def store(self, row: dict[str, Any]) -> Stored:
        return self.submit(row).result()

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            group = [item]
            while len(group) < self.max_group:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)  # let this thread finish the group, then stop
                    break
                group.append(nxt)
            # A request whose client went away has its future cancelled: its row is still
            # written (a redelivery will find it a duplicate), its answer goes nowhere.
            live = [(row, future if future.set_running_or_notify_cancel() else None) for row, future in group]
            try:
                self._write(live)
            except BaseException as exc:  # noqa: BLE001 - this thread must outlive any one group
                log.error("event writer: unexpected %s", type(exc).__name__)
                for _, future in live:
                    if future is not None and not future.done():
                        future.set_exception(exc)

    def _write(self, group: list[tuple[dict[str, Any], "Future[Stored] | None"]]) -> None:
        try:
            results = insert_events(self.engine, [row for row, _ in group])
        except Exception as exc:  # noqa: BLE001 - retry alone, so one bad row fails only itself
            if len(group) == 1:
                row, future = group[0]
                if not _is_store_outage(exc) and row["error"] != _LAST_RESORT:
                    # The store is up but refused this row's values: keep it, stripped to its body.
                    log.error("a %s event could not be stored as parsed (%s); stored as failed",
                              row["source"], type(exc).__name__)
                    self._write([(last_resort_row(row), future)])
                    return
                if future is not None:
                    future.set_exception(exc)
                return
            log.warning("group of %d events failed (%s); writing them one by one", len(group), type(exc).__name__)
            for item in group:
                self._write([item])
            return
        for (_, future), stored in zip(group, results):
            if future is not None:
                future.set_result(stored)


_LAST_RESORT = "the store refused the values read from this event; kept as received"


def _is_store_outage(exc: BaseException) -> bool:
    """A lost or refused connection (retry later), as opposed to values the store will never take."""
    return isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)) or \
        getattr(exc, "connection_invalidated", False)


def last_resort_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """`row` with nothing read from the body but its hash: a validly signed event is never lost."""
    body = row["body"] or ""
    return dict(row, event_key="sha256:" + hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest(),
                event_type=None, subject_id=None, subject_version=None, dealer_id=None,
                body=clean_text(body), status=FAILED, error=_LAST_RESORT)


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
    """Keep an invalid request for forensics, bounded in bytes whatever it carried: headers
    and reason are cut, the body is kept up to `MAX_STORED_BODY` bytes; `raw` is None when it was
    over the size cap. `body_bytes` is the full size (capped to the column's range)."""
    with transaction(engine) as conn:
        conn.execute(
            sa.insert(webhook_rejections).values(
                source=source,
                received_at=received_at,
                http_status=http_status,
                reason=clip(clean_text(reason), MAX_REASON_BYTES),
                remote_addr=remote_addr,
                headers=rejected_headers(headers),
                body=clip(storable_text(raw[:MAX_STORED_BODY]), MAX_STORED_BODY) if raw is not None else None,
                body_bytes=min(body_bytes, MAX_INT32) if body_bytes is not None else None,
            )
        )


def store_is_reachable(engine: sa.Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True
    except sa.exc.SQLAlchemyError:
        return False

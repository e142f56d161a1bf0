"""Applying a selection of pending events: claim, apply, mark, commit; vendor calls after.

Events are applied in id order, in chunks, one transaction per chunk: the event rows are
claimed and re-checked to be `pending`, their changes written and their status set in the
same commit, so an event is applied exactly once, whatever runs overlap or crash. Chunks
from concurrent runs take turns (a transaction-scoped advisory lock on PostgreSQL; SQLite
write transactions are exclusive anyway), so two runs never interleave versions of one
vehicle and the change history stays exact; chunks are short. If anything unexpected fails
in a chunk, the chunk is rolled back and its events are retried one by one, so one bad event
cannot hold back the others: it alone is marked with the error (`failed` for a content
problem; left `pending` with the error for something transient, until `MAX_ATTEMPTS`).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Sequence

import sqlalchemy as sa

from dealer_pipeline.events import autocosmos, autotrader, webmotors
from dealer_pipeline.events.model import APPLIED, FAILED, IGNORED, PENDING, Followups, Outcome, StoredEvent
from dealer_pipeline.events.queue import select_pending_ids
from dealer_pipeline.store.engine import is_postgres, transaction
from dealer_pipeline.store.schema import webhook_events
from dealer_pipeline.store.types import utcnow

log = logging.getLogger(__name__)

#: Selects events whatever their dealer (None selects the events that name no dealer).
ALL_DEALERS: Any = type("AllDealers", (), {"__repr__": lambda self: "ALL_DEALERS"})()

CHUNK_EVENTS = 200
#: pg_advisory_xact_lock key serialising event application ("evts" in ASCII).
ADVISORY_LOCK_KEY = 0x65767473
MAX_ATTEMPTS = 3
DEFAULT_LIMIT = 10_000


@dataclass
class ApplySummary:
    """What one `apply_events` call did, for run metadata and the command line."""

    applied: int = 0
    ignored: int = 0
    failed: int = 0
    retry_later: int = 0  # a transient error: still pending, tried again by a later run
    by_type: Counter[str] = field(default_factory=Counter)
    event_ids: list[int] = field(default_factory=list)
    ignored_reasons: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # first few failure reasons
    #: vendor calls the applied events ask for, to make after the commit (`followups.run`)
    followups: Followups = field(default_factory=Followups)

    @property
    def refetch_requested(self) -> int:
        """Vehicles whose features / charge times must be fetched again."""
        return len(self.followups.refetch)

    @property
    def lead_details_wanted(self) -> int:
        """New leads whose detail is to fetch."""
        return len(self.followups.lead_details)

    @property
    def processed(self) -> int:
        return self.applied + self.ignored + self.failed + self.retry_later

    def count(self, event: StoredEvent | None, outcome: Outcome) -> None:
        setattr(self, outcome.status, getattr(self, outcome.status) + 1)
        if event is not None:
            self.by_type[f"{event.source}:{event.event_type}"] += 1
        if outcome.status == IGNORED and outcome.reason:
            self.ignored_reasons[outcome.reason.split(" ", 1)[0]] += 1
        if outcome.status == FAILED and outcome.reason and len(self.errors) < 10:
            self.errors.append(outcome.reason)

    def as_dict(self) -> dict[str, Any]:
        return {
            "processed": self.processed,
            "applied": self.applied,
            "ignored": self.ignored,
            "failed": self.failed,
            "retry_later": self.retry_later,
            "by_type": dict(self.by_type),
            "first_event_id": min(self.event_ids) if self.event_ids else None,
            "last_event_id": max(self.event_ids) if self.event_ids else None,
            "errors": list(self.errors),
            "refetch_requested": self.refetch_requested,
            "lead_details_wanted": self.lead_details_wanted,
        }

    def merge(self, other: "ApplySummary") -> None:
        for name in ("applied", "ignored", "failed", "retry_later"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.by_type.update(other.by_type)
        self.ignored_reasons.update(other.ignored_reasons)
        self.event_ids.extend(other.event_ids)
        self.errors.extend(other.errors[: max(0, 10 - len(self.errors))])
        self.followups.extend(other.followups)


class _Context:
    """Per-call lazy state: the dealers file is read once, and only if an event needs it."""

    def __init__(self) -> None:
        self._adminmails: dict[str, str] | None = None

    def dealer_for_adminmail(self, adminmail: str) -> str | None:
        if self._adminmails is None:
            from dealer_pipeline.dealers_file import load_dealers

            self._adminmails = {
                entry.autocosmos_adminmail.lower(): entry.dealer_id
                for entry in load_dealers().dealers
                if entry.autocosmos_adminmail
            }
        return self._adminmails.get(adminmail.lower())


def apply_events(
    engine: sa.Engine,
    *,
    event_ids: Sequence[int] | None = None,
    dealer_id: Any = ALL_DEALERS,
    first_id: int | None = None,
    last_id: int | None = None,
    limit: int = DEFAULT_LIMIT,
    now: Callable[[], datetime] = utcnow,
) -> ApplySummary:
    """Apply the pending events selected by ids, id range and/or dealer; idempotent.

    Vendor calls the events ask for are not made here: they are in `summary.followups`, for
    `dealer_pipeline.events.followups.run` once this has returned (everything is committed).
    """
    with engine.connect() as conn:
        ids = select_pending_ids(conn, event_ids=event_ids, dealer_id=dealer_id, first_id=first_id,
                                 last_id=last_id, limit=limit, any_dealer=ALL_DEALERS)
    summary = ApplySummary()
    pending_work = summary.followups
    context = _Context()
    for start in range(0, len(ids), CHUNK_EVENTS):
        chunk = ids[start : start + CHUNK_EVENTS]
        try:
            with transaction(engine) as conn:
                done, work = _apply_chunk(conn, chunk, now(), context)
        except Exception as exc:  # noqa: BLE001 - isolate the bad event, below
            log.warning("chunk of %d events failed (%s); applying them one by one", len(chunk), _describe(exc))
            for event_id in chunk:
                _apply_alone(engine, event_id, now, context, summary, pending_work)
            continue
        _tally(summary, done)
        pending_work.extend(work)
    return summary


def apply_all_pending(engine: sa.Engine, *, batch: int = DEFAULT_LIMIT) -> ApplySummary:
    """Everything pending now, in id order (what `dealer-pipeline events process` does)."""
    total = ApplySummary()
    after = 0
    while True:
        with engine.connect() as conn:
            ids = select_pending_ids(conn, dealer_id=ALL_DEALERS, first_id=after + 1, last_id=None, limit=batch,
                                     any_dealer=ALL_DEALERS)
        if not ids:
            return total
        total.merge(apply_events(engine, event_ids=ids))
        after = max(ids)


def _claim(conn: sa.Connection, ids: Sequence[int]) -> tuple[list[StoredEvent], list[tuple[int, int, Outcome]]]:
    """Lock the still-pending events among `ids`; parse their bodies (unparseable: failed)."""
    c = webhook_events.c
    stmt = (sa.select(c.id, c.source, c.event_type, c.event_key, c.subject_id, c.subject_version, c.dealer_id,
                      c.received_at, c.attempts, c.body)
            .where(c.id.in_(list(ids)), c.status == PENDING).order_by(c.id))
    if is_postgres(conn):
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        stmt = stmt.with_for_update()
    events: list[StoredEvent] = []
    unparseable: list[tuple[int, int, Outcome]] = []
    for row in conn.execute(stmt).mappings():
        try:
            payload = json.loads(row["body"] or "")
        except ValueError as exc:
            unparseable.append((row["id"], row["attempts"], Outcome.failed(f"body is not JSON: {exc}")))
            continue
        if not isinstance(payload, dict):
            unparseable.append((row["id"], row["attempts"], Outcome.failed("body is not a JSON object")))
            continue
        fields = {k: v for k, v in row.items() if k != "body"}
        events.append(StoredEvent(**fields, payload=payload))
    return events, unparseable


def _apply_chunk(
    conn: sa.Connection, ids: Sequence[int], now: datetime, context: _Context
) -> tuple[list[tuple[int, StoredEvent | None, Outcome]], Followups]:
    """Apply the claimable events among `ids`; returns (id, event or None if unparseable, outcome)."""
    events, unparseable = _claim(conn, ids)
    work = Followups()
    outcomes: dict[int, Outcome] = {event_id: outcome for event_id, _, outcome in unparseable}
    stock = [e for e in events if (e.source, e.event_type) == ("autotrader", autotrader.STOCK_UPDATE)]
    if stock:
        stock_outcomes, stock_work = autotrader.apply_stock_updates(conn, stock, now=now)
        outcomes.update(stock_outcomes)
        work.extend(stock_work)
    for event in events:
        if event.id not in outcomes:
            outcomes[event.id] = _dispatch(conn, event, now, context, work)
    attempts = {e.id: e.attempts for e in events} | {event_id: n for event_id, n, _ in unparseable}
    _mark(conn, [(event_id, attempts[event_id], outcome) for event_id, outcome in outcomes.items()], now)
    by_id = {e.id: e for e in events}
    return [(event_id, by_id.get(event_id), outcome) for event_id, outcome in sorted(outcomes.items())], work


def _dispatch(conn: sa.Connection, event: StoredEvent, now: datetime, context: _Context, work: Followups) -> Outcome:
    kind = (event.source, event.event_type)
    if kind == ("autotrader", autotrader.ADVERTISER):
        return autotrader.apply_advertiser(conn, event, now=now, followups=work)
    if kind == ("autocosmos", autocosmos.AGENCY_ACCEPTED):
        return autocosmos.apply_agency_accepted(conn, event, now=now, dealer_for=context.dealer_for_adminmail)
    if event.source == "webmotors":
        return webmotors.store_lead(conn, event, followups=work)
    if event.event_type is None:
        return Outcome.failed(f"{event.source} notification without a type")
    return Outcome.ignored(f"type {event.event_type} is not handled")


def _mark(conn: sa.Connection, marks: Sequence[tuple[int, int, Outcome]], now: datetime) -> None:
    if not marks:
        return
    c = webhook_events.c
    stmt = (sa.update(webhook_events)
            .where(c.id == sa.bindparam("event_id"))
            .values(status=sa.bindparam("new_status"), attempts=sa.bindparam("new_attempts"),
                    error=sa.bindparam("new_error"), processed_at=now))
    conn.execute(stmt, [
        {"event_id": event_id, "new_status": outcome.status, "new_attempts": attempts + 1,
         "new_error": outcome.reason}
        for event_id, attempts, outcome in marks
    ])


def _describe(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first[:300]}"


_PERMANENT = (ValueError, TypeError, KeyError, LookupError, AttributeError)


def _apply_alone(
    engine: sa.Engine,
    event_id: int,
    now: Callable[[], datetime],
    context: _Context,
    summary: ApplySummary,
    pending_work: Followups,
) -> None:
    try:
        with transaction(engine) as conn:
            done, work = _apply_chunk(conn, [event_id], now(), context)
    except Exception as exc:  # noqa: BLE001 - recorded on the event
        _record_error(engine, event_id, exc, now(), summary)
        return
    _tally(summary, done)
    pending_work.extend(work)


def _tally(summary: ApplySummary, done: Sequence[tuple[int, StoredEvent | None, Outcome]]) -> None:
    for event_id, event, outcome in done:
        summary.count(event, outcome)
        summary.event_ids.append(event_id)


def _record_error(engine: sa.Engine, event_id: int, exc: Exception, now: datetime, summary: ApplySummary) -> None:
    reason = _describe(exc)
    c = webhook_events.c
    with transaction(engine) as conn:
        row = conn.execute(sa.select(c.attempts, c.status).where(c.id == event_id)).first()
        if row is None or row.status != PENDING:
            return
        attempts = row.attempts + 1
        give_up = isinstance(exc, _PERMANENT) or attempts >= MAX_ATTEMPTS
        status = FAILED if give_up else PENDING
        conn.execute(sa.update(webhook_events).where(c.id == event_id)
                     .values(status=status, attempts=attempts, error=reason, processed_at=now))
    log.warning("event %s: %s (%s)", event_id, reason, "failed" if give_up else "will retry")
    summary.event_ids.append(event_id)
    if give_up:
        summary.count(None, Outcome.failed(reason))
    else:
        summary.retry_later += 1


__all__ = ["ALL_DEALERS", "APPLIED", "ApplySummary", "apply_all_pending", "apply_events"]

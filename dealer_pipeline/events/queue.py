"""Finding pending events: one bounded, indexed query, grouped by dealer for the runs.

`webhook_events` has an index on `(status, id)`, so "pending after id N, first `limit`" is a
range scan however large the table grows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence

import sqlalchemy as sa

from dealer_pipeline.store.schema import webhook_events

PENDING = "pending"


@dataclass(frozen=True)
class PendingEvent:
    id: int
    source: str
    event_type: str | None
    dealer_id: str | None
    received_at: datetime


@dataclass(frozen=True)
class EventBatch:
    """Pending events of one dealer (None: events that name no dealer), as an id range."""

    dealer_id: str | None
    first_id: int
    last_id: int
    count: int


def pending_events(
    conn: sa.Connection, after_id: int, limit: int, *, retry_before: datetime | None = None
) -> list[PendingEvent]:
    """Pending events with id > `after_id`, oldest first, at most `limit`.

    With `retry_before`, pending events at or below `after_id` received before that time are
    included too: events whose run failed before marking them (the cursor had moved on).
    """
    c = webhook_events.c
    newer = c.id > after_id
    condition = newer if retry_before is None else sa.or_(newer, c.received_at < retry_before)
    stmt = (
        sa.select(c.id, c.source, c.event_type, c.dealer_id, c.received_at)
        .where(c.status == PENDING, condition)
        .order_by(c.id)
        .limit(limit)
    )
    return [PendingEvent(**row) for row in conn.execute(stmt).mappings()]


def group_by_dealer(events: Iterable[PendingEvent]) -> list[EventBatch]:
    """One batch per dealer, in order of each dealer's first event."""
    batches: dict[str | None, list[int]] = {}
    for event in events:
        batches.setdefault(event.dealer_id, []).append(event.id)
    return [EventBatch(dealer, min(ids), max(ids), len(ids)) for dealer, ids in batches.items()]


def select_pending_ids(
    conn: sa.Connection,
    *,
    event_ids: Sequence[int] | None = None,
    dealer_id: object,
    first_id: int | None,
    last_id: int | None,
    limit: int,
    any_dealer: object,
) -> list[int]:
    """Ids of pending events matching the selection, oldest first."""
    c = webhook_events.c
    conditions: list[sa.ColumnElement[bool]] = [c.status == PENDING]
    if event_ids is not None:
        conditions.append(c.id.in_(list(event_ids)))
    if first_id is not None:
        conditions.append(c.id >= first_id)
    if last_id is not None:
        conditions.append(c.id <= last_id)
    if dealer_id is not any_dealer:
        conditions.append(c.dealer_id.is_(None) if dealer_id is None else c.dealer_id == dealer_id)
    stmt = sa.select(c.id).where(*conditions).order_by(c.id).limit(limit)
    return list(conn.execute(stmt).scalars())

"""Publishing follows applied events: the changes a classified shows become publish requests.

Applying an event that changes what a dealer publishes (a vehicle's price, availability,
visibility, photos, texts; a vehicle created) or that lifts a block writes a `publish_requests`
row in the same transaction as the change, so a change is never committed without its request.
A sensor hands the rows after its cursor (their ids) to the dealers' publish runs (`plan_runs`):
one run per dealer, however many rows; none while the dealer already has a run waiting to start
(it reads the store when it starts); at most `max_runs` dealers per tick, the others on the next.

Ids are the cursor, so they must become visible in id order: every writer takes one
transaction-scoped advisory lock (PostgreSQL) before inserting, held until its commit; SQLite
write transactions are exclusive anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Collection, Iterable, Mapping, Sequence

import sqlalchemy as sa

from dealer_pipeline.store.engine import is_postgres
from dealer_pipeline.store.schema import publish_requests

#: pg_advisory_xact_lock key serialising the writers of `publish_requests` ("pubr" in ASCII).
ADVISORY_LOCK_KEY = 0x70756272

#: `vehicles` fields no classified shows (identifiers, Autotrader-only media and ratings, the parts of
#: the total price): a change of only these asks for no publish run. Every other field does, so a
#: field added later is published by default.
NOT_PUBLISHED = frozenset({
    "search_id", "external_stock_id", "external_stock_reference", "price_indicator_rating", "video_url",
    "spin_url", "highlights", "supplied_price_amount", "admin_fee_amount",
})


@dataclass(frozen=True)
class PublishRequest:
    """Why a dealer's publications must be brought up to date now."""

    dealer_id: str
    reason: str
    vehicle_id: str | None = None
    event_id: int | None = None


def published_change(fields: Iterable[str]) -> list[str]:
    """The changed fields a classified shows, sorted (empty: nothing to publish)."""
    return sorted(set(fields) - NOT_PUBLISHED)


def vehicle_requests(
    changed_fields: Mapping[str, set[str]], dealer_of: Mapping[str, str], event_of: Mapping[str, int]
) -> list[PublishRequest]:
    """One request per vehicle whose published fields changed (`changed_fields` as `apply_vehicles` gives it)."""
    found = []
    for vehicle_id, fields in sorted(changed_fields.items()):
        shown = published_change(fields)
        if shown and vehicle_id in dealer_of:
            found.append(PublishRequest(dealer_of[vehicle_id], "changed: " + ", ".join(shown)[:500], vehicle_id,
                                        event_of.get(vehicle_id)))
    return found


def record(conn: sa.Connection, requests: Sequence[PublishRequest], now: datetime) -> None:
    """Add the requests inside the caller's transaction (the one that commits the change)."""
    if not requests:
        return
    if is_postgres(conn):
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    conn.execute(sa.insert(publish_requests), [
        {"dealer_id": r.dealer_id, "vehicle_id": r.vehicle_id, "reason": r.reason, "event_id": r.event_id,
         "created_at": now} for r in requests
    ])


@dataclass(frozen=True)
class StoredRequest:
    id: int
    dealer_id: str
    created_at: datetime


def requests_after(conn: sa.Connection, after_id: int, limit: int) -> list[StoredRequest]:
    """Requests with id > `after_id`, oldest first, at most `limit` (a primary-key range scan)."""
    c = publish_requests.c
    stmt = sa.select(c.id, c.dealer_id, c.created_at).where(c.id > after_id).order_by(c.id).limit(limit)
    return [StoredRequest(**row) for row in conn.execute(stmt).mappings()]


@dataclass
class DealerRun:
    """The requests one publish run answers: a dealer's, as an id range."""

    dealer_id: str
    first_id: int
    last_id: int
    count: int = 1


@dataclass
class RunPlan:
    """What one sensor tick does with the requests it read."""

    runs: list[DealerRun] = field(default_factory=list)
    after_id: int = 0  # the new cursor: every request up to it is answered or needs no run
    coalesced: int = 0  # requests of dealers whose waiting run answers them
    unpublished: set[str] = field(default_factory=set)  # dealers that publish nowhere (no partition)
    deferred: int = 0  # requests left for the next tick (over `max_runs` dealers)


def plan_runs(rows: Sequence[StoredRequest], after_id: int, *, published: Collection[str],
              waiting: Collection[str], max_runs: int) -> RunPlan:
    """One run per dealer for `rows` (in id order), at most `max_runs`; the cursor stops before the
    first request of a dealer over the bound, so that dealer gets its run on the next tick."""
    plan = RunPlan(after_id=after_id)
    by_dealer: dict[str, DealerRun] = {}
    for position, row in enumerate(rows):
        run = by_dealer.get(row.dealer_id)
        if run is not None:
            run.last_id, run.count = row.id, run.count + 1
        elif row.dealer_id not in published:
            plan.unpublished.add(row.dealer_id)
        elif row.dealer_id in waiting:
            plan.coalesced += 1
        elif len(by_dealer) < max_runs:
            by_dealer[row.dealer_id] = DealerRun(row.dealer_id, row.id, row.id)
        else:
            plan.deferred = len(rows) - position
            break
        plan.after_id = row.id
    plan.runs = list(by_dealer.values())
    return plan

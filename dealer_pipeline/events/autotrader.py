"""Autotrader notifications: `STOCK_UPDATE` into `vehicles`, `ADVERTISER` into `dealers`.

A stock notification's `data` is the full stock record, so it goes through the same
normalizer as the baseline and `apply_vehicles` with cause `notification`; the version guard
of `apply_vehicles` makes an older or repeated versionNumber a no-op, which is recorded on
the event as `ignored` with both versions. A change a classified shows adds a publish request
(`republish`) in the same transaction. Deletions (`DELETED`/`WASTEBIN`) and sales arrive
as lifecycle states; the normalizer turns them into `availability`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Sequence

import sqlalchemy as sa

from dealer_pipeline.canonical import autotrader as normalizer
from dealer_pipeline.canonical import convert
from dealer_pipeline.canonical.apply import apply_vehicles, upsert_dealers
from dealer_pipeline.events import republish
from dealer_pipeline.events.model import APPLIED, Followups, Outcome, StoredEvent
from dealer_pipeline.store.schema import dealers, vehicles

STOCK_UPDATE, ADVERTISER = "STOCK_UPDATE", "ADVERTISER"
CAUSE = "notification"

#: Which enrichment a changed field makes stale (the Autotrader go-live rules AT-FEAT-2, AT-CHG-3).
REFETCH_ON = {"derivative_id": {"features", "charge_times"}, "features": {"features"}}


def _unknown_note(unknown: dict[tuple[str, str], int]) -> str | None:
    if not unknown:
        return None
    listed = ", ".join(f"{name}={value!r}" for name, value in sorted(unknown))
    return f"unknown vendor values kept as text: {listed}"


def apply_stock_updates(
    conn: sa.Connection, events: Sequence[StoredEvent], *, now: datetime
) -> tuple[dict[int, Outcome], Followups]:
    """Apply `STOCK_UPDATE` events in id order in one `apply_vehicles` call."""
    outcomes: dict[int, Outcome] = {}
    notes: dict[int, str | None] = {}
    keyed: list[tuple[StoredEvent, dict[str, Any]]] = []
    for event in events:
        data = event.payload.get("data")
        batch = normalizer.normalize_stock([data], received_at=event.received_at)
        if batch.rejected:
            outcomes[event.id] = Outcome.failed(f"stock record rejected: {batch.rejected[0][1]}")
            continue
        keyed.append((event, batch.rows[0]))
        notes[event.id] = _unknown_note(dict(batch.unknown_values))

    followups = Followups()
    if not keyed:
        return outcomes, followups
    ids = list({row["vehicle_id"] for _, row in keyed})
    stored = dict(conn.execute(sa.select(vehicles.c.vehicle_id, vehicles.c.source_version)
                               .where(vehicles.c.vehicle_id.in_(ids))).all())
    result = apply_vehicles(conn, [row for _, row in keyed], cause=CAUSE, now=now)
    for (event, row), verdict in zip(keyed, result.outcomes):
        vid, version = row["vehicle_id"], row.get("source_version")
        if verdict == "stale":
            outcomes[event.id] = Outcome.ignored(_stale_reason(version, stored.get(vid), row))
            continue
        if version is not None:
            stored[vid] = version
        outcomes[event.id] = Outcome.applied(notes[event.id])
    for vid, fields in result.changed_fields.items():
        kinds = set().union(*(REFETCH_ON.get(name, set()) for name in fields))
        if kinds:
            followups.refetch.setdefault(vid, set()).update(kinds)
    applied = [(event, row) for event, row in keyed if outcomes[event.id].status == APPLIED]
    republish.record(conn, republish.vehicle_requests(
        result.changed_fields, {row["vehicle_id"]: row["dealer_id"] for _, row in applied},
        {row["vehicle_id"]: event.id for event, row in applied}), now)
    return outcomes, followups


def _complete_advertiser(record: Any, notice_id: str | None) -> bool:
    if not isinstance(record, dict) or any(convert.text(record.get(name)) is None for name in ADVERTISER_FIELDS):
        return False
    return notice_id is None or convert.text(record.get("advertiserId")) == notice_id


def _stale_reason(version: int | None, stored: int | None, row: dict[str, Any]) -> str:
    if version is not None and stored is not None:
        return f"version {version} not newer than stored {stored}"
    return f"lastUpdated {row.get('source_updated_at')} older than the stored record"


#: An Autotrader advertiserId: a string of digits (api/autotrader.md), never sent to the vendor otherwise.
_ADVERTISER_ID = re.compile(r"[0-9]{1,20}")
#: What an advertiser record must carry for a notice to be applied as it is.
ADVERTISER_FIELDS = ("advertiserId", "name", "status")


def apply_advertiser(conn: sa.Connection, event: StoredEvent, *, now: datetime, followups: Followups) -> Outcome:
    """Update the dealer only if the notification's `time` is later than the stored one.

    The body of `ADVERTISER` is unconfirmed: a notice whose `data` lacks the record's identifying
    fields (or names another advertiser than its `id`) cannot be trusted to be complete, so the
    advertiser is re-read from `GET /advertisers?advertiserId=` after the commit instead.
    """
    record = event.payload.get("data")
    notice_id = convert.text(event.payload.get("id"))
    if not _complete_advertiser(record, notice_id):
        advertiser_id = notice_id or (convert.text(record.get("advertiserId")) if isinstance(record, dict) else None)
        if advertiser_id is None or not _ADVERTISER_ID.fullmatch(advertiser_id):
            shown = "none" if advertiser_id is None else repr(advertiser_id[:40])
            return Outcome.failed(f"incomplete ADVERTISER notification without a valid advertiser id ({shown}): "
                                  "nothing to re-read")
        followups.advertisers.add(advertiser_id)
        return Outcome.applied("incomplete notice: the advertiser is re-read with GET /advertisers?advertiserId=")
    unknown: list[tuple[str, Any]] = []
    time = convert.timestamp(event.payload.get("time"), "time", lambda n, v: unknown.append((n, v)),
                             received_at=event.received_at)
    if time is None:
        time = event.received_at  # no usable time: order by our receipt
    try:
        row = normalizer.normalize_advertiser(record, received_at=event.received_at, source_updated_at=time)
    except ValueError as exc:
        return Outcome.failed(str(exc))
    stored = conn.execute(sa.select(dealers.c.source_updated_at)
                          .where(dealers.c.dealer_id == row["dealer_id"])).scalar()
    if stored is not None and time <= stored:
        return Outcome.ignored(f"time {time.isoformat()} not later than stored {stored.isoformat()}")
    upsert_dealers(conn, [row], now=now)
    return Outcome.applied(f"unreadable time {unknown[0][1]!r}: ordered by receipt" if unknown else None)

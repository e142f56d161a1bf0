"""What every source's sync does alike: record each attempt in `sync_runs`, mark dealers no longer
listed as left, and apply a downloaded stock listing (removals only after a complete one).

The vendor modules (`autotrader_sync`, `webmotors_sync`) download and normalize; they decide
whether a listing is complete and hand it here, so the rule "a partial listing never removes
stock" lives in one place.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from dealer_pipeline.canonical.apply import apply_vehicles, mark_missing_removed, upsert_dealers
from dealer_pipeline.canonical.model import NormalizedBatch
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.repository import insert_many
from dealer_pipeline.store.schema import dealers, rejected_records, sync_runs
from dealer_pipeline.store.types import utcnow

ACTIVE = "active"
LEFT = "left_integration"


@dataclass
class BaselineResult:
    """One dealer's baseline: what was downloaded, what it did to `vehicles`, and whether it was complete."""

    dealer_id: str
    complete: bool = False
    pages: int = 0
    records: int = 0
    total: int = 0          # what the vendor said the listing holds (Webmotors `total`)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    removed: int = 0
    rejected: int = 0
    unknown_values: Counter = field(default_factory=Counter)
    error: str | None = None


def record_run(bind: sa.Engine | sa.Connection, source: str, dealer: str, kind: str, run_id: str | None,
               started: datetime, *, complete: bool, pages: int | None = None, records: int | None = None,
               created: int | None = None, updated: int | None = None, removed: int | None = None,
               error: str | None = None) -> None:
    """One `sync_runs` row; on an engine in its own transaction (a failed download keeps its row)."""
    row = dict(source=source, dealer_id=dealer, kind=kind, run_id=run_id, started_at=started,
               finished_at=utcnow(), complete=complete, pages=pages, records=records, created=created,
               updated=updated, removed=removed, error=error[:2000] if error else None)
    if isinstance(bind, sa.Engine):
        with transaction(bind) as conn:
            conn.execute(sa.insert(sync_runs).values(**row))
    else:
        bind.execute(sa.insert(sync_runs).values(**row))


def mark_left(conn: sa.Connection, source: str, listed_dealer_ids: Iterable[str], *, now: datetime,
              extra: Mapping[str, Any] | None = None) -> list[str]:
    """Mark the source's dealers absent from `listed_dealer_ids` as left; their source dealer ids."""
    listed = set(listed_dealer_ids)
    present = conn.execute(
        sa.select(dealers.c.dealer_id, dealers.c.source_dealer_id).where(
            dealers.c.source == source, dealers.c.status != LEFT)
    ).all()
    rows = [{"dealer_id": d, "source": source, "source_dealer_id": sid, "status": LEFT, "left_at": now,
             **dict(extra or {})}
            for d, sid in present if d not in listed]
    if rows:
        upsert_dealers(conn, rows, now=now)
    return [row["source_dealer_id"] for row in rows]


def keep_rejected(conn: sa.Connection, rejected: Sequence[tuple[Any, str]], *, source: str, kind: str,
                  dealer_id: str | None, run_id: str | None, now: datetime) -> int:
    """Store each record that could not be keyed or normalized, whole, with its reason (nothing is lost)."""
    rows = [{"source": source, "kind": kind, "dealer_id": dealer_id, "reason": reason[:2000], "run_id": run_id,
             "received_at": now, "raw": raw} for raw, reason in rejected]
    return insert_many(conn, rejected_records, rows)


def rejection_summary(rejected: Sequence[tuple[Any, str]]) -> str:
    """The three most common reasons records were rejected, with their counts."""
    reasons = Counter(reason for _, reason in rejected)
    return "; ".join(f"{n} x {reason}" for reason, n in reasons.most_common(3))


def apply_baseline(conn: sa.Connection, result: BaselineResult, batch: NormalizedBatch, *, source: str,
                   now: datetime, run_id: str | None, started: datetime, incomplete: str | None) -> None:
    """Apply a downloaded listing inside the caller's transaction and record the run.

    Vehicles the listing no longer holds are marked removed only when `incomplete` is None (the
    caller found the download whole, every record keyed); otherwise `incomplete` is the run's error.
    """
    applied = apply_vehicles(conn, batch.rows, cause="baseline", now=now, seen_in_baseline=True)
    result.created, result.updated = applied.created, applied.updated
    result.unchanged, result.stale = applied.unchanged, applied.stale
    result.unknown_values = batch.unknown_values
    result.rejected = keep_rejected(conn, batch.rejected, source=source, kind="stock", dealer_id=result.dealer_id,
                                    run_id=run_id, now=now)
    if incomplete is not None:
        result.error = incomplete
    else:
        present = {row["vehicle_id"] for row in batch.rows}
        result.removed = mark_missing_removed(conn, dealer_id=result.dealer_id, source=source,
                                              present_vehicle_ids=present, cause="baseline", now=now)
        result.complete = True
    record_run(conn, source, result.dealer_id, "baseline", run_id, started, complete=result.complete,
               pages=result.pages, records=result.records, created=result.created, updated=result.updated,
               removed=result.removed, error=result.error)

"""Webmotors syncs: dealers from the dealers file, and each dealer's stock baseline.

Rules (api/webmotors.md 2.2, issue 5, golive WM-STOCK-1):
* dealers: Webmotors dealers are the dealers file's `webmotors:` entries (there is no dealer
  list API); each is upserted into `dealers` (source `webmotors`, `source_dealer_id` = CNPJ
  digits, `raw` = the entry without credentials); a dealer no longer in the file becomes
  `left_integration`;
* baseline: every page of the dealer's stock list is downloaded before anything is written;
  the hits go through `apply_vehicles(cause="baseline")`, and vehicles absent from the
  listing are marked removed only when the download was complete, one consistent snapshot,
  and every hit could be keyed. A failed download changes nothing in `vehicles`; every
  attempt is a `sync_runs` row.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from dealer_pipeline.canonical.apply import apply_vehicles, mark_missing_removed, upsert_dealers
from dealer_pipeline.canonical.webmotors import normalize_stock
from dealer_pipeline.dealers_file import DealerEntry, DealersFile
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.schema import dealers, sync_runs
from dealer_pipeline.store.types import utcnow
from dealer_pipeline.vendors.webmotors import VENDOR, StockPage, WebmotorsClient, collect_listing, dealer_id

log = logging.getLogger(__name__)

SOURCE = VENDOR
ACTIVE = "active"
LEFT = "left_integration"


# ---- dealers -------------------------------------------------------------------------------
def dealer_row(entry: DealerEntry) -> dict[str, Any]:
    """The `dealers` row of a dealers-file entry; `raw` names the credential env vars, never their values."""
    publish: dict[str, Any] = {}
    if entry.autocosmos_adminmail:
        publish["autocosmos"] = {"adminmail": entry.autocosmos_adminmail}
    if entry.autochat_dealership_id:
        publish["autochat"] = {"dealership_id": entry.autochat_dealership_id}
    raw: dict[str, Any] = {"dealer_id": entry.dealer_id, "name": entry.name, "publish": publish}
    if entry.webmotors is not None:
        raw["webmotors"] = {"username_env": entry.webmotors.username_env,
                            "password_env": entry.webmotors.password_env}
    return {"dealer_id": entry.dealer_id, "source": SOURCE, "source_dealer_id": entry.source_dealer_id,
            "name": entry.name, "status": ACTIVE, "left_at": None, "raw": raw}


@dataclass
class DealersResult:
    listed: list[str] = field(default_factory=list)  # CNPJ digits of the file's Webmotors dealers
    left: list[str] = field(default_factory=list)    # CNPJs no longer in the file (marked now)


def sync_dealers(engine: sa.Engine, dealers_file: DealersFile, *, run_id: str | None = None) -> DealersResult:
    """Upsert the file's Webmotors dealers and mark the ones it no longer lists as left."""
    started = now = utcnow()
    entries = dealers_file.of_source(SOURCE)
    result = DealersResult(listed=[entry.source_dealer_id for entry in entries])
    listed = {entry.dealer_id for entry in entries}
    with transaction(engine) as conn:
        upsert_dealers(conn, [dealer_row(entry) for entry in entries], now=now)
        gone = conn.execute(
            sa.select(dealers.c.dealer_id, dealers.c.source_dealer_id).where(
                dealers.c.source == SOURCE, dealers.c.status != LEFT)
        ).all()
        left_rows = [{"dealer_id": d, "source": SOURCE, "source_dealer_id": cnpj, "status": LEFT, "left_at": now}
                     for d, cnpj in gone if d not in listed]
        if left_rows:
            upsert_dealers(conn, left_rows, now=now)
        result.left = [row["source_dealer_id"] for row in left_rows]
        _record_run(conn, dealer_id("*"), "dealers", run_id, started, complete=True, records=len(entries),
                    updated=len(entries), removed=len(left_rows))
    return result


# ---- baseline ------------------------------------------------------------------------------
@dataclass
class BaselineResult:
    dealer_id: str
    complete: bool = False
    pages: int = 0
    records: int = 0
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    removed: int = 0
    rejected: int = 0
    unknown_values: Counter = field(default_factory=Counter)
    error: str | None = None


def run_baseline(client: WebmotorsClient, engine: sa.Engine, entry: DealerEntry, *, run_id: str | None = None,
                 page_size: int | None = None) -> BaselineResult:
    """Download the dealer's whole stock list, then apply it in one transaction.

    Any failure while downloading (HTTP error, 401, malformed page, repeated page) is recorded
    as an incomplete `sync_runs` row and re-raised, with `vehicles` untouched.
    """
    result = BaselineResult(entry.dealer_id)
    started = utcnow()
    pages: list[StockPage] = []
    try:
        for page in client.iter_stock(page_size):
            pages.append(page)
    except Exception as exc:
        result.pages, result.records, result.error = len(pages), sum(len(p.hits) for p in pages), str(exc)
        _record_run(engine, result.dealer_id, "baseline", run_id, started, complete=False, pages=result.pages,
                    records=result.records, error=result.error)
        raise
    listing = collect_listing(iter(pages), client.hit_id)
    result.pages, result.records, result.total = listing.pages, len(listing.hits), listing.total
    now = utcnow()
    batch = normalize_stock(listing.hits, dealer_id=entry.dealer_id, received_at=now)
    result.unknown_values = batch.unknown_values
    result.rejected = len(batch.rejected)
    with transaction(engine) as conn:
        upsert_dealers(conn, [dealer_row(entry)], now=now)
        applied = apply_vehicles(conn, batch.rows, cause="baseline", now=now, seen_in_baseline=True)
        result.created, result.updated = applied.created, applied.updated
        result.unchanged, result.stale = applied.unchanged, applied.stale
        problems = []
        if batch.rejected:
            reasons = Counter(reason for _, reason in batch.rejected)
            problems.append(f"{len(batch.rejected)} hits could not be keyed: "
                            + "; ".join(f"{n} x {reason}" for reason, n in reasons.most_common(3)))
        if not listing.consistent:
            problems.append(f"the stock moved during the download ({listing.note})")
        if problems:
            result.error = "nothing was marked removed: " + "; ".join(problems)
        else:
            present = {row["vehicle_id"] for row in batch.rows}
            result.removed = mark_missing_removed(conn, dealer_id=entry.dealer_id, source=SOURCE,
                                                  present_vehicle_ids=present, cause="baseline", now=now)
            result.complete = True
        _record_run(conn, result.dealer_id, "baseline", run_id, started, complete=result.complete,
                    pages=result.pages, records=result.records, created=result.created, updated=result.updated,
                    removed=result.removed, error=result.error)
    if result.error:
        log.warning("baseline of %s applied but not complete: %s", entry.dealer_id, result.error)
    return result


# ---- sync_runs -----------------------------------------------------------------------------
def _record_run(bind: sa.Engine | sa.Connection, dealer: str, kind: str, run_id: str | None, started: datetime,
                *, complete: bool, pages: int | None = None, records: int | None = None,
                created: int | None = None, updated: int | None = None, removed: int | None = None,
                error: str | None = None) -> None:
    row = dict(source=SOURCE, dealer_id=dealer, kind=kind, run_id=run_id, started_at=started,
               finished_at=utcnow(), complete=complete, pages=pages, records=records, created=created,
               updated=updated, removed=removed, error=error[:2000] if error else None)
    if isinstance(bind, sa.Engine):
        with transaction(bind) as conn:
            conn.execute(sa.insert(sync_runs).values(**row))
    else:
        bind.execute(sa.insert(sync_runs).values(**row))

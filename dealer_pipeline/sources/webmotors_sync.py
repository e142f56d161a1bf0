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
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from dealer_pipeline.canonical.apply import upsert_dealers
from dealer_pipeline.canonical.webmotors import normalize_stock
from dealer_pipeline.dealers_file import DealerEntry, DealersFile
from dealer_pipeline.sources.runs import ACTIVE, BaselineResult, apply_baseline, mark_left, record_run, \
    rejection_summary
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.types import utcnow
from dealer_pipeline.vendors.webmotors import VENDOR, StockPage, WebmotorsClient, collect_listing, dealer_id

log = logging.getLogger(__name__)

SOURCE = VENDOR


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
        result.left = mark_left(conn, SOURCE, listed, now=now)
        record_run(conn, SOURCE, dealer_id("*"), "dealers", run_id, started, complete=True, records=len(entries),
                   updated=len(entries), removed=len(result.left))
    return result


# ---- baseline ------------------------------------------------------------------------------
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
        record_run(engine, SOURCE, result.dealer_id, "baseline", run_id, started, complete=False,
                   pages=result.pages, records=result.records, error=result.error)
        raise
    listing = collect_listing(iter(pages), client.hit_id)
    result.pages, result.records, result.total = listing.pages, len(listing.hits), listing.total
    now = utcnow()
    batch = normalize_stock(listing.hits, dealer_id=entry.dealer_id, received_at=now)
    problems = []
    if batch.rejected:
        problems.append(f"{len(batch.rejected)} hits could not be keyed: {rejection_summary(batch.rejected)}")
    if not listing.consistent:
        problems.append(f"the stock moved during the download ({listing.note})")
    with transaction(engine) as conn:
        upsert_dealers(conn, [dealer_row(entry)], now=now)
        apply_baseline(conn, result, batch, source=SOURCE, now=now, run_id=run_id, started=started,
                       incomplete="nothing was marked removed: " + "; ".join(problems) if problems else None)
    if result.error:
        log.warning("baseline of %s applied but not complete: %s", entry.dealer_id, result.error)
    return result

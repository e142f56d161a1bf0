"""Autotrader syncs: advertisers, the per-advertiser stock baseline, features and charge times.

Rules (api/autotrader.md 2.2-2.5, golive AT-ADV/BASE/FEAT/CHG):
* advertisers: every page is read before anything is written; listed advertisers are
  upserted into `dealers`, dealers no longer listed become `left_integration`;
* baseline: every page of one advertiser's stock is downloaded before anything is written;
  the rows go through `apply_vehicles(cause="baseline")`, and vehicles absent from the
  listing are marked removed only when the download was complete and every record could be
  keyed. A failed download changes nothing in `vehicles`; every attempt is a `sync_runs` row;
* features and charge times are fetched per stock item by state, not by schedule: a
  `stock_enrichments` row remembers the derivativeId (and, for features, a hash of the
  record's features) it was fetched for, and the call is made again only when those change.
  Only vehicles that can be advertised (available, reserved) are enriched; charge times
  only for electric and plug-in hybrid ones (canonical fuel_type). The taxonomy returned by
  the features endpoint (every feature the derivative can have) stays in
  `stock_enrichments.payload`; `vehicles.features` keeps the record's own features.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from dealer_pipeline.canonical.apply import upsert_dealers
from dealer_pipeline.canonical.autotrader import normalize_advertiser, normalize_stock
from dealer_pipeline.sources.runs import ACTIVE, LEFT, BaselineResult, apply_baseline, keep_rejected, \
    mark_left, record_run, rejection_summary
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.repository import upsert
from dealer_pipeline.store.schema import dealers, stock_enrichments, vehicles
from dealer_pipeline.store.types import utcnow
from dealer_pipeline.vendors.autotrader import VENDOR, AutotraderClient, dealer_id
from dealer_pipeline.vendors.factory import VendorClients

log = logging.getLogger(__name__)

SOURCE = VENDOR
#: Availabilities worth enriching: the vehicle can still be advertised.
LIVE = ("available", "reserved")
#: Canonical fuel types that have charge times.
CHARGEABLE = ("electric", "plugin_hybrid")
FEATURES, CHARGE_TIMES = "features", "charge_times"
WRITE_EVERY = 50  # enrichment results are saved in batches, so a failure keeps what was fetched


# ---- advertisers ---------------------------------------------------------------------------
@dataclass
class AdvertisersResult:
    listed: int = 0
    active: list[str] = field(default_factory=list)      # advertiserIds to sync (status active)
    inactive: list[str] = field(default_factory=list)    # listed, not active
    left: list[str] = field(default_factory=list)        # dealers no longer listed (marked now)
    rejected: list[str] = field(default_factory=list)    # records that could not be keyed


def sync_advertisers(client: AutotraderClient, engine: sa.Engine, *, run_id: str | None = None,
                     page_size: int | None = None) -> AdvertisersResult:
    """Read every advertiser page, upsert `dealers`, mark dealers no longer listed as left."""
    started = utcnow()
    result = AdvertisersResult()
    try:
        records = list(client.iter_advertisers(page_size))
    except Exception as exc:
        record_run(engine, SOURCE, dealer_id("*"), "advertisers", run_id, started, complete=False, error=str(exc))
        raise
    now = utcnow()
    rows, unkeyed = _advertiser_rows(records, now, result)
    listed_ids = {row["dealer_id"] for row in rows}
    with transaction(engine) as conn:
        applied = upsert_dealers(conn, rows, now=now)
        keep_rejected(conn, unkeyed, source=SOURCE, kind="advertiser", dealer_id=None, run_id=run_id, now=now)
        if not result.rejected:  # an unkeyable record might be one of the dealers not listed
            result.left = mark_left(conn, SOURCE, listed_ids, now=now, extra={"source_updated_at": now})
        record_run(conn, SOURCE, dealer_id("*"), "advertisers", run_id, started, complete=not result.rejected,
                   records=len(records), updated=applied, removed=len(result.left),
                   error=f"{len(result.rejected)} advertiser records rejected" if result.rejected else None)
    return result


def refresh_advertisers(client: AutotraderClient, engine: sa.Engine, advertiser_ids: Sequence[str], *,
                        run_id: str | None = None) -> AdvertisersResult:
    """Check only these advertisers, one `GET /advertisers?advertiserId=` each (AT-ADV-3): a listed one
    is upserted, one no longer on the integration (empty results) is marked left. Other dealers are
    untouched, so this never stands in for the full listing."""
    result = AdvertisersResult()
    records, gone = [], []
    for advertiser_id in dict.fromkeys(str(a) for a in advertiser_ids):
        record = client.get_advertiser(advertiser_id)
        (gone.append(advertiser_id) if record is None else records.append(record))
    now = utcnow()
    rows, unkeyed = _advertiser_rows(records, now, result)
    with transaction(engine) as conn:
        upsert_dealers(conn, rows, now=now)
        keep_rejected(conn, unkeyed, source=SOURCE, kind="advertiser", dealer_id=None, run_id=run_id, now=now)
        if gone:
            known = {row.dealer_id for row in conn.execute(
                sa.select(dealers.c.dealer_id).where(dealers.c.dealer_id.in_([dealer_id(a) for a in gone])))}
            left = [{"dealer_id": dealer_id(a), "source": SOURCE, "source_dealer_id": a, "status": LEFT,
                     "left_at": now, "source_updated_at": now} for a in gone if dealer_id(a) in known]
            upsert_dealers(conn, left, now=now)
            result.left = [row["source_dealer_id"] for row in left]
    return result


def _advertiser_rows(records: Sequence[Any], now: datetime, result: AdvertisersResult
                     ) -> tuple[list[dict[str, Any]], list[tuple[Any, str]]]:
    """`dealers` rows of the records that can be keyed (sorted into active and inactive in `result`),
    and the records that cannot, with the reason."""
    rows, unkeyed = [], []
    for record in records:
        try:
            row = normalize_advertiser(record, received_at=now)
        except ValueError as exc:
            result.rejected.append(str(exc))
            unkeyed.append((record, str(exc)))
            continue
        rows.append({**row, "left_at": None})
        (result.active if row["status"] == ACTIVE else result.inactive).append(row["source_dealer_id"])
    result.listed = len(rows)
    return rows, unkeyed


# ---- baseline ------------------------------------------------------------------------------
def run_baseline(client: AutotraderClient, engine: sa.Engine, advertiser_id: str, *,
                 run_id: str | None = None, page_size: int | None = None) -> BaselineResult:
    """Download the advertiser's whole stock listing, then apply it in one transaction."""
    result = BaselineResult(dealer_id(advertiser_id))
    started = utcnow()
    records: list[dict[str, Any]] = []
    try:
        for page in client.iter_stock(advertiser_id, page_size):
            result.pages += 1
            records.extend(page.results)
    except Exception as exc:
        result.records = len(records)
        result.error = str(exc)
        record_run(engine, SOURCE, result.dealer_id, "baseline", run_id, started, complete=False,
                   pages=result.pages, records=len(records), error=result.error)
        raise
    result.records = len(records)
    now = utcnow()
    batch = normalize_stock(records, received_at=now, advertiser_id=advertiser_id)
    incomplete = None
    if batch.rejected:
        incomplete = (f"{len(batch.rejected)} records could not be keyed, so nothing was marked removed: "
                      + rejection_summary(batch.rejected))
    with transaction(engine) as conn:
        apply_baseline(conn, result, batch, source=SOURCE, now=now, run_id=run_id, started=started,
                       incomplete=incomplete)
    return result


# ---- enrichments ---------------------------------------------------------------------------
@dataclass
class EnrichmentResult:
    kind: str
    candidates: int = 0   # vehicles eligible for the call
    calls: int = 0        # items fetched now (first time, or their derivative/features changed)
    skipped: int = 0      # already fetched for the current derivative/features
    absent: int = 0       # Autotrader answered 404 for the item
    empty: int = 0        # an empty list (normal for charge times of non-plug-ins)
    not_eligible: int = 0  # live vehicles outside the rule (charge times: not electric/plug-in)
    enabled: bool = True


def features_hash(features: Any) -> str:
    """A stable hash of a record's features (key order and whitespace do not matter)."""
    return hashlib.sha256(json.dumps(features, sort_keys=True, separators=(",", ":"), default=str).encode()
                          ).hexdigest()


def sync_features(client: AutotraderClient, engine: sa.Engine, advertiser_id: str, *,
                  concurrency: int = 4, vehicle_ids: Sequence[str] | None = None) -> EnrichmentResult:
    """Fetch features for live stock never fetched, or whose derivativeId or features changed."""
    result = EnrichmentResult(FEATURES)
    due = []
    for row in _live_vehicles(engine, advertiser_id, FEATURES, vehicle_ids):
        result.candidates += 1
        digest = features_hash(row.features)
        if row.fetched_derivative == row.derivative_id and row.fetched_hash == digest and row.fetched_at:
            result.skipped += 1
        else:
            due.append((row, digest))
    _fetch(engine, due, FEATURES, lambda r: client.get_stock_features(r.source_vehicle_id, advertiser_id),
           result, concurrency, payload_key="features")
    return result


def sync_charge_times(client: AutotraderClient, engine: sa.Engine, advertiser_id: str, *,
                      concurrency: int = 4, vehicle_ids: Sequence[str] | None = None) -> EnrichmentResult:
    """Fetch charge times for live EV/PHEV stock never fetched, or whose derivativeId changed."""
    result = EnrichmentResult(CHARGE_TIMES, enabled=client.charge_times_enabled)
    if not client.charge_times_enabled:
        return result  # switched off: nothing to read or call
    due = []
    for row in _live_vehicles(engine, advertiser_id, CHARGE_TIMES, vehicle_ids):
        if row.fuel_type not in CHARGEABLE:
            result.not_eligible += 1
            continue
        result.candidates += 1
        if row.fetched_at is not None and row.fetched_derivative == row.derivative_id:
            result.skipped += 1
        else:
            due.append((row, None))
    _fetch(engine, due, CHARGE_TIMES, lambda r: client.get_charge_times(r.source_vehicle_id, advertiser_id),
           result, concurrency, payload_key="chargeTimes")
    return result


def refresh_enrichments(engine: sa.Engine, wanted: Mapping[str, set[str]], *,
                        clients: VendorClients | None = None) -> int:
    """Enrichments for vehicles whose derivativeId or features a notification just changed.

    Called after webhook events are applied, with the run's `clients` (the environment's when
    None); the same state rule decides, so an item is never fetched twice for one change,
    whoever gets to it first. Returns the calls made.
    """
    by_dealer: dict[str, dict[str, list[str]]] = {}
    with engine.connect() as conn:
        owners = dict(conn.execute(
            sa.select(vehicles.c.vehicle_id, vehicles.c.dealer_id).where(
                vehicles.c.vehicle_id.in_(list(wanted)), vehicles.c.source == SOURCE)
        ).all())
    for vid, kinds in wanted.items():
        if vid in owners:
            for kind in kinds:
                by_dealer.setdefault(owners[vid], {}).setdefault(kind, []).append(vid)
    calls = 0
    with (clients or VendorClients(engine)).autotrader() as client:
        for dealer, kinds in by_dealer.items():
            advertiser_id = dealer.split(":", 1)[1]
            if FEATURES in kinds:
                calls += sync_features(client, engine, advertiser_id, vehicle_ids=kinds[FEATURES]).calls
            if CHARGE_TIMES in kinds:
                calls += sync_charge_times(client, engine, advertiser_id, vehicle_ids=kinds[CHARGE_TIMES]).calls
    return calls


def _live_vehicles(engine: sa.Engine, advertiser_id: str, kind: str,
                   vehicle_ids: Sequence[str] | None = None) -> Sequence[sa.Row]:
    v, e = vehicles.c, stock_enrichments.alias("e")
    query = (
        sa.select(v.vehicle_id, v.source_vehicle_id, v.derivative_id, v.features, v.fuel_type,
                  e.c.derivative_id.label("fetched_derivative"), e.c.features_hash.label("fetched_hash"),
                  e.c.fetched_at)
        .select_from(vehicles.outerjoin(e, sa.and_(e.c.vehicle_id == v.vehicle_id, e.c.kind == kind)))
        .where(v.dealer_id == dealer_id(advertiser_id), v.source == SOURCE, v.availability.in_(LIVE))
        .order_by(v.vehicle_id)
    )
    if vehicle_ids is not None:
        query = query.where(v.vehicle_id.in_(list(vehicle_ids)))
    with engine.connect() as conn:
        return conn.execute(query).all()


def _fetch(engine: sa.Engine, due: Sequence[tuple[sa.Row, str | None]], kind: str,
           call: Callable[[sa.Row], list | None], result: EnrichmentResult, concurrency: int,
           payload_key: str) -> None:
    """Call for each due item, a few at a time, saving results in batches as they come.

    After the first failure nothing new is submitted; calls already in flight finish and
    their results are saved (so they are not fetched twice), then the failure is raised.
    """
    pending: list[dict[str, Any]] = []
    first_error: BaseException | None = None
    items = iter(due)

    def one(item: tuple[sa.Row, str | None]) -> tuple[sa.Row, str | None, list | None]:
        row, digest = item
        return row, digest, call(row)

    def save() -> None:
        if pending:
            with transaction(engine) as conn:
                upsert(conn, stock_enrichments, pending)
            pending.clear()

    workers = max(1, concurrency)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        in_flight: set[Future] = set()

        def submit_next() -> None:
            item = next(items, None)
            if item is not None:
                in_flight.add(pool.submit(one, item))

        for _ in range(workers):
            submit_next()
        while in_flight:
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                in_flight.discard(future)
                try:
                    row, digest, payload = future.result()
                except Exception as exc:  # noqa: BLE001 - kept, raised after in-flight calls finish
                    first_error = first_error or exc
                    continue
                result.calls += 1
                if payload is None:
                    result.absent += 1
                elif not payload:
                    result.empty += 1
                pending.append({
                    "vehicle_id": row.vehicle_id, "kind": kind, "derivative_id": row.derivative_id,
                    "features_hash": digest, "fetched_at": utcnow(),
                    "payload": None if payload is None else {payload_key: payload},
                })
                if first_error is None:
                    submit_next()
            if len(pending) >= WRITE_EVERY:
                save()
    save()
    if first_error is not None:
        raise first_error

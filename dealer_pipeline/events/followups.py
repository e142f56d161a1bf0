"""Vendor calls that applied events ask for, made after their transaction committed.

* A vehicle whose `derivative_id` or `features` changed needs its stock features (and, for a
  derivative change, its charge times) fetched again: AT-FEAT-2 / AT-CHG-3.
* A newly stored Webmotors lead needs its detail fetched with the dealer's token (WM-LEAD-1);
  that fetch is also what makes an unsigned notice trustworthy.

Clients come from `clients` (`vendors.factory.VendorClients`): the Dagster run hands down its
resources' settings, so an override there reaches these calls; without it, the environment's.

A failure here never un-applies an event: the need stays visible in the store (an
enrichment whose recorded derivativeId/features hash no longer matches the vehicle is stale
and the next enrichment run fetches it; a lead with `detail` NULL is still to fetch).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import sqlalchemy as sa

from dealer_pipeline.events.model import Followups
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.schema import leads

if TYPE_CHECKING:  # the vendor clients are imported when a follow-up needs them
    from dealer_pipeline.vendors.factory import VendorClients

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class FollowupReport:
    refetch_calls: int = 0  # vendor calls the enrichment rule made
    lead_details_fetched: int = 0
    lead_details_pending: int = 0  # not fetched: Webmotors does not know the lead, or the call failed
    error: str | None = None  # why a follow-up stopped (the need stays recorded in the store)


def _needs_an_operator(exc: Exception) -> bool:
    """A block or a rejected input: already recorded in `api_blocks` with an action; retrying is useless."""
    from dealer_pipeline.http.errors import BadRequest, VendorBlocked

    return isinstance(exc, (VendorBlocked, BadRequest))


def run(engine: sa.Engine, work: Followups, *, raise_errors: bool = False,
        clients: VendorClients | None = None) -> FollowupReport:
    """Make the calls `work` asks for with `clients`; with `raise_errors` a vendor failure propagates,
    except a block or rejected input (recorded in `api_blocks` for an operator, reported here)."""
    if clients is None:
        from dealer_pipeline.vendors.factory import VendorClients

        clients = VendorClients(engine)
    calls, errors = 0, []
    if work.refetch:
        from dealer_pipeline.sources.autotrader_sync import refresh_enrichments

        try:
            calls = refresh_enrichments(engine, work.refetch, clients=clients)
        except Exception as exc:  # the events stay applied; the need stays visible in the store
            if raise_errors and not _needs_an_operator(exc):
                raise
            errors.append(f"enrichments: {type(exc).__name__}: {exc}")
            log.warning("refetching enrichments for %d vehicles failed (%s); the next enrichment run "
                        "picks them up", len(work.refetch), type(exc).__name__)
    if work.advertisers:
        errors += _refresh_advertisers(clients, sorted(work.advertisers), raise_errors=raise_errors)
    fetched = 0
    if work.lead_details:
        fetched, lead_errors = _lead_details(clients, work.lead_details, raise_errors=raise_errors)
        errors += lead_errors
    return FollowupReport(refetch_calls=calls, lead_details_fetched=fetched,
                          lead_details_pending=len(work.lead_details) - fetched,
                          error="; ".join(errors) or None)


def _refresh_advertisers(clients: VendorClients, advertiser_ids: Sequence[str], *, raise_errors: bool) -> list[str]:
    """Re-read advertisers whose notice was incomplete, one `?advertiserId=` call each (AT-ADV-3)."""
    from dealer_pipeline.sources.autotrader_sync import refresh_advertisers

    try:
        with clients.autotrader() as client:
            refresh_advertisers(client, clients.engine, advertiser_ids, run_id=clients.run_id)
    except Exception as exc:  # the event stays applied; the next advertisers run reads every dealer anyway
        if raise_errors and not _needs_an_operator(exc):
            raise
        log.warning("re-reading %d advertisers failed (%s)", len(advertiser_ids), type(exc).__name__)
        return [f"advertisers: {type(exc).__name__}: {exc}"]
    return []


def _lead_details(clients: VendorClients, wanted: Sequence[tuple[str | None, str, str | None]], *,
                  raise_errors: bool) -> tuple[int, list[str]]:
    """Fetch each new lead's detail with its dealer's token; store it (and the ad it is about)."""
    from dealer_pipeline.canonical.webmotors import vehicle_id

    engine = clients.engine
    by_dealer: dict[str | None, list[tuple[str, str | None]]] = {}
    for dealer, lead_key, lead_type in wanted:
        by_dealer.setdefault(dealer, []).append((lead_key, lead_type))
    fetched, errors = 0, []
    for dealer, items in by_dealer.items():
        if dealer is None:
            errors.append(f"leads {[key for key, _ in items]}: the notice names no dealer (Cnpj)")
            continue
        try:
            with clients.webmotors(dealer) as client:
                for lead_key, lead_type in items:
                    detail = client.get_lead(lead_key, lead_type or "")
                    if detail is None:
                        errors.append(f"lead {lead_key}: Webmotors does not know it for {dealer}")
                        continue
                    ad = detail.get("anuncio") if isinstance(detail.get("anuncio"), dict) else {}
                    with transaction(engine) as conn:
                        conn.execute(
                            sa.update(leads)
                            .where(leads.c.source == "webmotors", leads.c.lead_key == lead_key)
                            .values(detail=detail, vehicle_id=vehicle_id(ad["id"]) if ad.get("id") else None)
                        )
                    fetched += 1
        except Exception as exc:  # the lead stays stored, detail NULL: still to fetch
            if raise_errors and not _needs_an_operator(exc) and not isinstance(exc, ValueError):
                raise
            errors.append(f"leads of {dealer}: {type(exc).__name__}: {exc}")
            log.warning("lead detail for %s failed (%s)", dealer, type(exc).__name__)
    return fetched, errors

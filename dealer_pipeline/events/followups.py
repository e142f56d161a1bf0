"""Vendor calls that applied events ask for, made after their transaction committed.

* A vehicle whose `derivative_id` or `features` changed needs its stock features (and, for a
  derivative change, its charge times) fetched again: AT-FEAT-2 / AT-CHG-3.
* A newly stored Webmotors lead needs its detail fetched with the dealer's token.

A failure here never un-applies an event: the need stays visible in the store (an
enrichment whose recorded derivativeId/features hash no longer matches the vehicle is stale
and the next enrichment run fetches it; a lead with `detail` NULL is still to fetch).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Mapping

import sqlalchemy as sa

from dealer_pipeline.events.model import Followups

log = logging.getLogger(__name__)

#: (engine, vehicle_id -> kinds) -> how many vehicles were refreshed.
Refetcher = Callable[[sa.Engine, Mapping[str, set[str]]], int]


@dataclass(frozen=True)
class FollowupReport:
    refetch_calls: int = 0  # vendor calls the enrichment rule made
    lead_details_pending: int = 0
    error: str | None = None  # why the refetch failed (the need stays recorded in the store)


def _autotrader_refetcher() -> Refetcher | None:
    """The Autotrader sync's enrichment rule, when that module is installed."""
    try:
        from dealer_pipeline.sources import autotrader_sync  # type: ignore[attr-defined]
    except ImportError:
        return None
    return getattr(autotrader_sync, "refresh_enrichments", None)


def _needs_an_operator(exc: Exception) -> bool:
    """A block or a rejected input: already recorded in `api_blocks` with an action; retrying is useless."""
    from dealer_pipeline.http.errors import BadRequest, VendorBlocked

    return isinstance(exc, (VendorBlocked, BadRequest))


def run(engine: sa.Engine, work: Followups, *, raise_errors: bool = False) -> FollowupReport:
    """Make the calls `work` asks for; with `raise_errors` a vendor failure propagates, except
    a block or rejected input (recorded in `api_blocks` for an operator, reported here)."""
    calls, error = 0, None
    if work.refetch:
        refetcher = _autotrader_refetcher()
        if refetcher is None:
            log.info("%d vehicles changed derivativeId or features: their enrichments are stale and are "
                     "fetched by the next stock features run", len(work.refetch))
        else:
            try:
                calls = refetcher(engine, work.refetch)
            except Exception as exc:  # the events stay applied; the need stays visible in the store
                if raise_errors and not _needs_an_operator(exc):
                    raise
                error = f"{type(exc).__name__}: {exc}"
                log.warning("refetching enrichments for %d vehicles failed (%s); the next enrichment run "
                            "picks them up", len(work.refetch), type(exc).__name__)
    if work.lead_details:
        log.info("%d new leads: detail fetch pending (leads.detail is NULL)", len(work.lead_details))
    return FollowupReport(refetch_calls=calls, lead_details_pending=len(work.lead_details), error=error)

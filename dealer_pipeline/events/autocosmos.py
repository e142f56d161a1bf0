"""Autocosmos webhooks: `invitacionagencia_aceptada` links the agency to our dealer.

The body is not covered by the vendor's signature, so the link only records what the
agency said; publishing confirms access to the agency through the API before it relies
on it. The dealer is the one whose dealers-file entry publishes to that adminmail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable

import sqlalchemy as sa

from dealer_pipeline.canonical import convert
from dealer_pipeline.events.model import Outcome, StoredEvent
from dealer_pipeline.store import repository
from dealer_pipeline.store.schema import agency_links

AGENCY_ACCEPTED = "invitacionagencia_aceptada"

#: adminmail -> dealer_id (None when no dealer publishes there)
DealerByAdminmail = Callable[[str], "str | None"]


def apply_agency_accepted(
    conn: sa.Connection, event: StoredEvent, *, now: datetime, dealer_for: DealerByAdminmail
) -> Outcome:
    adminmail = convert.text(event.payload.get("AdminMail"))
    if adminmail is None or "@" not in adminmail:
        return Outcome.failed("invitacionagencia_aceptada without an AdminMail e-mail")
    adminmail = adminmail.strip().lower()
    dealer_id = dealer_for(adminmail)
    accepted = convert.timestamp(event.payload.get("AceptadaEn"), "AceptadaEn", lambda n, v: None,
                                 received_at=event.received_at)
    repository.upsert(
        conn,
        agency_links,
        [{
            "adminmail": adminmail,
            "dealer_id": dealer_id,
            "agency_name": convert.text(event.payload.get("Agencia")),
            "accepted_at": accepted or event.received_at,
            "linked_at": now,
            "raw": event.payload,
        }],
    )
    if dealer_id is None:
        return Outcome.applied(f"no dealer in the dealers file publishes to {adminmail}; link kept without a dealer")
    return Outcome.applied()

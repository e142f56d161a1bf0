"""Autocosmos webhooks: `invitacionagencia_aceptada` links the agency to our dealer.

The body is not covered by the vendor's signature, so the link only records what the
agency said; publishing confirms access to the agency through the API before it relies
on it. The dealer is the one whose dealers-file entry publishes to that adminmail.

The acceptance is the vendor saying that the cause of a 403 block for that dealer (the agency
was not linked to our app) is gone: such open blocks are resolved with the event as their note,
and the dealer's publishing is requested at once (`republish`). Should the link still be
missing, the publish run's first call is refused again and blocks the dealer again, so a
forged body costs one refused call. Blocks no vendor signal can clear stay for a person.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable

import sqlalchemy as sa

from dealer_pipeline.canonical import convert
from dealer_pipeline.events import republish
from dealer_pipeline.events.model import Outcome, StoredEvent
from dealer_pipeline.http.blocks import lift_blocks
from dealer_pipeline.store import repository
from dealer_pipeline.store.schema import agency_links

AGENCY_ACCEPTED = "invitacionagencia_aceptada"
VENDOR = "autocosmos"
#: Block reasons an accepted invitation clears: Autocosmos refusing the agency (not linked to our app).
CLEARED_BY_ACCEPTANCE = ("403",)

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
    return _clear_and_republish(conn, event, dealer_id, adminmail, now)


def _clear_and_republish(conn: sa.Connection, event: StoredEvent, dealer_id: str, adminmail: str,
                         now: datetime) -> Outcome:
    note = (f"lifted by Autocosmos: agency {adminmail} accepted our invitation ({AGENCY_ACCEPTED} webhook, "
            f"event {event.id}, hook {event.event_key}, received {event.received_at.isoformat()})")
    lifted = lift_blocks(conn, vendor=VENDOR, dealer_id=dealer_id, reasons=CLEARED_BY_ACCEPTANCE, note=note,
                         now=now)
    reason = f"agency {adminmail} accepted" + (f"; blocks {', '.join(map(str, lifted))} lifted" if lifted else "")
    republish.record(conn, [republish.PublishRequest(dealer_id, reason, event_id=event.id)], now)
    return Outcome.applied(f"blocks {', '.join(map(str, lifted))} lifted" if lifted else None)

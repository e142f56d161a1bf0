"""Webmotors lead notices: the lead is stored once; its detail is fetched after the commit.

A notice carries only ids (`IdLead`, `IdTipoLead`, the dealer's `Cnpj`); the detail comes
from the lead API with that dealer's token, which is also what makes an unsigned notice
trustworthy. `leads.detail` stays NULL until the detail has been fetched.
"""

from __future__ import annotations

import sqlalchemy as sa

from dealer_pipeline.canonical import convert
from dealer_pipeline.events.model import Followups, Outcome, StoredEvent
from dealer_pipeline.store import repository
from dealer_pipeline.store.schema import leads

SOURCE = "webmotors"


def store_lead(conn: sa.Connection, event: StoredEvent, *, followups: Followups) -> Outcome:
    lead_key = convert.text(event.payload.get("IdLead"))
    if lead_key is None:
        return Outcome.failed("lead notice without IdLead")
    inserted = repository.insert_ignore(
        conn,
        leads,
        {
            "source": SOURCE,
            "lead_key": lead_key.strip(),
            "dealer_id": event.dealer_id,
            "received_at": event.received_at,
            "payload": event.payload,
        },
        conflict_columns=["source", "lead_key"],
    )
    if not inserted:
        return Outcome.ignored(f"lead {lead_key} already stored")
    followups.lead_details.append((event.dealer_id, lead_key.strip(), convert.text(event.payload.get("IdTipoLead"))))
    return Outcome.applied()

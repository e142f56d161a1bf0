"""Leads raised on our channels: Autocosmos enquiries -> `leads` -> the dealer's Cockpit CRM (WM-LEAD-2).

Polling (api/autocosmos.md 2.6): per agency, `GET /v3/consultas/{adminmail}?desde=` with the
newest `Fecha` already stored (`desde` is inclusive, so the boundary second comes back and
is deduplicated by the enquiry `Id`: `lead_key` = `<adminmail>/<Id>`, unique per source).
Each enquiry is stored raw in `leads` (source `autocosmos`), with the dealer of the agency and
the vehicle its ExternalId names (looked up in our Autocosmos `publications`).

Forwarding (api/webmotors.md 2.6), for Webmotors dealers only, **once each**: a lead is
claimed (`forward_status` pending -> sending, one conditional UPDATE) in its own committed
transaction before `POST /crm/v1/leads`, and marked `forwarded` (with `forwarded_at` and the
CRM id) after. The run follows the publishing engine's failure semantics (`engine.py`: a
blocked or transient failure stops it, the leads not reached stay `pending`). Whatever leaves
the outcome unknown (a timeout, a 5xx, an unreadable 2xx, or a process that died while
`sending`) marks it `needs_operator`: it is never re-sent automatically, because Webmotors may
already hold it. Only answers Webmotors gives before acting (429 after the client's own
re-sends, 401, a block, a call never sent) put it back to `pending` for the next run. A
400/422 is `rejected` with the vendor's reason.

`forward_status`: `pending`, `sending`, `forwarded`, `needs_operator`, `rejected`,
`not_applicable` (the dealer has no Cockpit CRM: not a Webmotors dealer), `malformed`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

import sqlalchemy as sa

from dealer_pipeline.dealers_file import DealerEntry
from dealer_pipeline.http import AuthFailed, VendorError, WaitBudgetExceeded
from dealer_pipeline.publishing.core import SOURCE_PREFIX
from dealer_pipeline.publishing.engine import NotSendable, Outcome, Report, run
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.repository import insert_ignore
from dealer_pipeline.store.schema import leads, publications, vehicles
from dealer_pipeline.store.types import utcnow
from dealer_pipeline.vendors.webmotors import WebmotorsClient

log = logging.getLogger(__name__)

SOURCE = "autocosmos"
PENDING, SENDING, FORWARDED = "pending", "sending", "forwarded"
NEEDS_OPERATOR, REJECTED, NOT_APPLICABLE, MALFORMED = "needs_operator", "rejected", "not_applicable", "malformed"
#: A claim older than this is a process that died mid-send (longer than any call's wait budget).
STALE_CLAIM = timedelta(minutes=15)
CURSOR_WINDOW = 50  # newest rows read to find the last Fecha (entries arrive oldest first)

#: (adminmail, desde) -> the agency's enquiries with `Fecha` >= desde, oldest first.
FetchEnquiries = Callable[[str, "datetime | None"], list[Mapping[str, Any]]]


def lead_key(adminmail: str, enquiry_id: str) -> str:
    return f"{adminmail.strip().lower()}/{enquiry_id}"


def parse_fecha(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def last_seen(conn: sa.Connection, dealer_id: str) -> datetime | None:
    """The newest `Fecha` among the dealer's stored enquiries (the next poll's `desde`)."""
    payloads = conn.execute(
        sa.select(leads.c.payload).where(leads.c.source == SOURCE, leads.c.dealer_id == dealer_id)
        .order_by(leads.c.id.desc()).limit(CURSOR_WINDOW)
    ).scalars()
    seen = [parse_fecha(p.get("Fecha")) for p in payloads if isinstance(p, dict)]
    return max((s for s in seen if s is not None), default=None)


def vehicle_of(conn: sa.Connection, dealer_id: str, adminmail: str, external_id: str) -> str | None:
    """Our vehicle behind an ExternalId: its Autocosmos publication, else the id's own form (`wm-<id>`)."""
    found = conn.execute(
        sa.select(publications.c.vehicle_id).where(
            publications.c.target == "autocosmos", publications.c.dealer_id == dealer_id,
            sa.func.lower(publications.c.external_id) == external_id.lower(),
        )
    ).scalars().first()
    if found:
        return found
    prefix, _, rest = external_id.partition("-")
    source = next((s for s, p in SOURCE_PREFIX.items() if p == prefix.lower()), None)
    if source is None or not rest or "~" in rest:
        return None
    candidate = f"{source}:{rest}"
    exists = conn.execute(sa.select(vehicles.c.vehicle_id).where(vehicles.c.vehicle_id == candidate,
                                                                 vehicles.c.dealer_id == dealer_id)).first()
    return candidate if exists else None


@dataclass
class PollStats:
    """What polling the agency's enquiries found (part of the run's metadata)."""

    desde: str | None = None
    fetched: int = 0
    new: int = 0
    duplicates: int = 0
    malformed: int = 0
    unmatched_vehicle: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"desde": self.desde or "", "fetched": self.fetched, "new": self.new, "duplicates": self.duplicates,
                "malformed": self.malformed, "unmatched_vehicle": self.unmatched_vehicle}


def store_enquiries(engine: sa.Engine, dealer: DealerEntry, adminmail: str, entries: list[Mapping[str, Any]],
                    run: PollStats) -> None:
    """Insert each enquiry once (raw payload kept); a malformed one is kept under a content key."""
    forwardable = dealer.source == "webmotors"
    now = utcnow()
    with transaction(engine) as conn:
        for entry in entries:
            enquiry_id = entry.get("Id") if isinstance(entry, Mapping) else None
            if not isinstance(enquiry_id, str) or not enquiry_id.strip() or parse_fecha(entry.get("Fecha")) is None:
                digest = hashlib.sha256(json.dumps(entry, sort_keys=True, default=str).encode()).hexdigest()[:32]
                inserted = insert_ignore(conn, leads, {
                    "source": SOURCE, "lead_key": f"{adminmail.lower()}/malformed:{digest}",
                    "dealer_id": dealer.dealer_id, "received_at": now,
                    "payload": entry if isinstance(entry, dict) else {"entry": entry},
                    "forward_status": MALFORMED,
                    "detail": {"error": "enquiry without an Id or a readable Fecha"},
                }, ["source", "lead_key"])
                run.malformed += int(inserted)
                continue
            external_id = entry.get("ExternalId")
            vehicle_id = vehicle_of(conn, dealer.dealer_id, adminmail, external_id) \
                if isinstance(external_id, str) and external_id else None
            inserted = insert_ignore(conn, leads, {
                "source": SOURCE, "lead_key": lead_key(adminmail, enquiry_id.strip()),
                "dealer_id": dealer.dealer_id, "vehicle_id": vehicle_id, "received_at": now,
                "payload": dict(entry), "forward_status": PENDING if forwardable else NOT_APPLICABLE,
            }, ["source", "lead_key"])
            if inserted:
                run.new += 1
                run.unmatched_vehicle += int(vehicle_id is None)
            else:
                run.duplicates += 1


def poll_enquiries(engine: sa.Engine, fetch: FetchEnquiries, dealer: DealerEntry, run: PollStats) -> None:
    adminmail = dealer.autocosmos_adminmail
    assert adminmail
    with engine.connect() as conn:
        desde = last_seen(conn, dealer.dealer_id)
    run.desde = desde.isoformat() if desde else None
    entries = fetch(adminmail, desde)
    run.fetched = len(entries)
    store_enquiries(engine, dealer, adminmail, entries, run)


# ---- forwarding ------------------------------------------------------------------------------------


def _set(conn: sa.Connection, lead_id: int, **values: Any) -> None:
    conn.execute(sa.update(leads).where(leads.c.id == lead_id).values(**values))


def _detail(row: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    detail = dict(row["detail"] or {})
    detail.update(extra)
    return detail


def release_stale_claims(engine: sa.Engine, dealer_id: str, *, now: datetime | None = None) -> int:
    """Leads left `sending` by a process that died: their outcome is unknown, so an operator decides."""
    now = now or utcnow()
    released = 0
    with transaction(engine) as conn:
        rows = conn.execute(sa.select(leads).where(leads.c.source == SOURCE, leads.c.dealer_id == dealer_id,
                                                   leads.c.forward_status == SENDING)).mappings().all()
        for row in rows:
            claimed = parse_fecha((row["detail"] or {}).get("claimed_at"))
            if claimed is None or now - claimed > STALE_CLAIM:
                _set(conn, row["id"], forward_status=NEEDS_OPERATOR,
                     detail=_detail(row, error="the process sending it stopped before the outcome was known; "
                                               "check the dealer's Cockpit CRM before re-sending by hand"))
                released += 1
    return released


def _claim(engine: sa.Engine, row: Mapping[str, Any], run_id: str | None) -> bool:
    with transaction(engine) as conn:
        result = conn.execute(
            sa.update(leads).where(leads.c.id == row["id"], leads.c.forward_status == PENDING)
            .values(forward_status=SENDING, detail=_detail(row, claimed_at=utcnow().isoformat(), run_id=run_id))
        )
        return result.rowcount == 1


def crm_fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The CRM lead's person and message from an Autocosmos enquiry."""
    def text(key: str) -> str | None:
        value = payload.get(key)
        return value.strip() if isinstance(value, str) and value.strip() else None
    return {"nome": text("Nombre") or "", "email": text("Email"), "telefone": text("Telefono"),
            "mensagem": text("Mensaje")}


def _ad_id(conn: sa.Connection, vehicle_id: str | None) -> int | None:
    if not vehicle_id:
        return None
    row = conn.execute(sa.select(vehicles.c.source, vehicles.c.source_vehicle_id)
                       .where(vehicles.c.vehicle_id == vehicle_id)).first()
    if row is None or row.source != "webmotors":
        return None
    try:
        return int(row.source_vehicle_id)
    except (TypeError, ValueError):
        return None


class LeadsTarget:
    """One dealer's leads as a publishing-engine target: planning polls the agency's enquiries and claims
    nothing; each pending lead is claimed, then inserted. What a failure means for a lead follows from
    at-most-once: Webmotors refused before acting (429, 401, a block, a wait past the budget, a call
    never sent) -> pending again; the outcome is unknown (a timeout, a 5xx, an unreadable 2xx) ->
    `needs_operator`; our data cannot be sent or Webmotors said it is wrong -> `rejected`. The CRM
    contract lists no leads (api/webmotors.md 2.6), so nothing is read back."""

    name = "leads"

    def __init__(self, engine: sa.Engine, dealer: DealerEntry, fetch: FetchEnquiries,
                 crm_client: Callable[[], WebmotorsClient] | None, *, origin: str, run_id: str | None = None) -> None:
        self.engine, self.dealer, self.fetch, self.crm_client = engine, dealer, fetch, crm_client
        self.origin, self.run_id = origin, run_id
        self.poll = PollStats()
        self.forward: Counter = Counter()   # forward_status set this run -> leads
        self.client: WebmotorsClient | None = None
        self.ads: dict[int, int | None] = {}

    def skip_reason(self, report: Report) -> str | None:
        if not self.dealer.autocosmos_adminmail:
            return "the dealer has no Autocosmos agency (no publish.autocosmos in the dealers file)"
        return None

    def plan(self, report: Report) -> list[Mapping[str, Any]]:
        report.details["forwarded"] = self.forward
        poll_enquiries(self.engine, self.fetch, self.dealer, self.poll)
        report.details.update(self.poll.as_dict())
        if self.dealer.source != "webmotors" or self.crm_client is None:
            return []
        self.forward[NEEDS_OPERATOR] += release_stale_claims(self.engine, self.dealer.dealer_id)
        with self.engine.connect() as conn:
            pending = conn.execute(sa.select(leads).where(
                leads.c.source == SOURCE, leads.c.dealer_id == self.dealer.dealer_id,
                leads.c.forward_status == PENDING).order_by(leads.c.id)).mappings().all()
            self.ads = {row["id"]: _ad_id(conn, row["vehicle_id"]) for row in pending}
        if pending:
            self.client = self.crm_client()   # only when a lead waits: no Webmotors call otherwise
        report.planned["lead"] += len(pending)
        return list(pending)

    def kind(self, row: Mapping[str, Any]) -> str:
        return "lead"

    def send(self, row: Mapping[str, Any], report: Report) -> bool:
        if not _claim(self.engine, row, self.run_id):
            return False  # another run took it
        assert self.client is not None
        try:
            crm_id = self.client.insert_crm_lead(**crm_fields(row["payload"] or {}), anuncio_id=self.ads[row["id"]],
                                                 origem=self.origin)
        except ValueError as exc:
            raise NotSendable(str(exc)) from None
        self._set(row, FORWARDED, forwarded_at=utcnow(), detail=_detail(row, crm_id=crm_id, error=None))
        report.sent["crm_lead"] += 1
        return True

    def record_failure(self, row: Mapping[str, Any], outcome: Outcome, error: str, exc: VendorError | None) -> None:
        status = exc.status if exc is not None else None
        if outcome is Outcome.NOT_SENT:   # never claimed: stays pending, saying why it waits
            self.forward["not_sent"] += 1
            with transaction(self.engine) as conn:
                conn.execute(sa.update(leads).where(leads.c.id == row["id"], leads.c.forward_status == PENDING)
                             .values(detail=_detail(row, error=error)))
            return
        if outcome is Outcome.REFUSED:
            self._set(row, REJECTED, detail=_detail(row, error=error, status=status))
        elif outcome is Outcome.BLOCKED or isinstance(exc, (AuthFailed, WaitBudgetExceeded)) or status == 429:
            self._set(row, PENDING, detail=_detail(row, error=error, status=status))
        else:
            log.error("CRM lead %s for %s: outcome unknown, needs an operator: %s", row["lead_key"],
                      row["dealer_id"], error)
            self._set(row, NEEDS_OPERATOR, detail=_detail(row, error=f"outcome unknown, not re-sent: {error}",
                                                          status=status))

    def read_back(self, report: Report) -> None:
        """Nothing to read: the CRM contract lists no leads."""

    def _set(self, row: Mapping[str, Any], status: str, **values: Any) -> None:
        self.forward[status] += 1
        with transaction(self.engine) as conn:
            _set(conn, row["id"], forward_status=status, **values)


def run_dealer(engine: sa.Engine, dealer: DealerEntry, fetch: FetchEnquiries,
               crm_client: Callable[[], WebmotorsClient] | None, *, origin: str,
               run_id: str | None = None) -> Report:
    """Poll the dealer's agency for enquiries, then forward the pending ones to its CRM (Webmotors dealers).

    `crm_client` is called only when a lead waits (so a dealer with none makes no Webmotors call);
    the caller owns and closes the client it returns.
    """
    return run(LeadsTarget(engine, dealer, fetch, crm_client, origin=origin, run_id=run_id), dealer.dealer_id)

"""Leads raised on our channels: Autocosmos enquiries -> `leads` -> the dealer's Cockpit CRM (WM-LEAD-2).

Polling (api/autocosmos.md 2.6): per agency, `GET /v3/consultas/{adminmail}?desde=` with the
newest `Fecha` already stored (`desde` is inclusive, so the boundary second comes back and
is deduplicated by the enquiry `Id`: `lead_key` = `<adminmail>/<Id>`, unique per source).
Each enquiry is stored raw in `leads` (source `autocosmos`), with the dealer of the agency and
the vehicle its ExternalId names (looked up in our Autocosmos `publications`).

Forwarding (api/webmotors.md 2.6), for Webmotors dealers only, **once each**: a lead is
claimed (`forward_status` pending -> sending, one conditional UPDATE) in its own committed
transaction before `POST /crm/v1/leads`, and marked `forwarded` (with `forwarded_at` and the
CRM id) after. Whatever leaves the outcome unknown (a timeout, a 5xx, an unreadable 2xx, or a
process that died while `sending`) marks it `needs_operator`: it is never re-sent
automatically, because Webmotors may already hold it. Only answers Webmotors gives before
acting (429 after the client's own re-sends, 401, a block, a call never sent) put it back
to `pending` for the next run. A 400/422 is `rejected` with the vendor's reason.

`forward_status`: `pending`, `sending`, `forwarded`, `needs_operator`, `rejected`,
`not_applicable` (the dealer has no Cockpit CRM: not a Webmotors dealer), `malformed`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

import sqlalchemy as sa

from dealer_pipeline.dealers_file import DealerEntry
from dealer_pipeline.http import AuthFailed, MalformedResponse, VendorBlocked, VendorError, WaitBudgetExceeded
from dealer_pipeline.publishing.core import SOURCE_PREFIX
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.repository import insert_ignore
from dealer_pipeline.store.schema import leads, publications, vehicles
from dealer_pipeline.store.types import utcnow
from dealer_pipeline.vendors.webmotors import WebmotorsClient, WebmotorsRejected

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
class LeadsRun:
    """What one dealer's lead run did (for Dagster metadata and tests)."""

    dealer_id: str
    skipped: str | None = None
    desde: str | None = None
    fetched: int = 0
    new: int = 0
    duplicates: int = 0
    malformed: int = 0
    unmatched_vehicle: int = 0
    forward: Counter = field(default_factory=Counter)   # outcome -> count this run
    blocks: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stopped: str | None = None


def store_enquiries(engine: sa.Engine, dealer: DealerEntry, adminmail: str, entries: list[Mapping[str, Any]],
                    run: LeadsRun) -> None:
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


def poll_enquiries(engine: sa.Engine, fetch: FetchEnquiries, dealer: DealerEntry, run: LeadsRun) -> None:
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


def forward_pending(engine: sa.Engine, client: WebmotorsClient, dealer: DealerEntry, run: LeadsRun, *,
                    origin: str, run_id: str | None = None) -> None:
    """Insert each pending lead of a Webmotors dealer into its Cockpit CRM, at most once."""
    released = release_stale_claims(engine, dealer.dealer_id)
    run.forward[NEEDS_OPERATOR] += released
    with engine.connect() as conn:
        pending = conn.execute(sa.select(leads).where(leads.c.source == SOURCE, leads.c.dealer_id == dealer.dealer_id,
                                                      leads.c.forward_status == PENDING)
                               .order_by(leads.c.id)).mappings().all()
        ads = {row["id"]: _ad_id(conn, row["vehicle_id"]) for row in pending}
    for row in pending:
        if run.stopped:
            run.forward["not_sent"] += 1
            continue
        if not _claim(engine, row, run_id):
            continue  # another run took it
        outcome, values = _forward_one(client, row, ads[row["id"]], origin, run)
        run.forward[outcome] += 1
        with transaction(engine) as conn:
            _set(conn, row["id"], forward_status=outcome, **values)


def _forward_one(client: WebmotorsClient, row: Mapping[str, Any], ad_id: int | None, origin: str,
                 run: LeadsRun) -> tuple[str, dict[str, Any]]:
    fields = crm_fields(row["payload"] or {})
    try:
        crm_id = client.insert_crm_lead(**fields, anuncio_id=ad_id, origem=origin)
    except ValueError as exc:
        return REJECTED, {"detail": _detail(row, error=f"not sendable: {exc}")}
    except WebmotorsRejected as exc:
        return REJECTED, {"detail": _detail(row, error=str(exc), status=exc.status)}
    except (VendorBlocked, AuthFailed) as exc:
        run.stopped = f"Webmotors CRM calls for {row['dealer_id']} stopped: {exc}"
        if isinstance(exc, VendorBlocked):
            run.blocks.append({"id": exc.block_id, "reason": exc.reason, "action": exc.action})
        return PENDING, {"detail": _detail(row, error=str(exc), status=exc.status)}
    except WaitBudgetExceeded as exc:
        run.stopped = f"Webmotors asked us to wait longer than the budget: {exc}"
        return PENDING, {"detail": _detail(row, error=str(exc), status=exc.status)}
    except MalformedResponse as exc:
        return NEEDS_OPERATOR, {"detail": _detail(row, error=f"accepted but unreadable answer: {exc}",
                                                  status=exc.status)}
    except VendorError as exc:
        if exc.status == 429:  # Webmotors refused before acting: safe to send again next run
            run.stopped = f"Webmotors kept answering 429: {exc}"
            return PENDING, {"detail": _detail(row, error=str(exc), status=exc.status)}
        run.errors.append(str(exc))
        log.error("CRM lead %s for %s: outcome unknown, needs an operator: %s", row["lead_key"], row["dealer_id"], exc)
        return NEEDS_OPERATOR, {"detail": _detail(row, error=f"outcome unknown, not re-sent: {exc}",
                                                  status=exc.status)}
    return FORWARDED, {"forwarded_at": utcnow(), "detail": _detail(row, crm_id=crm_id, error=None)}


def run_dealer(engine: sa.Engine, dealer: DealerEntry, fetch: FetchEnquiries,
               crm_client: Callable[[], WebmotorsClient] | None, *, origin: str,
               run_id: str | None = None) -> LeadsRun:
    """Poll the dealer's agency for enquiries, then forward the pending ones to its CRM (Webmotors dealers).

    `crm_client` is called only when a lead waits (so a dealer with none makes no Webmotors call);
    the caller owns and closes the client it returns.
    """
    run = LeadsRun(dealer.dealer_id)
    if not dealer.autocosmos_adminmail:
        run.skipped = "the dealer has no Autocosmos agency (no publish.autocosmos in the dealers file)"
        return run
    poll_enquiries(engine, fetch, dealer, run)
    if dealer.source != "webmotors" or crm_client is None:
        return run
    with engine.connect() as conn:
        waiting = conn.execute(sa.select(sa.func.count()).select_from(leads).where(
            leads.c.source == SOURCE, leads.c.dealer_id == dealer.dealer_id,
            leads.c.forward_status.in_((PENDING, SENDING)))).scalar_one()
    if waiting:
        forward_pending(engine, crm_client(), dealer, run, origin=origin, run_id=run_id)
    return run

"""Publishing one dealer's stock to Autocosmos v3 (api/autocosmos.md 2.3, 2.4).

Per run and dealer: plan with the core (desired state, diff), draft each payload from the
catalogue answer (`catalog_matches`) and the checked photos, then send one request per
change: POST to create (ExternalId = our stable id), PATCH (merge-patch) for a price-only
change, PUT for everything else (suspend/reactivate through `Activa`), DELETE once when sold
or removed. A 409 on create is read back and replaced, never dodged with another ExternalId.
A PUT never carries an empty `Fotos` list: a vehicle without a usable photo is suspended by a
PATCH of `Activa` instead (or not created). Before the first publication for an agency, access
is confirmed through the API (the agency webhook body is unsigned); after the writes, every run
reads the agency's publications back (`readback.py`) to catch what Autocosmos suspended,
archived or deleted on its own, and heals what the contract lets it heal. `AutocosmosTarget`
supplies this planning and these calls; the publishing engine (`engine.py`) runs them with the
failure semantics shared by every target.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Callable, Mapping

import sqlalchemy as sa

from dealer_pipeline.catalogue.ranking import DEFAULT_THRESHOLD
from dealer_pipeline.catalogue.resolve import CatalogMatch, load_matches, resolve_specs, specs_of
from dealer_pipeline.catalogue.spec import DEFAULT_VOCABULARY, Vocabulary
from dealer_pipeline.http import AuthFailed, VendorBlocked, VendorError
from dealer_pipeline.http.blocks import list_blocks
from dealer_pipeline.publishing import core, readback
from dealer_pipeline.publishing.engine import Outcome, Report, Run, classify
from dealer_pipeline.publishing.core import Change, Desired, Draft, Intent, Op, State
from dealer_pipeline.publishing.photos import PhotoChecker, split_photos
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.repository import upsert
from dealer_pipeline.store.schema import agency_links, vehicles
from dealer_pipeline.store.types import utcnow
from dealer_pipeline.vendors.autocosmos import (
    VENDOR,
    AutocosmosClient,
    PublicationConflict,
    PublicationRefused,
    UnsupportedMediaType,
)

log = logging.getLogger(__name__)

TARGET = "autocosmos"
PRICE_KEYS = ("Precio",)
IGNORE_KEYS = ("Activa",)
DESCRIPTION_MAX = 2000
COLOR_MAX = 50
REF_STOCK_MAX = 25
MILEAGE_MAX = 999_000
ESTADO_SUSPENDED, ESTADO_ARCHIVED, ESTADO_ACTIVE = "Suspendida", "Archivada", "Activa"


@dataclass(frozen=True)
class AutocosmosOptions:
    """What a publishing run may vary (Dagster resource config feeds these)."""

    threshold: float = DEFAULT_THRESHOLD
    vocabulary: Vocabulary = DEFAULT_VOCABULARY
    default_color: str = "No especificado"
    readback_delay_seconds: float = 5.0
    audit: bool = False   # also compare each live publication's content with what Autocosmos accepted (daily)


# ---- drafting payloads --------------------------------------------------------------------------------
def _amount(value: Any) -> int | float:
    amount = Decimal(str(value))
    return int(amount) if amount == amount.to_integral_value() else float(amount.quantize(Decimal("0.01")))


def _description(vehicle: Mapping[str, Any]) -> str | None:
    parts = [str(vehicle[k]).strip() for k in ("attention_grabber", "description") if vehicle.get(k)]
    text = "\n\n".join(p for p in parts if p)
    if len(text) > DESCRIPTION_MAX:
        text = text[:DESCRIPTION_MAX - 1].rsplit(" ", 1)[0] + "…"
    return text or None


def _ref_stock(vehicle: Mapping[str, Any]) -> str | None:
    for key in ("registration", "external_stock_reference", "vin"):
        value = str(vehicle.get(key) or "").strip()
        if value and len(value) <= REF_STOCK_MAX:
            return value
    return None


def draft_payload(intent: Intent, match: CatalogMatch | None, photos: list[str], dropped: list[dict], *,
                  options: AutocosmosOptions, amount_field: str = "Monto", photos_field: str = "Fotos") -> Draft:
    """The publication body for one vehicle, or why it cannot be shown (2.3)."""
    vehicle = intent.vehicle or {}
    flags: dict[str, Any] = {}
    if dropped:
        flags["dropped_photos"] = dropped
    if match is not None:
        flags["catalogue"] = {"spec_key": match.spec_key, "status": match.status, "confidence": match.confidence}
    if match is None:
        return Draft(None, hold_reason="catalogue: no specification (make or model missing)", flags=flags)
    if not match.usable:
        return Draft(None, hold_reason=f"catalogue: spec {match.spec_key} {match.status}"
                     + (f" ({match.reason})" if match.reason else "") + " — in the review queue", flags=flags)
    missing = [name for name, key in (("year", "model_year"), ("mileage", "mileage_km"), ("price", "price_amount"),
                                       ("currency", "price_currency")) if vehicle.get(key) in (None, "")]
    if missing:
        return Draft(None, hold_reason=f"missing {', '.join(missing)}", flags=flags)
    mileage = int(vehicle["mileage_km"])
    if not 0 <= mileage <= MILEAGE_MAX:
        return Draft(None, hold_reason=f"mileage {mileage} km outside Autocosmos' 0..{MILEAGE_MAX}", flags=flags)
    body: dict[str, Any] = {
        "ExternalId": intent.external_id,
        "Activa": intent.desired is Desired.PUBLISH,
        "Marca": match.make_href, "Modelo": match.model_href, "Version": match.version_href,
        "VersionYear": int(vehicle["model_year"]),
        "Kilometraje": mileage,
        "Color": (str(vehicle.get("colour") or "").strip() or options.default_color)[:COLOR_MAX],
        "Precio": {"Moneda": str(vehicle["price_currency"]).upper(), amount_field: _amount(vehicle["price_amount"])},
        photos_field: photos,
    }
    optional = {"RefStock": _ref_stock(vehicle), "Propulsion": match.fuel_type, "Transmision": match.transmission,
                "Carroceria": match.body, "Descripcion": _description(vehicle)}
    body.update({k: v for k, v in optional.items() if v})
    if not photos:
        return Draft(body, suspend_reason="no valid photo (all dropped by the photo check)", flags=flags)
    return Draft(body, flags=flags)


# ---- the run -------------------------------------------------------------------------------------------
class ExternalIdArchived(PublicationConflict):
    """A 409 on create read back as archived: the ExternalId is final at Autocosmos; an operator decides."""


def _agency_confirmed(conn: sa.Connection, adminmail: str) -> bool:
    row = conn.execute(sa.select(agency_links.c.api_confirmed_at).where(
        agency_links.c.adminmail == adminmail.lower())).first()
    return row is not None and row[0] is not None


def confirm_agency(engine: sa.Engine, client: AutocosmosClient, dealer_id: str, adminmail: str
                   ) -> list[dict[str, Any]]:
    """Read the agency's publications (403 -> the dealer is blocked) and record the confirmation."""
    entries = client.list_publications(adminmail, dealer_id=dealer_id)
    now = utcnow()
    with transaction(engine) as conn:
        existing = conn.execute(sa.select(agency_links).where(agency_links.c.adminmail == adminmail.lower())
                                ).mappings().first()
        row = {"adminmail": adminmail.lower(), "dealer_id": dealer_id, "api_confirmed_at": now,
               "linked_at": existing["linked_at"] if existing else now}
        upsert(conn, agency_links, [row])
    return entries


def _open_block(engine: sa.Engine, dealer_id: str) -> str | None:
    for block in list_blocks(engine, vendor=VENDOR):
        if block.dealer_id in (None, dealer_id) and not block.request_only:
            return f"block {block.id} ({block.reason}): {block.action}"
    return None


class AutocosmosTarget:
    """Autocosmos' planning and calls for one dealer (`engine.Run` drives them, with its failure semantics)."""

    name = TARGET

    def __init__(self, engine: sa.Engine, client: AutocosmosClient, photos: PhotoChecker, dealer_id: str,
                 adminmail: str, options: AutocosmosOptions = AutocosmosOptions(), *, today: date | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.engine = engine
        self.client = client
        self.photos = photos
        self.dealer_id = dealer_id
        self.adminmail = adminmail
        self.options = options
        self.today = today
        self.sleep = sleep
        self.report = Report(TARGET, dealer_id)
        self.details = self.report.details
        self.details.update(flagged_photos=0, vehicles_with_flagged_photos=0, held=0, held_reasons={},
                            reconciled_409=0, archived_found_on_change=0, agency_confirmed_now=False,
                            read_back=False, read_back_calls=0, catalogue={}, **readback.summary([], []))
        self._entries: list[dict[str, Any]] | None = None   # the agency's list, when read this run before sending
        self._sent_photos = False
        self._written: set[str] = set()   # lower-case ExternalIds written this run

    def skip_reason(self, report: Report) -> str | None:
        report.blocked = _open_block(self.engine, self.dealer_id)
        return report.blocked

    def kind(self, change: Change) -> str:
        return change.op.value

    # ---- planning ----
    def plan(self, report: Report) -> list[Change]:
        self._confirm_if_needed()
        with self.engine.connect() as conn:
            intents = core.desired_states(conn, TARGET, self.dealer_id, self.adminmail, reusable_after_removal=False,
                                          today=self.today)
        listed = [i for i in intents if i.desired in (Desired.PUBLISH, Desired.SUSPEND) and i.vehicle is not None]
        specs = specs_of([i.vehicle for i in listed], self.options.vocabulary)  # type: ignore[misc]
        if listed:
            resolution = resolve_specs(self.engine, self.client, [i.vehicle for i in listed],  # type: ignore[misc]
                                       threshold=self.options.threshold, vocabulary=self.options.vocabulary)
            self.details["catalogue"] = resolution.metadata()
        with self.engine.connect() as conn:
            matches = load_matches(conn, [s[0] for s in specs.values() if s is not None])
        checks = self.photos.check(url for i in listed for url in (i.vehicle or {}).get("images") or [])
        contract = self.client.contract

        def build(intent: Intent) -> Draft:
            spec = specs.get(intent.vehicle_id)
            match = matches.get(spec[0]) if spec else None
            kept, dropped = split_photos((intent.vehicle or {}).get("images") or [], checks)
            if dropped:
                self.details["flagged_photos"] += len(dropped)
                self.details["vehicles_with_flagged_photos"] += 1
            return draft_payload(intent, match, kept, dropped, options=self.options,
                                 amount_field=contract.amount_field, photos_field=contract.photos_field)

        changes = core.plan(intents, build, price_keys=PRICE_KEYS, ignore_keys=IGNORE_KEYS)
        report.planned.update(c.op.value for c in changes)
        held = Counter(c.why.split(" — ")[0][:120] for c in changes if c.op is Op.HOLD)
        self.details.update(held=report.planned["hold"], held_reasons=dict(held.most_common(20)))
        with transaction(self.engine) as conn:
            for change in changes:
                if change.op is Op.HOLD:
                    core.record_hold(conn, change)
        return [c for c in changes if c.op not in (Op.NOTHING, Op.HOLD)]

    def _confirm_if_needed(self) -> None:
        with self.engine.connect() as conn:
            if _agency_confirmed(conn, self.adminmail):
                return
        self._entries = confirm_agency(self.engine, self.client, self.dealer_id, self.adminmail)
        self.details["agency_confirmed_now"] = True
        self.report.sent["confirm_agency"] += 1

    def send(self, change: Change, report: Report) -> None:
        handlers = {Op.CREATE: self._create, Op.REPLACE: self._put, Op.REACTIVATE: self._put, Op.SUSPEND: self._put,
                    Op.PRICE: self._price, Op.REMOVE: self._archive}
        handlers[change.op](change)

    def record_failure(self, change: Change, outcome: Outcome, error: str, exc: VendorError | None) -> None:
        if isinstance(exc, PublicationRefused):
            error = f"Autocosmos refused it (400): {exc.errors}"
        elif isinstance(exc, UnsupportedMediaType):
            error = f"Autocosmos refused the media type (415): {exc.message}"
        with transaction(self.engine) as conn:
            core.record_failure(conn, change, status=exc.status if exc else None, error=error,
                                refused=isinstance(exc, PublicationRefused),
                                op_label="reconcile" if isinstance(exc, ExternalIdArchived) else None)
            if isinstance(exc, ExternalIdArchived):
                core.record_state(conn, TARGET, change.vehicle_id, state=State.ARCHIVED, note=error)

    def _ok(self, change: Change, status: int, kind: str, **kw: Any) -> None:
        self.report.sent[kind] += 1
        self._written.add(change.external_id.lower())
        with transaction(self.engine) as conn:
            core.record_success(conn, change, status=status, **kw)

    def _body(self, change: Change) -> dict[str, Any]:
        body = dict(change.payload or {})
        body["Activa"] = change.active
        return body

    def _has_photos(self, body: Mapping[str, Any]) -> bool:
        return bool(body.get(self.client.contract.photos_field))

    def _create(self, change: Change) -> None:
        body = self._body(change)
        try:
            response = self.client.create(self.adminmail, body, dealer_id=self.dealer_id)
        except PublicationConflict:
            self._reconcile(change, body)
            return
        self._sent_photos |= self._has_photos(body)
        pub = change.intent.publication
        recreated = pub is not None and pub.flags.get(core.VENDOR_DELETED)
        self._ok(change, response.status, "post", **({"op_label": "recreate"} if recreated else {}))

    def _reconcile(self, change: Change, body: dict[str, Any]) -> None:
        """409 on create: the ExternalId exists at Autocosmos. Read it; replace it unless archived."""
        current = self.client.get_publication(self.adminmail, change.external_id, dealer_id=self.dealer_id)
        self.details["reconciled_409"] += 1
        if current is not None and current.get("Estado") == ESTADO_ARCHIVED:
            raise ExternalIdArchived("ExternalId already archived at Autocosmos: it cannot be used again; needs an "
                                     "operator", vendor=VENDOR, method="POST", status=409)
        if current is None:
            raise PublicationConflict("409 on create but the publication cannot be read back", vendor=VENDOR,
                                      method="GET", status=404)
        if not self._has_photos(body):
            self._patch(change, {k: v for k, v in body.items() if k != self.client.contract.photos_field},
                        "reconcile")
            return
        response = self.client.replace(self.adminmail, change.external_id, body, dealer_id=self.dealer_id)
        if response is None:
            raise PublicationConflict("409 on create, then 404 on replace", vendor=VENDOR, method="PUT", status=404)
        self._sent_photos = True
        self._ok(change, response.status, "put", op_label="reconcile")

    def _put(self, change: Change) -> None:
        body = self._body(change)
        if not self._has_photos(body):
            # Never PUT an empty photo list: a PATCH leaves the stored photos alone.
            self._patch(change, {k: v for k, v in body.items() if k != self.client.contract.photos_field},
                        change.op.value)
            return
        response = self.client.replace(self.adminmail, change.external_id, body, dealer_id=self.dealer_id)
        if response is None:
            self._recreate(change, body)
            return
        self._sent_photos = True
        self._ok(change, response.status, "put")

    def _price(self, change: Change) -> None:
        payload = change.payload or {}
        self._patch(change, {key: payload[key] for key in PRICE_KEYS if key in payload}, change.op.value)

    def _patch(self, change: Change, patch: dict[str, Any], label: str) -> None:
        try:
            response = self.client.patch(self.adminmail, change.external_id, patch, dealer_id=self.dealer_id)
        except PublicationConflict:
            self._archived_meanwhile(change)
            return
        if response is None:
            body = self._body(change)
            if self._has_photos(body):
                self._recreate(change, body)
            else:
                raise VendorError("publication unknown at Autocosmos and no valid photo to re-create it",
                                  vendor=VENDOR, method="PATCH", status=404)
            return
        self._ok(change, response.status, "patch", op_label=label)

    def _recreate(self, change: Change, body: dict[str, Any]) -> None:
        """A change answered 404: the publication is gone at Autocosmos; create it again (same ExternalId)."""
        response = self.client.create(self.adminmail, body, dealer_id=self.dealer_id)
        self._sent_photos |= self._has_photos(body)
        self._ok(change, response.status, "post", op_label="recreate")

    def _archived_meanwhile(self, change: Change) -> None:
        note = "archived at Autocosmos (409 on change): the ExternalId cannot be used again"
        with transaction(self.engine) as conn:
            core.record_state(conn, TARGET, change.vehicle_id, state=State.ARCHIVED, note=note)
        self.details["archived_found_on_change"] += 1
        self._written.add(change.external_id.lower())

    def _archive(self, change: Change) -> None:
        outcome = self.client.archive(self.adminmail, change.external_id, dealer_id=self.dealer_id)
        self._ok(change, 204 if outcome == "archived" else 409 if outcome == "already_archived" else 404, "delete",
                 state=State.ARCHIVED, op_label="archive", archive_outcome=outcome)

    # ---- reading the vendor's states back (AC-STATE-1), every run, after the writes ----
    def read_back(self, report: Report) -> None:
        entries = self._entries
        with self.engine.connect() as conn:
            pubs = core.load_publications(conn, TARGET, dealer_id=self.dealer_id)
        if not any(p.live for p in pubs.values()):
            return  # nothing on Autocosmos to compare (and no read before a first create)
        if entries is None or self._written:
            if self._sent_photos and self.options.readback_delay_seconds > 0:
                self.sleep(self.options.readback_delay_seconds)
            entries = self.client.list_publications(self.adminmail, dealer_id=self.dealer_id)
            self.details["read_back_calls"] += 1
        self.details["read_back"] = True
        contract = self.client.contract
        accepted = {p.external_id.lower(): p.payload for p in pubs.values()} if self.options.audit else {}
        seen = {key: seen_entry(e, contract.photos_field, accepted.get(key), amount_field=contract.amount_field)
                for e in entries for key in [str(e.get("ExternalId", "")).lower()]}
        changes = readback.compare(pubs.values(), seen, gone_reason=GONE_REASON, gone_heal=readback.Heal.RECREATE,
                                   written=self._written)
        healed: list[str] = []
        for change in changes:
            healing, status = self._heal(change)
            with transaction(self.engine) as conn:
                readback.record(conn, change, healing=healing)
                if status is not None:
                    readback.record_healed(conn, change, status=status)
                    healed.append(change.publication.external_id)
        self.details.update(readback.summary(changes, healed))

    def _heal(self, change: readback.VendorChange) -> tuple[str | None, int | None]:
        """Undo a change the contract lets us undo: PUT the accepted payload (it has valid photos) to lift a
        photo suspension, POST it again after a deletion. Returns what was done, and the status if accepted."""
        pub = change.publication
        if change.heal is None:
            return _NO_HEAL.get(change.change), None
        body = dict(pub.payload or {})
        if not self._has_photos(body):
            return "not healed: the accepted payload has no valid photo to send", None
        body["Activa"] = pub.state == State.ACTIVE.value
        try:
            if change.heal is readback.Heal.REPLACE:
                response = self.client.replace(self.adminmail, pub.external_id, body, dealer_id=self.dealer_id)
                kind = "put"
            else:
                response = self.client.create(self.adminmail, body, dealer_id=self.dealer_id)
                kind = "post"
        except VendorError as exc:
            if classify(exc) is Outcome.BLOCKED or isinstance(exc, AuthFailed):
                raise
            return f"heal failed: {exc}"[:500], None
        if response is None:
            return "heal failed: the publication is unknown at Autocosmos (404)", None
        self.report.sent[kind] += 1
        return f"sent {kind.upper()} with {len(body[self.client.contract.photos_field])} photo(s) ({response.status})", \
            response.status


GONE_REASON = ("deleted by Autocosmos, not by us: gone from the agency's list; created again with the same "
               "ExternalId")
_NO_HEAL = {readback.Change.ARCHIVED: "none: archiving is final; the ExternalId cannot be used again (needs an "
                                      "operator)",
            readback.Change.SUSPENDED: "none: lifted only by Autocosmos (or by a PUT with new photos when the data "
                                       "changes)",
            readback.Change.DELETED: "none: already sent once with this payload; waits for the data to change",
            readback.Change.DRIFTED: "none: already sent once with this payload; waits for the data to change"}


#: Fields the audit compares with the accepted payload (`Fotos` are compared by count: the real service
#: lists its own copies' URLs; `Activa` follows `Estado`).
AUDITED_FIELDS = ("Marca", "Modelo", "Version", "VersionYear", "Kilometraje", "Color", "RefStock", "Descripcion")


def drift(entry: Mapping[str, Any], payload: Mapping[str, Any], *, photos_field: str = "Fotos",
          amount_field: str = "Monto") -> tuple[str, ...]:
    """What an entry shows differently from the payload Autocosmos accepted from us (the daily audit)."""
    found = [f"{key}: {str(entry.get(key))[:60]!r} instead of {str(payload[key])[:60]!r}"
             for key in AUDITED_FIELDS if key in payload and entry.get(key) != payload[key]]
    ours, theirs = payload.get("Precio") or {}, entry.get("Precio") or {}
    if ours and (theirs.get("Moneda") != ours.get("Moneda")
                 or _amount(theirs.get(amount_field) or 0) != _amount(ours.get(amount_field) or 0)):
        found.append(f"Precio: {theirs} instead of {ours}")
    sent, kept = len(payload.get(photos_field) or []), len(entry.get(photos_field) or [])
    if 0 < kept < sent:
        found.append(f"{photos_field}: {kept} of {sent} photos kept")
    return tuple(found)


def seen_entry(entry: Mapping[str, Any], photos_field: str = "Fotos", accepted: Mapping[str, Any] | None = None,
               *, amount_field: str = "Monto") -> readback.Seen:
    """How an entry of the agency's list reads (2.3, 2.4): a suspension without any kept photo is the
    photo processing's (a PUT with a valid photo lifts it); one with photos is moderation's. With the
    `accepted` payload (the audit), what differs from it."""
    estado = str(entry.get("Estado") or "")
    kept = len(entry.get(photos_field) or [])
    differs = drift(entry, accepted, photos_field=photos_field, amount_field=amount_field) if accepted else ()
    if estado == ESTADO_ARCHIVED:
        return readback.Seen(State.ARCHIVED, estado, "archived by Autocosmos, not by us: the ExternalId cannot be "
                                                     "used again")
    if estado == ESTADO_SUSPENDED and not kept:
        return readback.Seen(State.SUSPENDED, estado, "suspended by Autocosmos, not by us: no valid photo kept after "
                             "processing; a PUT with at least one valid photo lifts it", readback.Heal.REPLACE,
                             {"photos_kept": 0})
    if estado == ESTADO_SUSPENDED:
        return readback.Seen(State.SUSPENDED, estado, f"suspended by Autocosmos, not by us (moderation, {kept} "
                             "photo(s) kept): lifted when Autocosmos lifts it", None, {"photos_kept": kept},
                             drift=differs)
    return readback.Seen(State.ACTIVE, estado or ESTADO_ACTIVE, "active at Autocosmos again", drift=differs)


def publish_dealer(engine: sa.Engine, client: AutocosmosClient, photos: PhotoChecker, dealer_id: str,
                   adminmail: str, options: AutocosmosOptions = AutocosmosOptions(), *,
                   today: date | None = None) -> Report:
    """Bring Autocosmos in line with our store for one dealer; see the module docstring."""
    target = AutocosmosTarget(engine, client, photos, dealer_id, adminmail, options, today=today)
    return Run(target, target.report).execute()


def _dealers_with_listed_stock(engine: sa.Engine, dealer_ids: list[str]) -> set[str]:
    """Which of these dealers have any available or reserved vehicle (one query)."""
    found: set[str] = set()
    with engine.connect() as conn:
        for start in range(0, len(dealer_ids), 1000):
            stmt = sa.select(vehicles.c.dealer_id).distinct().where(
                vehicles.c.dealer_id.in_(dealer_ids[start:start + 1000]),
                vehicles.c.availability.in_(("available", "reserved")))
            found.update(conn.execute(stmt).scalars())
    return found


def listed_specs(engine: sa.Engine, client: AutocosmosClient, dealers: list[tuple[str, str]], *,
                 vocabulary: Vocabulary = DEFAULT_VOCABULARY, today: date | None = None
                 ) -> tuple[dict[str, tuple[str, dict[str, str]] | None], list[str]]:
    """The specs (`specs_of`) of the vehicles about to be published (publish or suspend intents) of
    dealers whose agency we may publish for, and the dealers skipped (blocked). Access to an agency
    not confirmed yet is confirmed first (one read of its publications), so no catalogue work is spent
    on a dealer Autocosmos refuses. One dealer's vehicles are held at a time, not the whole table's."""
    found: dict[str, tuple[str, dict[str, str]] | None] = {}
    skipped: list[str] = []
    blocks = list_blocks(engine, vendor=VENDOR)
    blocked_everywhere = any(b.dealer_id is None and not b.request_only for b in blocks)
    blocked = {b.dealer_id for b in blocks if not b.request_only}
    with_stock = _dealers_with_listed_stock(engine, [d for d, _ in dealers])
    for dealer_id, adminmail in dealers:
        if dealer_id not in with_stock:
            continue
        if blocked_everywhere or dealer_id in blocked:
            skipped.append(dealer_id)
            continue
        with engine.connect() as conn:
            intents = core.desired_states(conn, TARGET, dealer_id, adminmail, reusable_after_removal=False,
                                          today=today)
            confirmed = _agency_confirmed(conn, adminmail)
        wanted = [i.vehicle for i in intents if i.desired in (Desired.PUBLISH, Desired.SUSPEND) and i.vehicle]
        if wanted and not confirmed:
            try:
                confirm_agency(engine, client, dealer_id, adminmail)
            except VendorBlocked:
                skipped.append(dealer_id)
                continue
        specs_of(wanted, vocabulary, into=found)
    return found, skipped

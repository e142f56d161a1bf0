"""The target-neutral publishing core: what should be published where, and what changed.

For one dealer and one target (autocosmos, autochat, ...) every vehicle gets an `Intent`
(publish, suspend, remove, or hold) from the store alone: the vehicle's availability and
dealer-site visibility, the quality gate (blocking findings), and the stored `publications`
row. A target then drafts the payload it would send (`Draft`), and `decide()` compares it
with what the vendor last accepted (`payload_hash`) to give one `Op`. Outcomes go back to
`publications` through the `record_*` functions.

Everything is recomputed from the store on each run, so a run that crashed half-way is
finished by simply running again: the operations already done compare equal and become
`Op.NOTHING`; one whose outcome was lost is sent again and reconciled by the target (e.g.
a 409 on create is read back, never dodged with another ExternalId).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Callable, Iterable, Mapping, Sequence

import sqlalchemy as sa

from dealer_pipeline.dealers_file import DealerEntry, DealersFile, load_dealers
from dealer_pipeline.store.repository import upsert
from dealer_pipeline.store.schema import publications, vehicles
from dealer_pipeline.store.types import utcnow

# ---- stable external ids ----------------------------------------------------------------------

#: Vehicle-id source prefix -> ExternalId prefix. Short, so ids stay far below 255 characters.
SOURCE_PREFIX: Mapping[str, str] = {"autotrader": "at", "webmotors": "wm"}
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")
EXTERNAL_ID_MAX = 255


class ExternalIdError(ValueError):
    """A vehicle id that cannot become a valid ExternalId (too long, or no known source)."""


def external_id_for(vehicle_id: str) -> str:
    """The ExternalId of a vehicle on every target: `at-<stockId>`, `wm-<ad id>`.

    Characters outside `a-z 0-9 - _ .` (upper-case letters included) are written `~XX`
    (upper-case hex of each UTF-8 byte). The result uses only URL path-segment-safe
    characters, and the mapping stays one-to-one even for a vendor that compares ids
    case-insensitively (Autocosmos): literals are never upper case, escapes always are.
    """
    source, sep, source_id = vehicle_id.partition(":")
    prefix = SOURCE_PREFIX.get(source)
    if not sep or prefix is None or not source_id:
        raise ExternalIdError(f"vehicle id {vehicle_id!r} is not '<autotrader|webmotors>:<id>'")
    encoded = "".join(
        ch if ch in _PLAIN else "".join(f"~{b:02X}" for b in ch.encode("utf-8")) for ch in source_id
    )
    external_id = f"{prefix}-{encoded}"
    if len(external_id) > EXTERNAL_ID_MAX:
        raise ExternalIdError(f"vehicle id {vehicle_id!r} gives an ExternalId of {len(external_id)} characters "
                              f"(at most {EXTERNAL_ID_MAX})")
    return external_id


# ---- intents ------------------------------------------------------------------------------------


class Desired(str, Enum):
    """What should be true on the target, judged from our store alone."""

    PUBLISH = "publish"    # listed and active
    SUSPEND = "suspend"    # listed but not shown (reserved, hidden from the dealer site, held back once published)
    REMOVE = "remove"      # sold or removed (or gone from the store): archive / delete
    HOLD = "hold"          # not to be published, and not published yet: nothing to send


class State(str, Enum):
    """`publications.state`: what the vendor holds, as far as we know."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    ARCHIVED = "archived"   # final: the ExternalId can never be used again (Autocosmos)
    DELETED = "deleted"     # removed; the ExternalId may be created again (Autochat)
    ERROR = "error"         # never published successfully (held back, or create failed)


#: `publications.flags` key set when the vendor suspended a publication on its own (see `record_state`).
VENDOR_SUSPENDED = "vendor_suspended"
#: `publications.flags` key set when the vendor deleted a publication on its own: it is created again
#: with the same external id (`publishing.readback`).
VENDOR_DELETED = "vendor_deleted"
#: `publications.flags` key holding the hash of a payload the vendor refused (400).
REFUSED_HASH = "refused_hash"

#: States in which the vendor has a live publication we can change.
LIVE_STATES = frozenset({State.ACTIVE.value, State.SUSPENDED.value})


@dataclass(frozen=True)
class Publication:
    """The stored `publications` row of one vehicle on one target."""

    target: str
    vehicle_id: str
    dealer_id: str
    account_id: str | None
    external_id: str
    state: str
    payload_hash: str | None
    payload: Mapping[str, Any] | None
    last_op: str | None
    last_status: int | None
    last_error: str | None
    flags: Mapping[str, Any]
    published_at: datetime | None
    updated_at: datetime

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES


@dataclass(frozen=True)
class Intent:
    """One vehicle's desired state on one target, with what it is derived from."""

    target: str
    dealer_id: str
    account_id: str
    vehicle_id: str
    external_id: str
    desired: Desired
    reasons: tuple[str, ...]                   # why it is suspended / held / removed (empty when published)
    vehicle: Mapping[str, Any] | None          # the `vehicles` row (without `raw`); None when gone from the store
    publication: Publication | None

    @property
    def blocked(self) -> bool:
        """Held back by the quality gate (blocking findings)."""
        return any(r.startswith(QUALITY_PREFIX) for r in self.reasons)


QUALITY_PREFIX = "quality: "


def desire(vehicle: Mapping[str, Any] | None, blocking: Sequence[str], publication: Publication | None,
           *, reusable_after_removal: bool) -> tuple[Desired, tuple[str, ...]]:
    """The desired state of one vehicle and why (pure; `desired_states` feeds it from the store).

    Sold/removed wins over everything (archive even when the data is bad); blocking findings
    keep a vehicle off the target (suspending it if it is live); reserved or hidden vehicles
    are suspended when live and not created just to be suspended.
    """
    live = publication is not None and publication.live
    if vehicle is None:
        return Desired.REMOVE, ("vehicle no longer in the store",)
    availability = vehicle.get("availability")
    if availability in ("sold", "removed"):
        return Desired.REMOVE, (f"vehicle is {availability}",)
    if publication is not None and publication.state == State.ARCHIVED.value:
        return Desired.HOLD, ("publication archived: its ExternalId cannot be used again; the vehicle is listed "
                              "again and needs an operator",)
    if (publication is not None and publication.state == State.DELETED.value and not reusable_after_removal
            and not publication.flags.get(VENDOR_DELETED)):
        return Desired.HOLD, ("publication deleted and the target does not allow re-creating it; needs an "
                              "operator",)
    reasons: list[str] = [QUALITY_PREFIX + b for b in blocking]
    if availability == "reserved":
        reasons.append("vehicle is reserved")
    elif availability != "available":
        reasons.append(f"unknown availability {availability!r}")
    if vehicle.get("shown_on_dealer_site") is False:
        reasons.append("vehicle is hidden from the dealer site")
    if not reasons:
        return Desired.PUBLISH, ()
    if live:
        return Desired.SUSPEND, tuple(reasons)
    return Desired.HOLD, tuple(reasons)


# ---- drafts, ops and decisions ---------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """What a target would send for a vehicle, built from an Intent.

    `payload` is the full body (None when it cannot be built). `suspend_reason` asks for the
    publication to be suspended instead of shown (e.g. no valid photo); `hold_reason` keeps a
    vehicle off the target entirely (e.g. catalogue version unresolved). `flags` are stored in
    `publications.flags` (dropped photos, unknown options, ...).
    """

    payload: Mapping[str, Any] | None
    suspend_reason: str | None = None
    hold_reason: str | None = None
    flags: Mapping[str, Any] = field(default_factory=dict)


class Op(str, Enum):
    CREATE = "create"          # not on the target yet
    REPLACE = "replace"        # content changed (full body)
    PRICE = "price"            # only the price changed
    SUSPEND = "suspend"        # live and shown -> not shown
    REACTIVATE = "reactivate"  # suspended by us -> shown
    REMOVE = "remove"          # archive / delete
    HOLD = "hold"              # not publishable and not live: record why, send nothing
    NOTHING = "nothing"        # the target already has it


@dataclass(frozen=True)
class PayloadHash:
    """A payload's hash in two parts, so a price-only change is recognisable.

    Stored in `publications.payload_hash` as `c:<content>;p:<price>`.
    """

    content: str
    price: str

    def encode(self) -> str:
        return f"c:{self.content};p:{self.price}"

    @classmethod
    def decode(cls, text: str | None) -> "PayloadHash | None":
        if not text:
            return None
        parts = dict(part.split(":", 1) for part in text.split(";") if ":" in part)
        if "c" not in parts or "p" not in parts:
            return None
        return cls(parts["c"], parts["p"])


def _canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"cannot hash a {type(value).__name__}")


def _digest(value: Any) -> str:
    return hashlib.sha256(_canonical_json(value)).hexdigest()[:32]


def payload_hash(payload: Mapping[str, Any], price_keys: Iterable[str], ignore_keys: Iterable[str] = ()) -> PayloadHash:
    """Hash of the payload without its price keys (and `ignore_keys`, e.g. the active flag), plus
    hash of the price keys alone. Key order never matters."""
    price_keys = tuple(price_keys)
    skip = set(price_keys) | set(ignore_keys)
    content = {k: v for k, v in payload.items() if k not in skip}
    price = {k: payload.get(k) for k in price_keys}
    return PayloadHash(_digest(content), _digest(price))


@dataclass(frozen=True)
class Change:
    """One planned operation: the intent, the op, and the body and hash that go with it."""

    intent: Intent
    op: Op
    payload: Mapping[str, Any] | None
    hash: PayloadHash | None
    active: bool                      # whether the publication should end up shown
    why: str
    flags: Mapping[str, Any] = field(default_factory=dict)

    @property
    def vehicle_id(self) -> str:
        return self.intent.vehicle_id

    @property
    def external_id(self) -> str:
        return self.intent.external_id


def decide(intent: Intent, draft: Draft | None, *, price_keys: Iterable[str],
           ignore_keys: Iterable[str] = ()) -> Change:
    """The one operation that takes the target from what it holds to what we want.

    `draft` may be None for REMOVE/HOLD intents (nothing to build). A payload the vendor
    refused before (`flags.refused_hash` equals this payload's hash) is not sent again until
    the data changes: a 400 is never retried on a schedule.
    """
    pub = intent.publication
    live = pub is not None and pub.live
    flags = dict(draft.flags) if draft is not None else {}
    if intent.desired is Desired.REMOVE:
        if live:
            return Change(intent, Op.REMOVE, None, None, False, "; ".join(intent.reasons), flags)
        return Change(intent, Op.NOTHING, None, None, False, "not on the target", flags)

    desired = intent.desired
    reasons = list(intent.reasons)
    if draft is not None and desired in (Desired.PUBLISH, Desired.SUSPEND):
        if draft.hold_reason:
            reasons.append(draft.hold_reason)
            desired = Desired.SUSPEND if live else Desired.HOLD
        elif draft.suspend_reason:
            reasons.append(draft.suspend_reason)
            desired = Desired.SUSPEND if live else Desired.HOLD
        elif draft.payload is None:
            reasons.append("no payload could be built")
            desired = Desired.SUSPEND if live else Desired.HOLD
    why = "; ".join(reasons)

    if desired is Desired.HOLD:
        return Change(intent, Op.HOLD, None, None, False, why or "held", flags)

    payload = draft.payload if draft is not None else None
    new_hash = payload_hash(payload, price_keys, ignore_keys) if payload is not None else None
    old_hash = PayloadHash.decode(pub.payload_hash) if pub is not None else None
    refused = (pub.flags or {}).get(REFUSED_HASH) if pub is not None else None
    if new_hash is not None and refused == new_hash.encode():
        return Change(intent, Op.NOTHING, payload, new_hash, live and pub.state == State.ACTIVE.value,
                      "payload refused by the vendor before; waiting for the data to change", flags)

    if desired is Desired.SUSPEND:
        if pub is not None and pub.state == State.SUSPENDED.value:
            if new_hash is not None and old_hash is not None and new_hash != old_hash:
                op = Op.PRICE if new_hash.content == old_hash.content else Op.REPLACE
                return Change(intent, op, payload, new_hash, False, why, flags)
            return Change(intent, Op.NOTHING, payload, new_hash, False, why, flags)
        return Change(intent, Op.SUSPEND, payload, new_hash, False, why, flags)

    # desired PUBLISH
    if not live:
        return Change(intent, Op.CREATE, payload, new_hash, True, "not on the target yet", flags)
    if pub.state == State.SUSPENDED.value:
        if pub.flags.get(VENDOR_SUSPENDED) and new_hash is not None and new_hash.encode() == pub.payload_hash:
            return Change(intent, Op.NOTHING, payload, new_hash, False,
                          "suspended by the vendor; the same payload is not sent again until the data changes", flags)
        return Change(intent, Op.REACTIVATE, payload, new_hash, True, "listed and shown again", flags)
    if old_hash is None or new_hash is None:
        return Change(intent, Op.REPLACE, payload, new_hash, True, "no stored hash", flags)
    if new_hash == old_hash:
        return Change(intent, Op.NOTHING, payload, new_hash, True, "unchanged", flags)
    if new_hash.content == old_hash.content:
        return Change(intent, Op.PRICE, payload, new_hash, True, "price changed", flags)
    return Change(intent, Op.REPLACE, payload, new_hash, True, "content changed", flags)


# ---- reading the store -----------------------------------------------------------------------------

#: `vehicles` columns handed to targets (everything but the raw vendor record).
VEHICLE_COLUMNS = tuple(c for c in vehicles.c if c.name != "raw")


def _publication(row: Mapping[str, Any]) -> Publication:
    values = {name: row[name] for name in Publication.__dataclass_fields__}
    values["flags"] = dict(row["flags"] or {})
    return Publication(**values)


def load_publications(conn: sa.Connection, target: str, *, dealer_id: str | None = None,
                      vehicle_ids: Iterable[str] | None = None) -> dict[str, Publication]:
    """Stored publications of a target (one dealer's, or some vehicles'), by vehicle id."""
    stmt = sa.select(publications).where(publications.c.target == target)
    if dealer_id is not None:
        stmt = stmt.where(publications.c.dealer_id == dealer_id)
    if vehicle_ids is not None:
        stmt = stmt.where(publications.c.vehicle_id.in_(list(vehicle_ids)))
    return {row["vehicle_id"]: _publication(row) for row in conn.execute(stmt).mappings()}


def desired_states(conn: sa.Connection, target: str, dealer_id: str, account_id: str, *,
                   reusable_after_removal: bool, today: date | None = None) -> list[Intent]:
    """Every vehicle of the dealer, plus every stored publication of it, with its intent.

    Vehicles neither publishable nor ever published come back as HOLD (so callers can tell
    why a vehicle is not on the target); sold/removed vehicles never published are left out.
    """
    from dealer_pipeline.quality.publishable import blocked_vehicles  # pandas: loaded when publishing runs

    rows = {row["vehicle_id"]: dict(row) for row in conn.execute(
        sa.select(*VEHICLE_COLUMNS).where(vehicles.c.dealer_id == dealer_id).order_by(vehicles.c.vehicle_id)
    ).mappings()}
    pubs = load_publications(conn, target, dealer_id=dealer_id)
    blocked = blocked_vehicles(conn, dealer_id, today=today) if rows else {}
    intents: list[Intent] = []
    for vehicle_id in sorted(set(rows) | set(pubs)):
        vehicle, pub = rows.get(vehicle_id), pubs.get(vehicle_id)
        if pub is None and vehicle is not None and vehicle.get("availability") in ("sold", "removed"):
            continue
        desired, reasons = desire(vehicle, blocked.get(vehicle_id, ()), pub,
                                  reusable_after_removal=reusable_after_removal)
        if pub is not None:
            external_id = pub.external_id
        else:
            try:
                external_id = external_id_for(vehicle_id)
            except ExternalIdError as exc:
                desired, reasons, external_id = Desired.HOLD, (str(exc),), vehicle_id
        intents.append(Intent(target, dealer_id, pub.account_id if pub and pub.account_id else account_id,
                              vehicle_id, external_id, desired, reasons, vehicle, pub))
    return intents


# ---- recording outcomes ------------------------------------------------------------------------------


def _write(conn: sa.Connection, change: Change, values: Mapping[str, Any]) -> None:
    """Upsert the publication row: key and identity from the change, the rest from `values`."""
    intent = change.intent
    pub = intent.publication
    now = values.get("updated_at") or utcnow()
    row: dict[str, Any] = {
        "target": intent.target, "vehicle_id": intent.vehicle_id, "dealer_id": intent.dealer_id,
        "account_id": intent.account_id, "external_id": intent.external_id,
        "state": pub.state if pub is not None else State.ERROR.value,
        "payload_hash": pub.payload_hash if pub is not None else None,
        "payload": dict(pub.payload) if pub is not None and pub.payload is not None else None,
        "last_op": change.op.value, "last_status": None, "last_error": None,
        "flags": dict(pub.flags) if pub is not None else {},
        "published_at": pub.published_at if pub is not None else None,
        "updated_at": now,
    }
    row.update(values)
    row["updated_at"] = now
    upsert(conn, publications, [row])


def _flags(change: Change, **extra: Any) -> dict[str, Any]:
    """Flags after an operation: the draft's flags replace the target-specific ones; core keys kept
    or cleared explicitly."""
    flags = dict(change.flags)
    if change.why and change.op in (Op.SUSPEND, Op.HOLD):
        flags["reasons"] = change.why
    flags.update({k: v for k, v in extra.items() if v is not None})
    return flags


def record_success(conn: sa.Connection, change: Change, *, status: int | None, state: State | None = None,
                   op_label: str | None = None, now: datetime | None = None, **flag_values: Any) -> None:
    """The vendor accepted `change`: store the state, the accepted payload and its hash.

    `state` defaults to what the op implies (active/suspended, archived for REMOVE);
    `op_label` overrides `last_op` (e.g. `archive`, `reconcile`).
    """
    now = now or utcnow()
    pub = change.intent.publication
    if state is None:
        if change.op is Op.REMOVE:
            state = State.ARCHIVED
        else:
            state = State.ACTIVE if change.active else State.SUSPENDED
    values: dict[str, Any] = {
        "state": state.value, "last_op": op_label or change.op.value, "last_status": status, "last_error": None,
        "flags": _flags(change, **flag_values), "updated_at": now,
    }
    if change.payload is not None and change.hash is not None:
        values["payload"] = dict(change.payload)
        values["payload_hash"] = change.hash.encode()
    if state in (State.ACTIVE, State.SUSPENDED) and (pub is None or pub.published_at is None or not pub.live):
        if pub is None or not pub.flags.get(VENDOR_DELETED):   # a re-creation keeps its first publication
            values["published_at"] = now
    if pub is not None and pub.flags.get(VENDOR_DELETED) and state is not State.DELETED:
        values["flags"].pop(VENDOR_DELETED, None)
    _write(conn, change, values)


def record_failure(conn: sa.Connection, change: Change, *, status: int | None, error: str, refused: bool = False,
                   op_label: str | None = None, now: datetime | None = None, **flag_values: Any) -> None:
    """The operation failed. The stored state and hash stay as they were (the vendor still holds
    the old version), so the next run plans the same operation again, unless `refused` (the vendor
    said the input is wrong, e.g. 400): then this payload's hash is remembered and not re-sent
    until the data changes."""
    pub = change.intent.publication
    flags = dict(pub.flags) if pub is not None else {}
    flags.update(change.flags)
    flags.update({k: v for k, v in flag_values.items() if v is not None})
    if refused and change.hash is not None:
        flags[REFUSED_HASH] = change.hash.encode()
    values: dict[str, Any] = {"last_op": op_label or change.op.value, "last_status": status,
                              "last_error": error[:2000], "flags": flags, "updated_at": now or utcnow()}
    if pub is None:
        values["state"] = State.ERROR.value
    _write(conn, change, values)


def record_hold(conn: sa.Connection, change: Change, *, now: datetime | None = None) -> bool:
    """A vehicle that is not published stays off the target: store why (state `error`, `last_error`).

    Writes only when the reason changed, so holding the same vehicle run after run is free;
    returns whether it wrote.
    """
    pub = change.intent.publication
    if pub is not None and pub.live:
        raise ValueError(f"{change.vehicle_id} is live on {change.intent.target}: suspend it instead of holding")
    if pub is not None and pub.last_op == Op.HOLD.value and pub.last_error == change.why:
        return False
    state = State(pub.state) if pub is not None else State.ERROR
    _write(conn, change, {"state": state.value, "last_op": Op.HOLD.value, "last_status": None,
                          "last_error": change.why, "flags": _flags(change), "updated_at": now or utcnow()})
    return True


def record_state(conn: sa.Connection, target: str, vehicle_id: str, *, state: State, note: str | None,
                 now: datetime | None = None, clear_flags: Iterable[str] = (), **flag_values: Any) -> None:
    """The vendor changed a publication on its own (e.g. suspended it for lack of valid photos):
    store the state it reports and why (`note` becomes `last_error`), without touching the
    accepted payload hash. `clear_flags` removes keys (e.g. `vendor_suspended` once lifted)."""
    row = conn.execute(sa.select(publications).where(publications.c.target == target,
                                                     publications.c.vehicle_id == vehicle_id)).mappings().first()
    if row is None:
        raise LookupError(f"no {target} publication for {vehicle_id}")
    flags = dict(row["flags"] or {})
    for key in clear_flags:
        flags.pop(key, None)
    flags.update({k: v for k, v in flag_values.items() if v is not None})
    conn.execute(sa.update(publications).where(publications.c.target == target,
                                               publications.c.vehicle_id == vehicle_id)
                 .values(state=state.value, last_error=note, flags=flags, updated_at=now or utcnow()))


def summarize(changes: Iterable[Change]) -> dict[str, int]:
    """Count of planned operations by kind, every kind present (for metadata)."""
    counts = {op.value: 0 for op in Op}
    for change in changes:
        counts[change.op.value] += 1
    return counts


PlanBuilder = Callable[[Intent], "Draft | None"]


def plan(intents: Iterable[Intent], build: PlanBuilder, *, price_keys: Iterable[str],
         ignore_keys: Iterable[str] = ()) -> list[Change]:
    """`decide()` for each intent, drafting payloads only where one is needed."""
    price_keys, ignore_keys = tuple(price_keys), tuple(ignore_keys)
    changes = []
    for intent in intents:
        draft = build(intent) if intent.desired in (Desired.PUBLISH, Desired.SUSPEND) else None
        changes.append(decide(intent, draft, price_keys=price_keys, ignore_keys=ignore_keys))
    return changes


# ---- who publishes where ---------------------------------------------------------------------------------


def account_of(entry: DealerEntry, target: str) -> str | None:
    """The dealer's account on a target: Autocosmos adminmail, Autochat dealership id."""
    return {"autocosmos": entry.autocosmos_adminmail, "autochat": entry.autochat_dealership_id}.get(target)


def dealers_publishing_to(target: str, dealers_file: DealersFile | None = None) -> list[tuple[DealerEntry, str]]:
    """(dealer entry, account id) of every dealer in the dealers file that publishes to `target`."""
    dealers_file = dealers_file or load_dealers()
    found = []
    for entry in dealers_file.dealers:
        account = account_of(entry, target)
        if account:
            found.append((entry, account))
    return found

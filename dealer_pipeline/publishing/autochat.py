"""Publishing to Autochat: car bodies from canonical vehicles, options by name, one dealer per run.

Built on the publishing core (`core.py`): the core says what each vehicle should be
(publish, suspend, remove, hold) and compares the drafted body with what Autochat last
accepted; this module drafts the body and turns each operation into Autochat calls.

Autochat has create, replace and delete only (api/autochat.md 2.2-2.3), so:
create -> POST (a 409 switches to PUT); replace, price-only and reactivate -> PUT (a 404
falls back to POST); suspend (reserved, hidden, or held back by the quality gate) and remove
(sold, removed) -> DELETE, stored as `deleted`: the internalId may be created again when
the vehicle is shown again. Outcomes follow the engine's one failure semantics (`engine.py`):
a 403 blocks that dealer (an `api_blocks` row; later runs send nothing for it until an operator
resolves the block); a 400 is stored with its field errors on the publication and that body is
not sent again until the vehicle changes.

Options (ACH-CAR-2): our equipment (Autotrader features, Webmotors acessórios) is mapped to
names of `GET /api/options`, fetched once per run; a feature with no mapping, or mapped to
a name missing from the list (staging and production differ), is dropped and flagged in
`publications.flags`, never sent.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

import sqlalchemy as sa

from dealer_pipeline.canonical.vocabulary import fold
from dealer_pipeline.dealers_file import DealerEntry
from dealer_pipeline.http import VendorError
from dealer_pipeline.publishing.engine import Outcome, Report, run
from dealer_pipeline.publishing.core import (
    Change,
    Desired,
    Draft,
    Intent,
    Op,
    State,
    desired_states,
    plan,
    record_failure,
    record_hold,
    record_success,
)
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.vendors.autochat import AutochatClient, AutochatRejected, CarResult, render_field_errors

TARGET = "autochat"
PRICE_KEYS = ("salesPrice", "currency")

#: Our equipment names (folded: case and accents ignored) -> Autochat option names. Autotrader
#: features are tried by `name`, then `genericName`; Webmotors acessórios by name. A feature
#: not here is still matched when its name, written snake_case, or its text equals an option's
#: `name` or `prettyName` (e.g. "Apple CarPlay" -> apple_carplay).
FEATURE_OPTIONS: Mapping[str, tuple[str, ...]] = {
    # Autotrader (UK)
    "reversing camera": ("rear_view_camera",),
    "parking sensors - rear": ("park_distance_control_rear",),
    "parking sensors - front": ("park_distance_control_front",),
    "parking sensors": ("park_distance_control_rear",),
    "adaptive cruise control": ("adaptive_cruise_control",),
    "cruise control": ("cruise_control",),
    "lane keep assist": ("lane_departure_warning",),
    "lane assist": ("lane_departure_warning",),
    "blind spot monitoring": ("blind_spot_monitor",),
    "autonomous emergency braking": ("emergency_brake_assist",),
    "emergency braking": ("emergency_brake_assist",),
    "satellite navigation": ("navigation_system",),
    "sat nav": ("navigation_system",),
    "bluetooth connectivity": ("bluetooth",),
    "dual-zone climate control": ("automatic_climate_control",),
    "climate control": ("automatic_climate_control",),
    "air conditioning": ("ac",),
    "heated front seats": ("heated_seats",),
    "leather upholstery": ("leather_seats",),
    "keyless entry": ("keyless_central_door_lock",),
    "thatcham alarm": ("alarm_system",),
    "alarm": ("alarm_system",),
    "alloy wheels": ("alloy_wheels",),
    "privacy glass": ("dark_tinted_glass",),
    "panoramic sunroof": ("panoramic_roof",),
    "sunroof": ("sunroof",),
    "head-up display": ("head_up_display",),
    "detachable tow bar": ("tow_bar",),
    "tow bar": ("tow_bar",),
    "360 degree camera": ("rear_view_camera",),
    "surround view camera": ("rear_view_camera",),
    # Webmotors (BR)
    "air bag": ("passenger_airbag",),
    "ar-condicionado": ("ac",),
    "direcao eletrica": ("power_steering",),
    "vidros eletricos": ("electric_windows",),
    "travas eletricas": ("central_door_lock_remote",),
    "alarme": ("alarm_system",),
    "freios abs": ("abs",),
    "sensor de estacionamento": ("park_distance_control_rear",),
    "camera de re": ("rear_view_camera",),
    "bancos de couro": ("leather_seats",),
    "rodas de liga leve": ("alloy_wheels",),
    "piloto automatico": ("cruise_control",),
    "teto solar": ("sunroof",),
    "controle de tracao": ("esp",),
    "computador de bordo": ("on_board_computer",),
    "volante multifuncional": ("multi_functional_steering_wheel",),
    "farois de neblina": ("fog_lights",),
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", fold(text)).strip("_")


@dataclass(frozen=True)
class OptionMatch:
    names: tuple[str, ...]            # option names to send, in feature order
    unmapped: tuple[str, ...]         # our features with no option at all
    unknown: tuple[str, ...]          # "feature -> option" mapped to a name not in the current list


class OptionIndex:
    """The current `GET /api/options` list, and our feature -> option name mapping against it."""

    def __init__(self, options: Iterable[Mapping[str, Any]],
                 mapping: Mapping[str, Sequence[str]] | None = None) -> None:
        self.names = [str(o["name"]) for o in options if isinstance(o.get("name"), str) and o["name"]]
        known = set(self.names)
        self._known = known
        self._by_text: dict[str, str] = {}
        for option in options:
            name = option.get("name")
            if not isinstance(name, str) or not name:
                continue
            self._by_text.setdefault(fold(name.replace("_", " ")), name)
            if isinstance(option.get("prettyName"), str):
                self._by_text.setdefault(fold(option["prettyName"]), name)
        self.mapping = {fold(k): tuple(v) for k, v in (mapping if mapping is not None else FEATURE_OPTIONS).items()}

    def _candidates(self, texts: Sequence[str]) -> tuple[str, ...]:
        for text in texts:
            mapped = self.mapping.get(fold(text))
            if mapped:
                return mapped
        for text in texts:
            if _slug(text) in self._known:
                return (_slug(text),)
            found = self._by_text.get(fold(text))
            if found:
                return (found,)
        return ()

    def match(self, features: Any) -> OptionMatch:
        names: list[str] = []
        unmapped: list[str] = []
        unknown: list[str] = []
        for feature in features if isinstance(features, list) else []:
            texts = feature_texts(feature)
            if not texts:
                continue
            candidates = self._candidates(texts)
            if not candidates:
                unmapped.append(texts[0])
                continue
            sent = [c for c in candidates if c in self._known]
            unknown.extend(f"{texts[0]} -> {c}" for c in candidates if c not in self._known)
            names.extend(sent)
        return OptionMatch(tuple(dict.fromkeys(names)), tuple(dict.fromkeys(unmapped)), tuple(dict.fromkeys(unknown)))


def feature_texts(feature: Any) -> list[str]:
    """The texts a feature may be known by: Autotrader `name` then `genericName`; a bare string."""
    if isinstance(feature, str):
        return [feature] if feature.strip() else []
    if not isinstance(feature, Mapping):
        return []
    return [feature[k] for k in ("name", "genericName") if isinstance(feature.get(k), str) and feature[k].strip()]


# ---- the car body -------------------------------------------------------------------------------


def _lower(value: Any) -> str | None:
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    if not number.is_finite() or number < 0:
        return None
    return int(number.to_integral_value(ROUND_HALF_UP))


def _money(value: Any) -> float | None:
    if value is None:
        return None
    amount = Decimal(str(value))
    return float(amount.quantize(Decimal("0.01"), ROUND_HALF_UP)) if amount.is_finite() and amount >= 0 else None


def _http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _tax_deductible(vat_status: Any) -> bool | None:
    folded = fold(vat_status) if isinstance(vat_status, str) else ""
    if folded in ("inc vat", "ex vat", "plus vat"):
        return True
    if folded == "no vat":
        return False
    return None


def car_body(vehicle: Mapping[str, Any], *, dealership_id: str, internal_id: str,
             options: OptionIndex) -> tuple[dict[str, Any], dict[str, Any]]:
    """The create/replace body of §1.4 for one canonical vehicle, and the flags to store.

    `images` is always present (ACH-CAR-1: `[]` when there are none); text enumerations are
    lower-cased like the vendor's example; mileage is sent in km (`mileageUnit: KM`, what the
    canonical table holds); money as the vehicle's own amount and ISO currency. Null fields are
    left out (the contract only types the ones present).
    """
    images = [u.strip() for u in (vehicle.get("images") or []) if _http_url(u)]
    dropped_images = [u for u in (vehicle.get("images") or []) if not _http_url(u)]
    matched = options.match(vehicle.get("features"))
    registered = vehicle.get("first_registration_date")
    year = vehicle.get("manufacture_year") or vehicle.get("model_year") or (
        registered.year if isinstance(registered, date) else None)
    body: dict[str, Any] = {
        "internalId": internal_id,
        "dealershipId": dealership_id,
        "brand": _lower(vehicle.get("make")),
        "model": _lower(vehicle.get("model")),
        "version": vehicle.get("derivative") or vehicle.get("trim"),
        "bodyType": _lower(vehicle.get("body_type")),
        "bodyColor": _lower(vehicle.get("colour")),
        "fuelType": _lower(vehicle.get("fuel_type")),
        "transmission": _lower(vehicle.get("transmission")),
        "dateOfFirstRegistration": registered.isoformat() if isinstance(registered, date) else None,
        "yearOfConstruction": _int(year),
        "engineDisplacement": _int(vehicle.get("engine_cc")),
        "engineKw": _int(vehicle.get("power_kw")),
        "engineEmission": _int(vehicle.get("co2_g_km")),
        "numberOfDoors": _int(vehicle.get("doors")),
        "mileage": _int(vehicle.get("mileage_km")),
        "mileageUnit": "KM" if vehicle.get("mileage_km") is not None else None,
        "salesPrice": _money(vehicle.get("price_amount")),
        "currency": vehicle.get("price_currency") if vehicle.get("price_amount") is not None else None,
        "isTaxDeductible": _tax_deductible(vehicle.get("vat_status")),
        "licensePlate": vehicle.get("registration"),
        "vin": vehicle.get("vin"),
        "description": vehicle.get("description"),
        "options": list(matched.names),
        "images": images,
    }
    body = {k: v for k, v in body.items() if v is not None and v != ""}
    body.setdefault("images", [])
    flags: dict[str, Any] = {}
    if matched.unmapped:
        flags["unmapped_features"] = list(matched.unmapped)
    if matched.unknown:
        flags["unknown_options"] = list(matched.unknown)
    if dropped_images:
        flags["dropped_images"] = [str(u) for u in dropped_images]
    return body, flags


def draft(intent: Intent, options: OptionIndex) -> Draft:
    vehicle = intent.vehicle
    if vehicle is None:
        return Draft(None)
    body, flags = car_body(vehicle, dealership_id=intent.account_id, internal_id=intent.external_id, options=options)
    missing = [name for name in ("brand", "model") if name not in body]
    if missing:
        return Draft(None, hold_reason=f"no {' or '.join(missing)} to send (required by Autochat)", flags=flags)
    return Draft(body, flags=flags)


# ---- one dealer's run: the Autochat target of the publishing engine ----------------------------------------


class AutochatTarget:
    """Autochat's planning and calls for one dealer (`engine.Run` drives them). Its contract has no list
    or read call (api/autochat.md 2.2-2.4), so there is nothing to read back: a car deleted on Autochat's
    side is found by the next change to it (a PUT answered 404 falls back to POST)."""

    name = TARGET

    def __init__(self, engine: sa.Engine, client: AutochatClient, dealer: DealerEntry, *,
                 option_map: Mapping[str, Sequence[str]] | None = None, today: date | None = None) -> None:
        self.engine, self.client, self.dealer = engine, client, dealer
        self.option_map, self.today = option_map, today
        self.requests: Counter = Counter()      # "POST 201", "PUT 404", ...

    def skip_reason(self, report: Report) -> str | None:
        if not self.dealer.autochat_dealership_id:
            return "the dealer does not publish to Autochat (no publish.autochat in the dealers file)"
        cars_path = self.client.contract.cars_path
        block = self.client.http.blocks.find(dealer_id=self.dealer.dealer_id,
                                             service=self.client.http.policy.service_of(cars_path),
                                             method="POST", path=cars_path)
        if block is None:
            return None
        report.blocks.append({"id": block.id, "reason": block.reason, "action": block.action})
        report.blocked = f"block {block.id} ({block.reason}) is unresolved: {block.action}"
        return report.blocked

    def plan(self, report: Report) -> list[Change]:
        with self.engine.connect() as conn:
            intents = desired_states(conn, TARGET, self.dealer.dealer_id, self.dealer.autochat_dealership_id or "",
                                     reusable_after_removal=True, today=self.today)
        index: OptionIndex | None = None
        if any(i.desired in (Desired.PUBLISH, Desired.SUSPEND) for i in intents):
            index = OptionIndex(self.client.options(), self.option_map)
        changes = plan(intents, lambda intent: draft(intent, index) if index else Draft(None), price_keys=PRICE_KEYS)
        report.planned.update(c.op.value for c in changes)
        unmapped, unknown = Counter(), Counter()
        for change in changes:
            unmapped.update(change.flags.get("unmapped_features", []))
            unknown.update(change.flags.get("unknown_options", []))
        report.details.update(unmapped_features=_top(unmapped), unknown_options=_top(unknown),
                              dropped_options=sum(unmapped.values()) + sum(unknown.values()),
                              requests=self.requests)
        with transaction(self.engine) as conn:
            for change in changes:
                if change.op is Op.HOLD:
                    record_hold(conn, change)
        return [c for c in changes if c.op not in (Op.NOTHING, Op.HOLD)]

    def kind(self, change: Change) -> str:
        return change.op.value

    def send(self, change: Change, report: Report) -> None:
        result = _execute(self.client, change, self.dealer.dealer_id)
        self.requests.update(result.requests)
        report.sent.update(result.requests)
        with transaction(self.engine) as conn:
            _record_result(conn, change, result)

    def record_failure(self, change: Change, outcome: Outcome, error: str, exc: VendorError | None) -> None:
        if exc is not None and exc.status is not None:
            self.requests[f"{exc.method} {exc.status}"] += 1
        field_errors = exc.field_errors if isinstance(exc, AutochatRejected) else None
        if isinstance(exc, AutochatRejected):
            error = f"{exc.status} {render_field_errors(exc.field_errors) or exc.message}"
        with transaction(self.engine) as conn:
            record_failure(conn, change, status=exc.status if exc else None, error=error,
                           refused=outcome is Outcome.REFUSED, field_errors=field_errors or None)

    def read_back(self, report: Report) -> None:
        """Nothing to read: the contract lists no cars."""


def _top(counter: Counter, limit: int = 50) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:limit])


def _execute(client: AutochatClient, change: Change, dealer_id: str) -> CarResult:
    if change.op is Op.CREATE:
        return client.create(change.payload or {}, dealer_id=dealer_id)
    if change.op in (Op.REPLACE, Op.PRICE, Op.REACTIVATE):
        return client.replace(change.payload or {}, dealer_id=dealer_id)
    if change.op in (Op.SUSPEND, Op.REMOVE):
        return client.delete(change.external_id, dealer_id=dealer_id)
    raise ValueError(f"no Autochat call for {change.op}")


def _record_result(conn: sa.Connection, change: Change, result: CarResult) -> None:
    if result.op == "delete":
        record_success(conn, change, status=result.status, state=State.DELETED,
                       op_label="delete" if not result.absent else "delete (already absent)")
        return
    expected = "create" if change.op is Op.CREATE else "replace"
    record_success(conn, change, status=result.status, op_label=change.op.value if result.op == expected else result.op)


def publish_dealer(engine: sa.Engine, client: AutochatClient, dealer: DealerEntry, *,
                   option_map: Mapping[str, Sequence[str]] | None = None, today: date | None = None) -> Report:
    """Bring Autochat in line with the store for one dealer; every outcome lands in `publications`."""
    return run(AutochatTarget(engine, client, dealer, option_map=option_map, today=today), dealer.dealer_id)

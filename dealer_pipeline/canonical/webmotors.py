"""Webmotors stock hits into canonical rows (api/webmotors.md 2.2).

Every hit field is always present (null where unknown), so rows carry every column. A
value the contract does not allow (a price string with a thousands separator, a new fuel
name) costs that field only: the vehicle is kept, the field is None or `other`, the vendor
text stays in `raw`, and the batch's `unknown_values` counts it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Mapping, Sequence

from dealer_pipeline.canonical import convert
from dealer_pipeline.canonical.convert import Flag
from dealer_pipeline.canonical.model import NormalizedBatch
from dealer_pipeline.canonical.vocabulary import fold, folded_map

SOURCE = "webmotors"
CURRENCY = "BRL"

FUEL = folded_map({
    "Flex": "flex",
    "Gasolina": "petrol",
    "Etanol": "ethanol",
    "Álcool": "ethanol",
    "Diesel": "diesel",
    "Elétrico": "electric",
    "Híbrido": "hybrid",
    "Híbrido Plug-in": "plugin_hybrid",
    "GNV": "lpg_cng",
})
TRANSMISSION = folded_map({
    "Manual": "manual",
    "Automática": "automatic",
    "Automatizada": "automatic",
    "CVT": "automatic",
})
STATUS = folded_map({"Ativo": "available", "Vendido": "sold", "Inativo": "removed"})

#: Words kept upper case when make and model are title-cased ("VW - VOLKSWAGEN" -> "VW - Volkswagen").
ACRONYMS = frozenset({
    "AMG", "BMW", "BYD", "CAOA", "CLA", "DS", "GLA", "GLC", "GLE", "GLS", "GM", "GT", "GTI", "GWM", "JAC", "JCW",
    "MG", "RAM", "RS", "SRT", "SUV", "VW",
})
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CNPJ_WEIGHTS_1 = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_CNPJ_WEIGHTS_2 = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)


def vehicle_id(ad_id: str | int) -> str:
    return f"{SOURCE}:{ad_id}"


def dealer_id_from_cnpj(cnpj: str) -> str:
    """`webmotors:<14 digits>` from a CNPJ with or without punctuation; ValueError on a bad one."""
    if not isinstance(cnpj, str):
        raise ValueError(f"CNPJ {cnpj!r} is not a string")
    digits = re.sub(r"[.\-/\s]", "", cnpj)
    if not re.fullmatch(r"\d{14}", digits):
        raise ValueError(f"CNPJ {cnpj!r} must have 14 digits (punctuation . / - allowed)")
    if len(set(digits)) == 1:
        raise ValueError(f"CNPJ {cnpj!r} is not a valid CNPJ (repeated digit)")
    numbers = [int(d) for d in digits]
    first = _cnpj_digit(numbers[:12], _CNPJ_WEIGHTS_1)
    second = _cnpj_digit(numbers[:12] + [first], _CNPJ_WEIGHTS_2)
    if numbers[12:] != [first, second]:
        raise ValueError(f"CNPJ {cnpj!r} has wrong check digits (expected {first}{second})")
    return f"{SOURCE}:{digits}"


def _cnpj_digit(numbers: list[int], weights: tuple[int, ...]) -> int:
    remainder = sum(n * w for n, w in zip(numbers, weights, strict=True)) % 11
    return 0 if remainder < 2 else 11 - remainder


def title_case(name: str | None) -> str | None:
    """'HONDA' -> 'Honda', 'HR-V' -> 'HR-V', 'BMW' -> 'BMW', 'CLASSE A' -> 'Classe A'.

    A word stays upper case when it is a known acronym, holds a digit (X1, HB20) or has no
    vowel (HR, CR, V); otherwise it is capitalised.
    """
    if name is None:
        return None
    return _WORD.sub(lambda m: _title_word(m.group(0)), name.strip())


def _title_word(word: str) -> str:
    upper = word.upper()
    if upper in ACRONYMS or any(ch.isdigit() for ch in word) or not any(ch in "AEIOUY" for ch in fold(upper).upper()):
        return upper
    return upper[0] + upper[1:].lower()


def normalize_stock(
    hits: Sequence[Mapping[str, Any]], *, dealer_id: str, received_at: datetime
) -> NormalizedBatch:
    """One dealer's stock hits into `vehicles` rows; hits without a usable `id` are rejected."""
    batch = NormalizedBatch()
    unknown = batch.unknown_values

    def flag(name: str, value: Any) -> None:
        unknown[(name, str(value))] += 1

    for hit in hits:
        if convert.mapping(hit) is None:
            batch.rejected.append((hit, "hit is not a JSON object"))
            continue
        try:
            outcome = _row(hit, dealer_id, received_at, flag)
        except (TypeError, ValueError, AttributeError) as exc:
            outcome = f"malformed hit: {type(exc).__name__}: {exc}"
        if isinstance(outcome, str):
            batch.rejected.append((hit, outcome))
        else:
            batch.rows.append(outcome)
    return batch


def _ad_id(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and value.strip().isdigit() and int(value) > 0:
        return str(int(value))
    return None


def _name(section: Any) -> str | None:
    item = convert.mapping(section)
    return convert.text(item.get("name")) if item else None


def _row(hit: Mapping[str, Any], dealer: str, received_at: datetime, flag: Flag) -> dict[str, Any] | str:
    ad_id = _ad_id(hit.get("id"))
    if ad_id is None:
        return f"id is missing or not a positive integer: {hit.get('id')!r}"
    vehicle = convert.mapping(hit.get("vehicle")) or {}

    status = convert.text(hit.get("status"))
    availability = STATUS.get(fold(status)) if status else None
    if status is not None and availability is None:
        flag("lifecycle_state", status)

    fuel = _name(vehicle.get("fuel"))
    transmission = _name(vehicle.get("transmission"))
    price = convert.money(hit.get("price"), "price_amount", flag)
    km = convert.integer(vehicle.get("km"), "mileage_km", flag)
    if km is not None and km < 0:
        flag("mileage_km", km)
        km = None

    return {
        "vehicle_id": vehicle_id(ad_id),
        "source": SOURCE,
        "source_vehicle_id": ad_id,
        "dealer_id": dealer,
        "search_id": None,
        "external_stock_id": None,
        "external_stock_reference": None,
        "vin": None,
        # The API gives only the plate's last character(s) (`plate_final`, kept in raw).
        "registration": None,
        "make": title_case(_name(vehicle.get("brand"))),
        "model": title_case(_name(vehicle.get("model"))),
        "trim": None,
        "derivative": _name(vehicle.get("version")),
        "derivative_id": None,
        "vehicle_type": None,
        "condition": None,
        "body_type": None,
        "fuel_type": convert.lookup(FUEL, fuel, "fuel_type", flag),
        "source_fuel_type": fuel,
        "transmission": convert.lookup(TRANSMISSION, transmission, "transmission", flag),
        "source_transmission": transmission,
        "doors": convert.integer(vehicle.get("doors"), "doors", flag),
        "seats": None,
        "engine_cc": None,
        "power_kw": None,
        "co2_g_km": None,
        "colour": _name(vehicle.get("color")),
        "model_year": convert.integer(vehicle.get("year_model"), "model_year", flag),
        "manufacture_year": convert.integer(vehicle.get("year_manufacture"), "manufacture_year", flag),
        "first_registration_date": None,
        "mileage_km": km,
        "price_amount": price,
        "price_currency": CURRENCY if price is not None else None,
        "supplied_price_amount": None,
        "admin_fee_amount": None,
        "vat_status": None,
        "price_indicator_rating": None,
        "lifecycle_state": status,
        "reservation_status": None,
        # An unknown status keeps the vehicle listed: the text is stored and flagged, not guessed at.
        "availability": availability or "available",
        "shown_on_dealer_site": None,
        "attention_grabber": None,
        "description": convert.text(hit.get("details")),
        "description2": None,
        "images": _photos(hit.get("photos"), flag),
        "video_url": None,
        "spin_url": None,
        "features": _accessories(vehicle.get("acessories"), flag),
        "highlights": None,
        "source_version": None,
        "source_updated_at": convert.timestamp(
            hit.get("updated_at"), "source_updated_at", flag, received_at=received_at
        ),
        "raw": hit,
    }



def _photos(value: Any, flag: Flag) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        flag("images", type(value).__name__)
        return []
    photos = []
    for url in value:
        if isinstance(url, str) and url.strip():
            photos.append(url)
        else:
            flag("images", url)
    return photos


def _accessories(value: Any, flag: Flag) -> list[dict[str, str]]:
    section = convert.mapping(value)
    names = section.get("name") if section else None
    if names is None:
        return []
    if not isinstance(names, list):
        flag("features", type(names).__name__)
        return []
    return [{"name": name} for name in names if isinstance(name, str) and name.strip()]

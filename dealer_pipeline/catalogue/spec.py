"""A vehicle's catalogue specification: the best-match query parameters, normalised, and their key.

Vehicles that share make, model, derivative text, year, body, gearbox, fuel, engine size and
power share one spec, so the catalogue is asked once for all of them. Values are written in
the catalogue's vocabulary (api/autocosmos.md 1.5/1.8): `Automatico`/`Manual`, `nafta`,
`diesel`..., displacement in litres (`2.0`), power in `cv`. The vocabulary is configurable,
since Part 1 marks part of it one-source.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

KW_TO_CV = Decimal("1.35962")
SPEC_VERSION = "1"

#: Canonical fuel_type -> the catalogue's Propulsion words (hydrogen/other: not sent).
FUEL_WORDS: Mapping[str, str] = {
    "petrol": "nafta", "diesel": "diesel", "electric": "eléctrico", "hybrid": "nafta-eléctrico",
    "plugin_hybrid": "híbrido enchufable", "flex": "flex", "ethanol": "etanol", "lpg_cng": "gnc",
}
#: Canonical transmission -> `transmissionType` (the contract's `Automatico`/`Manual`).
TRANSMISSION_WORDS: Mapping[str, str] = {"automatic": "Automatico", "manual": "Manual"}
#: Folded body text (source vocabularies) -> carrocería codename.
BODY_WORDS: Mapping[str, str] = {
    "saloon": "sedan", "sedan": "sedan", "seda": "sedan", "hatchback": "hatchback", "hatch": "hatchback",
    "estate": "rural", "sw": "rural", "perua": "rural", "wagon": "rural", "coupe": "coupe", "cupe": "coupe",
    "convertible": "convertible", "cabriolet": "convertible", "conversivel": "convertible", "suv": "suv",
    "pickup": "pickup", "picape": "pickup", "mpv": "monovolumen", "minivan": "monovolumen",
    "monovolume": "monovolumen", "panelvan": "utilitario", "van": "utilitario", "furgao": "utilitario",
}
_LITRES = re.compile(r"(?<![\d.])(\d{1,2}\.\d)(?![\d.])")


def fold(text: str) -> str:
    """Lower case, accents removed, only letters and digits: how vocabulary words are compared."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]", "", plain)


def _clean(text: Any) -> str | None:
    if text is None:
        return None
    value = " ".join(str(text).split())
    return value or None


@dataclass(frozen=True)
class Vocabulary:
    """How canonical values become catalogue query words (override any mapping)."""

    fuel: Mapping[str, str] = field(default_factory=lambda: dict(FUEL_WORDS))
    transmission: Mapping[str, str] = field(default_factory=lambda: dict(TRANSMISSION_WORDS))
    body: Mapping[str, str] = field(default_factory=lambda: dict(BODY_WORDS))

    @classmethod
    def with_overrides(cls, fuel: Mapping[str, str] | None = None, transmission: Mapping[str, str] | None = None,
                       body: Mapping[str, str] | None = None) -> "Vocabulary":
        base = cls()
        return cls({**base.fuel, **(fuel or {})}, {**base.transmission, **(transmission or {})},
                   {**base.body, **{fold(k): v for k, v in (body or {}).items()}})


DEFAULT_VOCABULARY = Vocabulary()


def displacement_litres(vehicle: Mapping[str, Any]) -> str | None:
    """`engine_cc` in litres with one decimal (`1995` -> `2.0`), else a litre figure in the derivative text."""
    cc = vehicle.get("engine_cc")
    if cc:
        return f"{(Decimal(int(cc)) / 1000).quantize(Decimal('0.1'))}"
    found = _LITRES.search(str(vehicle.get("derivative") or ""))
    return found.group(1) if found else None


def power_cv(vehicle: Mapping[str, Any]) -> str | None:
    """`power_kw` as whole metric horsepower (`115 kW` -> `156cv`)."""
    kw = vehicle.get("power_kw")
    if kw is None or Decimal(str(kw)) <= 0:
        return None
    return f"{int((Decimal(str(kw)) * KW_TO_CV).quantize(Decimal('1')))}cv"


def spec_params(vehicle: Mapping[str, Any], vocabulary: Vocabulary = DEFAULT_VOCABULARY) -> dict[str, str] | None:
    """The best-match parameters of a vehicle (only those we know), or None without make and model.

    `trim` carries the most specific version text we have: the derivative (Autotrader's
    `320d M Sport 4dr Step Auto`, Webmotors' `2.0 16V FLEXONE EXL 4P CVT`), else the trim.
    """
    make, model = _clean(vehicle.get("make")), _clean(vehicle.get("model"))
    if not make or not model:
        return None
    params: dict[str, str] = {"make": make.lower(), "model": model.lower()}
    trim = _clean(vehicle.get("derivative")) or _clean(vehicle.get("trim"))
    if trim:
        params["trim"] = trim.lower()
    year = vehicle.get("model_year")
    if year:
        params["year"] = str(int(year))
    body = _clean(vehicle.get("body_type"))
    if body and vocabulary.body.get(fold(body)):
        params["bodystyle"] = vocabulary.body[fold(body)]
    transmission = vocabulary.transmission.get(str(vehicle.get("transmission") or ""))
    if transmission:
        params["transmissionType"] = transmission
    litres = displacement_litres(vehicle)
    if litres:
        params["displacement"] = litres
    power = power_cv(vehicle)
    if power:
        params["power"] = power
    fuel = vocabulary.fuel.get(str(vehicle.get("fuel_type") or ""))
    if fuel:
        params["fuelType"] = fuel
    return params


def spec_key(params: Mapping[str, str]) -> str:
    """A stable key for a spec: a hash of its parameters (order never matters)."""
    text = json.dumps({"v": SPEC_VERSION, **params}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

"""The numbers and vocabularies the rules judge against, in one place (documented in docs/data-quality.md).

Ranges are deliberately wide: a blocking rule must only catch values that cannot be a real
listing (a typo, a unit slip, a placeholder), never an unusual but genuine vehicle.
"""

from __future__ import annotations

from typing import Final

AVAILABILITIES: Final = ("available", "reserved", "sold", "removed")
#: Vehicles a publisher may show (reserved ones are published suspended): content rules apply to these.
LISTED: Final = ("available", "reserved")

FUEL_TYPES: Final = (
    "petrol", "diesel", "electric", "hybrid", "plugin_hybrid", "flex", "ethanol", "lpg_cng", "hydrogen", "other",
)
TRANSMISSIONS: Final = ("manual", "automatic", "other")
#: Fuels without a combustion engine, so an engine size of 0 is genuine.
NO_ENGINE_FUELS: Final = ("electric", "hydrogen")

MIN_MODEL_YEAR: Final = 1950
MILEAGE_KM: Final = (0, 1_000_000)
ENGINE_CC: Final = (50, 10_000)
POWER_KW: Final = (1, 1_500)
DOORS: Final = (0, 7)
SEATS: Final = (1, 20)

#: Plausible asking price per ISO-4217 currency, inclusive. The floor catches placeholders and prices typed
#: in thousands; the ceiling catches minor units sent as major units. ARS needs revisiting as inflation runs.
PRICE_RANGES: Final[dict[str, tuple[int, int]]] = {
    "GBP": (100, 5_000_000),
    "EUR": (100, 6_000_000),
    "BRL": (1_000, 30_000_000),
    "ARS": (100_000, 10_000_000_000),
    "MXN": (2_000, 120_000_000),
}

#: The market (ISO 3166 country) and currency each source lists in.
SOURCE_MARKET: Final = {"autotrader": "GB", "webmotors": "BR"}
SOURCE_CURRENCY: Final = {"autotrader": "GBP", "webmotors": "BRL"}

#: Vendor lifecycle state -> the availabilities consistent with it. `removed` is always allowed: a vehicle
#: missing from a complete baseline is removed whatever state it was last seen in.
LIFECYCLE_AVAILABILITY: Final[dict[str, dict[str, frozenset[str]]]] = {
    "autotrader": {
        "DUE_IN": frozenset({"available", "reserved", "removed"}),
        "FORECOURT": frozenset({"available", "reserved", "removed"}),
        "SALE_IN_PROGRESS": frozenset({"available", "reserved", "removed"}),
        "SOLD": frozenset({"sold", "removed"}),
        "WASTEBIN": frozenset({"removed"}),
        "DELETED": frozenset({"removed"}),
    },
    "webmotors": {
        "ATIVO": frozenset({"available", "removed"}),
        "VENDIDO": frozenset({"sold", "removed"}),
        "INATIVO": frozenset({"removed"}),
    },
}
#: Autotrader's `adverts.reservationStatus` value for a reserved vehicle.
RESERVED_STATUS: Final = "RESERVED"

#: `other` in fuel_type or transmission above this share of listed vehicles means the vocabulary mapping
#: is missing a vendor value.
OTHER_SHARE_WARN: Final = 0.05
#: A complete baseline with this much less stock than the previous complete one warns.
ROW_COUNT_DROP_WARN: Final = 0.20

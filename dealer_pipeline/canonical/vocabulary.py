"""The canonical vocabulary every source is mapped onto.

Analysts filter on these values and publishers translate them, so they are closed sets:
a vendor value that maps to none of them becomes `other` (fuel, transmission) and is
counted, while the vendor's own text is kept beside it.
"""

from __future__ import annotations

import functools
import unicodedata

FUEL_TYPES = (
    "petrol", "diesel", "electric", "hybrid", "plugin_hybrid", "flex", "ethanol", "lpg_cng", "hydrogen", "other",
)
TRANSMISSIONS = ("manual", "automatic", "other")
AVAILABILITIES = ("available", "reserved", "sold", "removed")
CONDITIONS = ("new", "used")


@functools.lru_cache(maxsize=4096)  # vendor enums repeat: fold each distinct value once
def fold(text: str) -> str:
    """Case- and accent-insensitive key: 'Elétrico', 'ELETRICO' and ' eletrico ' fold alike."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def folded_map(mapping: dict[str, str]) -> dict[str, str]:
    """A vendor-value map keyed by `fold(value)`."""
    return {fold(key): value for key, value in mapping.items()}

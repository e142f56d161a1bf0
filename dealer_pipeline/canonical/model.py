"""What a normalizer hands to the store: rows shaped like `vehicles`, plus what it could not map.

A row carries only columns of `vehicles` (`ROW_COLUMNS`). A column whose vendor section was
absent from the record (a response-refinement flag set to false, or field churn) is left
out of the row rather than set to None, so applying the row keeps the stored value: "not
sent" must never read as "cleared". The bookkeeping columns (`first_seen_at`, `updated_at`,
`last_seen_in_baseline_at`) belong to `apply_vehicles`, never to a normalizer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping

from dealer_pipeline.store.schema import vehicles

BOOKKEEPING_COLUMNS = frozenset({"first_seen_at", "updated_at", "last_seen_in_baseline_at"})

#: Every column a normalized row may carry.
ROW_COLUMNS = tuple(c.name for c in vehicles.columns if c.name not in BOOKKEEPING_COLUMNS)

#: Columns a row must always carry (the key, who owns it, and whether it can be sold).
REQUIRED_COLUMNS = ("vehicle_id", "source", "source_vehicle_id", "dealer_id", "availability", "raw")

#: Columns whose changes are written to `vehicle_changes`. The key and identity never change;
#: raw and the ordering columns change on every update and would only add noise (each change
#: row records the source_version it came with).
TRACKED_COLUMNS = tuple(
    name for name in ROW_COLUMNS
    if name not in {"vehicle_id", "source", "source_vehicle_id", "raw", "source_version", "source_updated_at"}
)


@dataclass
class NormalizedBatch:
    """One call's output. `rejected` holds records that cannot be keyed; nothing is dropped silently."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    #: (field, vendor value) -> how many records carried a value the vocabulary does not know
    #: or that could not be read; the row keeps the vendor text and maps it to other/None.
    unknown_values: Counter[tuple[str, str]] = field(default_factory=Counter)
    rejected: list[tuple[Mapping[str, Any], str]] = field(default_factory=list)

    def extend(self, other: "NormalizedBatch") -> None:
        self.rows.extend(other.rows)
        self.unknown_values.update(other.unknown_values)
        self.rejected.extend(other.rejected)

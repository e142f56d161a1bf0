"""The canonical vehicle model: vendor records into `vehicles` rows, and rows into the store.

`autotrader` and `webmotors` normalize (pure functions, no I/O); `apply` writes with change
tracking and vendor ordering. Domain code: no Dagster here.
"""

from dealer_pipeline.canonical.apply import ApplyResult, apply_vehicles, mark_missing_removed, upsert_dealers
from dealer_pipeline.canonical.model import NormalizedBatch
from dealer_pipeline.canonical.vocabulary import AVAILABILITIES, FUEL_TYPES, TRANSMISSIONS

__all__ = [
    "AVAILABILITIES",
    "ApplyResult",
    "FUEL_TYPES",
    "NormalizedBatch",
    "TRANSMISSIONS",
    "apply_vehicles",
    "mark_missing_removed",
    "upsert_dealers",
]

"""Data-quality rules over the canonical `vehicles` table.

Blocking rules keep a failing vehicle (never its whole dealer) out of publishing; warning
checks tell a person that a dealer's feed looks wrong. Rules run vectorized over a pandas
frame read with one query, so the whole table checks in seconds. Findings land in
`quality_findings` (analysts read them through `v_data_quality`). No dagster here: the
Dagster checks in `dealer_pipeline.defs.canonical` call these functions.
"""

from dealer_pipeline.quality.findings import replace_findings
from dealer_pipeline.quality.frame import load_vehicles
from dealer_pipeline.quality.publishable import blocked_vehicles, publishable_vehicle_ids
from dealer_pipeline.quality.rules import BLOCKING_RULES, RuleReport, evaluate_blocking_rules

__all__ = [
    "BLOCKING_RULES",
    "RuleReport",
    "blocked_vehicles",
    "evaluate_blocking_rules",
    "load_vehicles",
    "publishable_vehicle_ids",
    "replace_findings",
]

"""Data-quality rules over the canonical `vehicles` table.

Blocking rules keep a failing vehicle (never its whole dealer) out of publishing; warning
checks tell a person that a dealer's feed looks wrong. Rules run vectorized over a pandas
frame read with one query, so the whole table checks in seconds. Findings land in
`quality_findings` (analysts read them through `v_data_quality`). No dagster here: the
Dagster checks in `dealer_pipeline.defs.canonical` call these functions.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module defining it. Resolved on first use (PEP 562): the rules need pandas
#: (about 0.3 s to import), and the code location's start-up should not pay for it.
_EXPORTS = {
    "BLOCKING_RULES": "rules",
    "RuleReport": "rules",
    "blocked_vehicles": "publishable",
    "evaluate_blocking_rules": "rules",
    "load_vehicles": "frame",
    "publishable_vehicle_ids": "publishable",
    "replace_findings": "findings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)

"""The canonical domain: the `canonical/vehicles` table asset and its data-quality checks.

Source assets attach per-dealer checks with `build_dealer_vehicle_checks` (re-exported here).
"""

import dagster as dg

from dealer_pipeline.defs.canonical.assets import canonical_vehicles
from dealer_pipeline.defs.canonical.checks import CANONICAL_CHECKS, build_dealer_vehicle_checks

__all__ = ["build_dealer_vehicle_checks", "canonical_vehicles", "defs"]

defs = dg.Definitions(assets=[canonical_vehicles], asset_checks=CANONICAL_CHECKS)

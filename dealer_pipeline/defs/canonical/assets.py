"""`canonical/vehicles`: the whole canonical table as one asset.

The source assets write the rows; materializing this asset profiles the table (counts per
source, availability and dealer) so every run leaves a record of what the table held, and
its checks judge it.
"""

from __future__ import annotations

import dagster as dg

from dealer_pipeline.defs.canonical.checks import VEHICLES
from dealer_pipeline.defs.canonical.metadata import markdown_table
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.quality.limits import AVAILABILITIES
from dealer_pipeline.quality.summary import summarize_vehicles


#: The source assets that write `vehicles` (keys, not imports: the sources import this domain's checks).
SOURCE_STOCK = [dg.AssetKey(["autotrader", "stock"]), dg.AssetKey(["webmotors", "stock"])]


@dg.asset(key=VEHICLES, group_name="canonical", deps=SOURCE_STOCK,
          description="One row per vehicle from every source, in the canonical shape (table `vehicles`).")
def canonical_vehicles(store: StoreResource) -> dg.MaterializeResult:
    with store.engine().connect() as conn:
        summary = summarize_vehicles(conn)
    dealer_rows = [(dealer, *(counts.get(a, 0) for a in AVAILABILITIES), sum(counts.values()))
                   for dealer, counts in summary.by_dealer.items()]
    return dg.MaterializeResult(metadata={
        "dagster/row_count": dg.MetadataValue.int(summary.total),
        "dealers": dg.MetadataValue.int(summary.dealers),
        "by_source": dg.MetadataValue.json(summary.by_source),
        "by_availability": dg.MetadataValue.json(summary.by_availability),
        "by_dealer": dg.MetadataValue.md(markdown_table(["dealer_id", *AVAILABILITIES, "total"], dealer_rows,
                                                        limit=200)),
        "vehicles_with_blocking_findings": dg.MetadataValue.int(summary.vehicles_with_blocking_findings),
    })

"""`canonical/vehicles`: the whole canonical table as one asset.

The source assets write the rows; materializing this asset profiles the table (counts per
source, availability and dealer) so every run leaves a record of what the table held, and
its checks judge it.
"""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa

from dealer_pipeline.defs.automation import AFTER_DEALER_RUNS
from dealer_pipeline.defs.canonical.metadata import table
from dealer_pipeline.defs.keys import SOURCE_STOCK, VEHICLES
from dealer_pipeline.defs.labels import labels
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.quality.limits import AVAILABILITIES
from dealer_pipeline.quality.summary import summarize_vehicles
from dealer_pipeline.store.schema import vehicles


def column_schema(table_: sa.Table) -> dg.TableSchema:
    """A table's columns as the UI lists them: name, SQL type, nullability, key, and its comment."""
    return dg.TableSchema(columns=[
        dg.TableColumn(column.name, str(column.type).lower(), description=column.comment,
                       constraints=dg.TableColumnConstraints(nullable=column.nullable, unique=column.primary_key))
        for column in table_.columns])


@dg.asset(key=VEHICLES, group_name="canonical", deps=SOURCE_STOCK, automation_condition=AFTER_DEALER_RUNS,
          metadata={"dagster/column_schema": column_schema(vehicles)},
          **labels("canonical", "pandas", "great_expectations", grain="table"),
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
        "by_dealer": table([("dealer_id", "string"), *((a, "int") for a in AVAILABILITIES), ("total", "int")],
                           dealer_rows, limit=200),
        "vehicles_with_blocking_findings": dg.MetadataValue.int(summary.vehicles_with_blocking_findings),
    })

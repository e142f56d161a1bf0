"""The catalogue domain: Autocosmos catalogue answers per vehicle specification."""

import dagster as dg

from dealer_pipeline.defs.catalogue.assets import catalog_matches, catalogue_job

defs = dg.Definitions(assets=[catalog_matches], jobs=[catalogue_job])

"""The catalogue domain: Autocosmos catalogue answers per vehicle specification, and the Autocosmos
resource and pool that publishing to Autocosmos shares."""

import dagster as dg

from dealer_pipeline.defs.catalogue.assets import catalog_matches, catalogue_job
from dealer_pipeline.defs.catalogue.resources import AutocosmosResource

defs = dg.Definitions(assets=[catalog_matches], jobs=[catalogue_job], resources={"autocosmos": AutocosmosResource()})

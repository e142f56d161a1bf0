"""The publishing domain: the `published_dealer` partitions and one module per target, merged."""

import dagster as dg

from dealer_pipeline.defs.publishing import autochat, autocosmos, partitions, webmotors

defs = dg.Definitions.merge(
    dg.Definitions(assets=[partitions.published_dealers], jobs=[partitions.published_dealers_job],
                   schedules=[partitions.published_dealers_schedule]),
    autocosmos.defs,
    autochat.defs,
    webmotors.defs,
)

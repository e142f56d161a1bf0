"""The publishing domain: the `published_dealer` partitions and one module per target, merged."""

import dagster as dg

from dealer_pipeline.defs.keys import AUTOCHAT_PUBLICATIONS, AUTOCOSMOS_PUBLICATIONS
from dealer_pipeline.defs.publishing import autochat, autocosmos, partitions, webmotors

#: Everything one dealer publishes, in dependency order (Autocosmos, Autochat, then the status
#: report back to Webmotors and the enquiries into its CRM): what `dealer-pipeline sync` runs.
publish_dealer_job = dg.define_asset_job(
    "publish_dealer_job",
    selection=[AUTOCOSMOS_PUBLICATIONS, AUTOCHAT_PUBLICATIONS, webmotors.STATUS_KEY, webmotors.LEADS_KEY],
    description="Publish one dealer everywhere it publishes, then report status and leads back to Webmotors.",
)

defs = dg.Definitions.merge(
    dg.Definitions(assets=[partitions.published_dealers],
                   jobs=[partitions.published_dealers_job, publish_dealer_job],
                   schedules=[partitions.published_dealers_schedule]),
    autocosmos.defs,
    autochat.defs,
    webmotors.defs,
)

"""Names the domains share, each declared once: the asset keys one domain names in another's
(the graph's seams, named by key so no domain imports another's assets) and the run tags.

A key, pool or resource that only one domain uses stays in that domain's modules.
"""

import dagster as dg

#: The canonical table every source writes and every consumer reads.
VEHICLES = dg.AssetKey(["canonical", "vehicles"])
#: The sources' per-dealer assets that write `vehicles` (stock, and Autotrader's enrichments of it),
#: upstream of `canonical/vehicles`.
AUTOTRADER_STOCK = dg.AssetKey(["autotrader", "stock"])
AUTOTRADER_FEATURES = dg.AssetKey(["autotrader", "stock_features"])
AUTOTRADER_CHARGE_TIMES = dg.AssetKey(["autotrader", "charge_times"])
WEBMOTORS_STOCK = dg.AssetKey(["webmotors", "stock"])
SOURCE_STOCK = (AUTOTRADER_STOCK, AUTOTRADER_FEATURES, AUTOTRADER_CHARGE_TIMES, WEBMOTORS_STOCK)
#: The catalogue answers publishing to Autocosmos needs first.
CATALOG_MATCHES = dg.AssetKey(["catalogue", "catalog_matches"])
#: The channels' publications, upstream of what is reported back to Webmotors.
AUTOCOSMOS_PUBLICATIONS = dg.AssetKey(["publishing", "autocosmos"])
AUTOCHAT_PUBLICATIONS = dg.AssetKey(["publishing", "autochat"])

#: Run tag naming the one dealer a run is about: every run that touches a single dealer carries it
#: (schedules, `dealer-pipeline sync`, the events sensor), so the instance's per-dealer run limit
#: (`tag_concurrency_limits` in deploy/dagster.yaml) covers them all, and the UI filters by it.
DEALER_TAG = "dealer_pipeline/dealer"
#: Run tag of a run that covers a range of dealers: "<first>..<last> (<count>)".
DEALERS_TAG = "dealer_pipeline/dealers"
#: Dagster's tags for a run over a partition range (what its backfills put on ranged runs).
ASSET_PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
ASSET_PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"
#: Run tags of the events sensor's runs: the event ids handed to the run, and how many.
WEBHOOK_EVENTS_TAG = "webhook_events"
WEBHOOK_EVENT_COUNT_TAG = "webhook_event_count"
#: Run tags of the publish runs `publish_changes_sensor` requests: the `publish_requests` ids they
#: answer, and how many.
PUBLISH_REQUESTS_TAG = "dealer_pipeline/publish_requests"
PUBLISH_REQUEST_COUNT_TAG = "dealer_pipeline/publish_request_count"

"""Autocosmos v3 in Dagster: one `publishing/autocosmos` partition per published dealer.

The asset is partitioned by `published_dealer` (dealer ids), depends on `canonical/vehicles`
and `catalogue/catalog_matches`, and runs in the pool `autocosmos_api`, so the instance's
pool limit caps concurrent Autocosmos work. A dealer without an Autocosmos adminmail is
skipped. A 401 (our signature refused) fails the run and is not retried: the AppKey/AppSecret
need a person; a 403 blocks only that dealer (see `dealer-pipeline blocks list`); an outage stops
the run after recording every change (the publishing engine's semantics; metadata by `metadata.py`).
"""

# No `from __future__ import annotations`: Dagster reads resource annotations at runtime.
import dagster as dg

from dealer_pipeline.catalogue.review import review_queue_size
from dealer_pipeline.dealers_file import DealersFileError, load_dealers
from dealer_pipeline.defs.catalogue.resources import POOL, AutocosmosResource
from dealer_pipeline.defs.common import DEALER_RANGE_BACKFILL, DEALERS_PER_RUN, call_metadata, per_dealer_schedule
from dealer_pipeline.defs.keys import AUTOCOSMOS_PUBLICATIONS as AUTOCOSMOS_KEY
from dealer_pipeline.defs.keys import CATALOG_MATCHES, VEHICLES
from dealer_pipeline.defs.publishing.metadata import publish_each_dealer, publishing_result
from dealer_pipeline.defs.publishing.partitions import GROUP, PUBLISHED_DEALER
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.defs.labels import labels
from dealer_pipeline.defs.partitions import partition_keys_of
from dealer_pipeline.publishing.autocosmos import TARGET, publish_dealer
from dealer_pipeline.publishing.engine import Report


class AutocosmosPublishConfig(dg.Config):
    # Every run reads the states back (AC-STATE-1); the audit also compares each live publication's content
    # (fields, number of photos kept) with the payload Autocosmos accepted, and re-sends those that differ.
    audit: bool = False


@dg.asset(key=AUTOCOSMOS_KEY, partitions_def=PUBLISHED_DEALER, deps=[VEHICLES, CATALOG_MATCHES],
          group_name=GROUP, pool=POOL, backfill_policy=DEALER_RANGE_BACKFILL,
          **labels("publishing", "api", vendor="autocosmos", grain="dealer"),
          description="One dealer's stock on Autocosmos v3: create, replace, price PATCH, suspend/reactivate, "
                      "archive; photos checked first; vendor-side suspensions read back (table `publications`).")
def autocosmos_publications(context: dg.AssetExecutionContext, config: AutocosmosPublishConfig,
                            autocosmos: AutocosmosResource, store: StoreResource) -> dg.MaterializeResult:
    try:
        entries = load_dealers().by_id()
    except DealersFileError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    engine = store.engine()

    def adminmail(dealer_id: str) -> str | None:
        entry = entries.get(dealer_id)
        return entry.autocosmos_adminmail if entry is not None else None

    def skipped(dealer_id: str) -> dg.MaterializeResult:
        return publishing_result(context, Report(TARGET, dealer_id, skipped=f"{dealer_id} does not publish to "
                                                                            "Autocosmos"))

    if not any(adminmail(key) for key in partition_keys_of(context)):
        return publish_each_dealer(context, engine, "autocosmos", skipped, dict)
    with autocosmos.client(engine, context.run.run_id) as client, autocosmos.photo_checker(engine) as photos:
        def publish_one(dealer_id: str) -> dg.MaterializeResult:
            mail = adminmail(dealer_id)
            if not mail:
                return skipped(dealer_id)
            report = publish_dealer(engine, client, photos, dealer_id, mail, autocosmos.options(audit=config.audit))
            with engine.connect() as conn:
                queue = review_queue_size(conn)
            return publishing_result(context, report, client.http.stats, photos_fetched=photos.fetched,
                                     photo_cache_hits=photos.cache_hits, review_queue_size=queue,
                                     credentials_hint="check AUTOCOSMOS_APP_KEY/SECRET (our signature was refused)")

        return publish_each_dealer(context, engine, "autocosmos", publish_one, lambda: {
            **call_metadata(client.http.stats), "photos_fetched": photos.fetched,
            "photo_cache_hits": photos.cache_hits})


autocosmos_job = dg.define_asset_job(
    "autocosmos_publish_job", selection=[AUTOCOSMOS_KEY],
    description="Publish one dealer's stock to Autocosmos.",
)


autocosmos_publish_schedule = per_dealer_schedule(
    "autocosmos_publish_schedule", autocosmos_job, "40 * * * *", PUBLISHED_DEALER,
    "Every hour, runs over ranges of published dealers (dealers without Autocosmos finish at once).",
    dealers_per_run=DEALERS_PER_RUN,
)
autocosmos_audit_schedule = per_dealer_schedule(
    "autocosmos_audit_schedule", autocosmos_job, "15 4 * * *", PUBLISHED_DEALER,
    "Daily: publish, and audit each live publication's content against what Autocosmos accepted (edits made on "
    "its side, photos partly lost); states are read back on every run.",
    run_config={"ops": {"publishing__autocosmos": {"config": {"audit": True}}}},
    dealers_per_run=DEALERS_PER_RUN,
)


defs = dg.Definitions(
    assets=[autocosmos_publications],
    jobs=[autocosmos_job],
    schedules=[autocosmos_publish_schedule, autocosmos_audit_schedule],
)

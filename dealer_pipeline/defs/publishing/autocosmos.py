"""Autocosmos v3 in Dagster: one `publishing/autocosmos` partition per published dealer.

The asset is partitioned by `published_dealer` (dealer ids), depends on `canonical/vehicles`
and `catalogue/catalog_matches`, and runs in the pool `autocosmos_api`, so the instance's
pool limit caps concurrent Autocosmos work. A dealer without an Autocosmos adminmail is
skipped. A 401 (our signature refused) fails the run and is not retried: the AppKey/AppSecret
need a person; a 403 blocks only that dealer (see `dealer-pipeline blocks list`).
"""

# No `from __future__ import annotations`: Dagster reads resource annotations at runtime.
from contextlib import contextmanager
from datetime import timedelta
from typing import Dict, Iterator, Optional

import dagster as dg
import sqlalchemy as sa

from dealer_pipeline.catalogue.ranking import DEFAULT_THRESHOLD
from dealer_pipeline.catalogue.review import review_queue_size
from dealer_pipeline.catalogue.spec import Vocabulary
from dealer_pipeline.dealers_file import DealersFileError, load_dealers
from dealer_pipeline.defs.canonical.checks import VEHICLES
from dealer_pipeline.defs.common import per_dealer_schedule
from dealer_pipeline.defs.publishing.partitions import GROUP, PUBLISHED_DEALER
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.defs.labels import labels
from dealer_pipeline.http import AuthFailed
from dealer_pipeline.publishing.autocosmos import AutocosmosOptions, publish_dealer
from dealer_pipeline.publishing.photos import PhotoChecker, loopback_hosts
from dealer_pipeline.settings import Secret, get_settings
from dealer_pipeline.vendors.autocosmos import AutocosmosClient, AutocosmosContract

POOL = "autocosmos_api"
AUTOCOSMOS_KEY = dg.AssetKey(["publishing", "autocosmos"])
CATALOG_MATCHES_KEY = dg.AssetKey(["catalogue", "catalog_matches"])


class AutocosmosResource(dg.ConfigurableResource):
    """The Autocosmos v3 client and publishing options. Unset fields come from the `AUTOCOSMOS_*`
    settings, so by default no credential passes through Dagster config; when set through Dagster,
    give the secret as `dg.EnvVar("AUTOCOSMOS_APP_SECRET")`. `contract` overrides the items Part 1
    leaves unconfirmed (e.g. `{"amount_field": "Importe"}`)."""

    base_url: Optional[str] = None
    app_key: Optional[str] = None
    app_secret: Optional[str] = None
    contract: Dict[str, str] = {}
    match_threshold: float = DEFAULT_THRESHOLD
    fuel_words: Dict[str, str] = {}
    body_words: Dict[str, str] = {}
    default_color: str = "No especificado"
    readback_delay_seconds: float = 5.0
    photo_max_age_hours: float = 24.0
    photo_workers: int = 8
    max_attempts: int = 4
    backoff_base_seconds: float = 2.0

    def options(self, audit: bool = False) -> AutocosmosOptions:
        return AutocosmosOptions(threshold=self.match_threshold,
                                 vocabulary=Vocabulary.with_overrides(fuel=self.fuel_words, body=self.body_words),
                                 default_color=self.default_color, readback_delay_seconds=self.readback_delay_seconds,
                                 audit=audit)

    @contextmanager
    def client(self, engine: sa.Engine, run_id: Optional[str] = None) -> Iterator[AutocosmosClient]:
        contract = AutocosmosContract.with_overrides(self.contract)
        client = AutocosmosClient.from_settings(
            engine=engine, run_id=run_id, base_url=self.base_url, app_key=self.app_key,
            app_secret=Secret(self.app_secret) if self.app_secret else None, contract=contract,
            policy_overrides={"max_attempts": self.max_attempts, "backoff_base_seconds": self.backoff_base_seconds},
        )
        try:
            yield client
        finally:
            client.close()

    @contextmanager
    def photo_checker(self, engine: sa.Engine) -> Iterator[PhotoChecker]:
        settings = get_settings()
        # The sandbox serves its photos from its own loopback host: allowed only while it is the vendor.
        sandbox = loopback_hosts([settings.autotrader_base_url, settings.webmotors_base_url])
        checker = PhotoChecker(engine, max_age=timedelta(hours=self.photo_max_age_hours), workers=self.photo_workers,
                               allowed_hosts=sandbox)
        try:
            yield checker
        finally:
            checker.close()


class AutocosmosPublishConfig(dg.Config):
    audit: bool = False  # read every publication's state back even when nothing was sent (AC-STATE-1 audit)


def signature_refused(exc: AuthFailed) -> dg.Failure:
    """Autocosmos refused our ACS-HMAC signature: a person must fix the AppKey/AppSecret, so no retry."""
    return dg.Failure(description=f"Autocosmos refused our signature: check AUTOCOSMOS_APP_KEY/SECRET. {exc}",
                      metadata={"vendor": exc.vendor, "path": exc.path or "", "status": exc.status or -1,
                                "cf_ray": exc.cf_ray or "", "needs_operator": True},
                      allow_retries=False)


@dg.asset(key=AUTOCOSMOS_KEY, partitions_def=PUBLISHED_DEALER, deps=[VEHICLES, CATALOG_MATCHES_KEY],
          group_name=GROUP, pool=POOL, **labels("publishing", "api", vendor="autocosmos", grain="dealer"),
          description="One dealer's stock on Autocosmos v3: create, replace, price PATCH, suspend/reactivate, "
                      "archive; photos checked first; vendor-side suspensions read back (table `publications`).")
def autocosmos_publications(context: dg.AssetExecutionContext, config: AutocosmosPublishConfig,
                            autocosmos: AutocosmosResource, store: StoreResource) -> dg.MaterializeResult:
    dealer_id = context.partition_key
    try:
        entry = load_dealers().by_id().get(dealer_id)
    except DealersFileError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    if entry is None or not entry.autocosmos_adminmail:
        return dg.MaterializeResult(metadata={"skipped": f"{dealer_id} does not publish to Autocosmos"})
    engine = store.engine()
    with autocosmos.client(engine, context.run.run_id) as client, autocosmos.photo_checker(engine) as photos:
        try:
            report = publish_dealer(engine, client, photos, dealer_id, entry.autocosmos_adminmail,
                                    autocosmos.options(audit=config.audit))
        except AuthFailed as exc:
            raise signature_refused(exc) from None
        calls = int(sum(client.http.stats.calls.values()))
    if report.blocked:
        context.log.error(f"Autocosmos publishing stopped for {dealer_id}: {report.blocked}")
    if report.vendor_suspended:
        context.log.warning(f"{len(report.vendor_suspended)} publication(s) suspended by Autocosmos: "
                            f"{', '.join(report.vendor_suspended[:10])}")
    with engine.connect() as conn:
        queue = review_queue_size(conn)
    metadata = report.metadata()
    metadata.update({"api_calls": calls, "photos_fetched": photos.fetched, "photo_cache_hits": photos.cache_hits,
                     "review_queue_size": queue,
                     "planned": dg.MetadataValue.json(metadata["planned"]),
                     "sent": dg.MetadataValue.json(metadata["sent"]),
                     "held_reasons": dg.MetadataValue.json(metadata["held_reasons"]),
                     "catalogue": dg.MetadataValue.json(metadata["catalogue"]),
                     "failed": dg.MetadataValue.json(metadata["failed"]),
                     "errors": dg.MetadataValue.json(metadata["errors"]),
                     "suspended_by_vendor_ids": dg.MetadataValue.json(metadata["suspended_by_vendor_ids"])})
    return dg.MaterializeResult(metadata=metadata)


autocosmos_job = dg.define_asset_job(
    "autocosmos_publish_job", selection=[AUTOCOSMOS_KEY],
    description="Publish one dealer's stock to Autocosmos.",
)


autocosmos_publish_schedule = per_dealer_schedule(
    "autocosmos_publish_schedule", autocosmos_job, "40 * * * *", PUBLISHED_DEALER,
    "Every hour, one run per published dealer (dealers without Autocosmos finish at once).",
)
autocosmos_audit_schedule = per_dealer_schedule(
    "autocosmos_audit_schedule", autocosmos_job, "15 4 * * *", PUBLISHED_DEALER,
    "Daily: publish and read every publication's state back (catches vendor suspensions and moderation).",
    run_config={"ops": {"publishing__autocosmos": {"config": {"audit": True}}}},
)


defs = dg.Definitions(
    assets=[autocosmos_publications],
    jobs=[autocosmos_job],
    schedules=[autocosmos_publish_schedule, autocosmos_audit_schedule],
    resources={"autocosmos": AutocosmosResource()},
)

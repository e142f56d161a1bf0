"""Autotrader Connect in Dagster: advertisers, per-advertiser stock, features and charge times.

`autotrader/advertisers` keeps the dynamic partitions `autotrader_advertiser` equal to the
active advertisers on the integration; the other three assets are partitioned by it and
share the pool `autotrader_api`, so the instance's pool limit caps concurrent Autotrader
work. Retries: the HTTP layer already retries transient failures within its wait budget;
the scheduled jobs add a run-level `RetryPolicy` for longer outages, and a 400, 403 or a
refused token raises `dg.Failure(allow_retries=False)`: those need a person, not a retry.
"""

# No `from __future__ import annotations`: Dagster reads resource annotations at runtime.
from collections.abc import Callable, Iterator
from typing import List
from contextlib import closing, contextmanager

import dagster as dg
import sqlalchemy as sa

from dealer_pipeline.defs.canonical.checks import build_dealer_vehicle_checks
from dealer_pipeline.defs.common import (
    DEALER_RANGE_BACKFILL,
    DEALERS_PER_RUN,
    RUN_RETRY,
    baseline_metadata,
    call_metadata,
    dealers_result,
    per_dealer_schedule,
    sync_dynamic_partitions,
    vendor_failure,
)
from dealer_pipeline.defs.keys import AUTOTRADER_STOCK
from dealer_pipeline.defs.partitions import partition_keys_of
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.defs.labels import labels
from dealer_pipeline.http import AuthFailed, BadRequest, VendorBlocked, VendorError
from dealer_pipeline.settings import Secret, get_settings
from dealer_pipeline.sources import autotrader_sync as sync
from dealer_pipeline.sources.fanout import for_each_dealer
from dealer_pipeline.sources.runs import BaselineResult
from dealer_pipeline.vendors.autotrader import (
    ADVERTISERS_MAX_PAGE_SIZE,
    LACKS_PRODUCT,
    NOT_ON_INTEGRATION,
    STOCK_MAX_PAGE_SIZE,
    VENDOR,
    AutotraderClient,
    dealer_id,
)
from dealer_pipeline.vendors.factory import ClientSettings, build_client

GROUP = "autotrader"
POOL = "autotrader_api"
ADVERTISER_PARTITIONS = dg.DynamicPartitionsDefinition(name="autotrader_advertiser")
ADVERTISERS_KEY = dg.AssetKey(["autotrader", "advertisers"])
STOCK_KEY = AUTOTRADER_STOCK
FEATURES_KEY = dg.AssetKey(["autotrader", "stock_features"])
CHARGE_TIMES_KEY = dg.AssetKey(["autotrader", "charge_times"])
_NEEDS_A_PERSON = (VendorBlocked, BadRequest, AuthFailed)


class AutotraderResource(dg.ConfigurableResource):
    """The Autotrader Connect client. Unset fields come from the `AUTOTRADER_*` settings, so
    by default no credential passes through Dagster config; when set through Dagster, give
    the secret as `dg.EnvVar("AUTOTRADER_SECRET")` so only the variable's name is stored."""

    base_url: str | None = None
    key: str | None = None
    secret: str | None = None
    stock_page_size: int = STOCK_MAX_PAGE_SIZE
    advertiser_page_size: int = ADVERTISERS_MAX_PAGE_SIZE
    enrichment_concurrency: int = 8
    dealer_concurrency: int = 4
    max_in_flight: int = 16
    token_refresh_margin_seconds: float = 60.0
    max_attempts: int = 5
    retry_backoff_seconds: float = 0.5
    not_on_integration_pattern: str = NOT_ON_INTEGRATION
    lacks_product_pattern: str = LACKS_PRODUCT

    def client_settings(self) -> ClientSettings:
        """This configuration for `vendors.factory` (unset fields: the environment's)."""
        return ClientSettings(
            VENDOR, self.base_url, self.key, Secret(self.secret) if self.secret else None,
            policy={"not_on_integration_pattern": self.not_on_integration_pattern,
                    "lacks_product_pattern": self.lacks_product_pattern,
                    "refresh_margin_seconds": self.token_refresh_margin_seconds,
                    "max_attempts": self.max_attempts, "backoff_base_seconds": self.retry_backoff_seconds},
            max_in_flight=self.max_in_flight,
            options={"stock_page_size": self.stock_page_size, "advertiser_page_size": self.advertiser_page_size},
        )

    @contextmanager
    def client(self, engine: sa.Engine, run_id: str | None = None) -> Iterator[AutotraderClient]:
        with closing(build_client(self.client_settings(), engine=engine, run_id=run_id)) as client:
            yield client


def _failure(exc: VendorError, context: dg.AssetExecutionContext) -> dg.Failure:
    return vendor_failure(exc, context, _NEEDS_A_PERSON)


class AdvertisersConfig(dg.Config):
    """Empty: list every advertiser page. Advertiser ids: check only those (`?advertiserId=`, AT-ADV-3)."""

    advertiser_ids: List[str] = []


@dg.asset(key=ADVERTISERS_KEY, group_name=GROUP, pool=POOL,
          **labels("sources", "api", vendor="autotrader", grain="all_dealers"),
          description="Dealers on our Autotrader integration (Advertisers API, paged); upserts `dealers`, "
                      "marks dealers that left, and keeps one partition per active advertiser. Given "
                      "advertiser ids, checks only those with `?advertiserId=`.")
def advertisers(context: dg.AssetExecutionContext, config: AdvertisersConfig, autotrader: AutotraderResource,
                store: StoreResource) -> dg.MaterializeResult:
    engine = store.engine()
    with autotrader.client(engine, context.run.run_id) as client:
        try:
            if config.advertiser_ids:
                result = sync.refresh_advertisers(client, engine, config.advertiser_ids, run_id=context.run.run_id)
            else:
                result = sync.sync_advertisers(client, engine, run_id=context.run.run_id)
        except VendorError as exc:
            raise _failure(exc, context) from None
        calls = call_metadata(client.http.stats)
    added, dropped = sync_dynamic_partitions(context.instance, ADVERTISER_PARTITIONS, result.active,
                                             among=config.advertiser_ids or None)
    return dg.MaterializeResult(metadata={
        "listed": result.listed, "active": len(result.active), "inactive": len(result.inactive),
        "left_integration": len(result.left), "rejected": len(result.rejected),
        "partitions_added": len(added), "partitions_removed": len(dropped),
        "checked_ids": len(config.advertiser_ids), **calls,
    })


@dg.asset(key=STOCK_KEY, deps=[ADVERTISERS_KEY], partitions_def=ADVERTISER_PARTITIONS, group_name=GROUP,
          pool=POOL, backfill_policy=DEALER_RANGE_BACKFILL,
          **labels("sources", "api", "pandas", vendor="autotrader", grain="dealer"),
          description="Baseline stock of each advertiser of the run: every page downloaded, then applied to "
                      "`vehicles`; vehicles no longer listed are marked removed only after a complete download.")
def stock(context: dg.AssetExecutionContext, autotrader: AutotraderResource,
          store: StoreResource) -> dg.MaterializeResult:
    engine = store.engine()
    run_id = context.run.run_id

    def baseline(advertiser_id: str) -> BaselineResult:
        result = sync.run_baseline(client, engine, advertiser_id, run_id=run_id)
        if not result.complete:
            context.log.warning(f"baseline of advertiser {advertiser_id} applied but not complete: {result.error}")
        return result

    with autotrader.client(engine, run_id) as client:
        outcomes = for_each_dealer(partition_keys_of(context), baseline, engine=engine, stage="baseline",
                                   dealer_of=dealer_id, run_id=run_id, concurrency=autotrader.dealer_concurrency,
                                   vehicles_of=lambda result: result.records)
        calls = call_metadata(client.http.stats)
    return dealers_result(context, outcomes, baseline_metadata, calls, _NEEDS_A_PERSON)


def _enrichment(context: dg.AssetExecutionContext, autotrader: AutotraderResource, store: StoreResource,
                fetch: Callable[..., sync.EnrichmentResult], stage: str) -> dg.MaterializeResult:
    """Each advertiser's features or charge times (`fetch`), with what it called in the metadata.
    Charge times switched off call nothing, so their dealers need no lease."""
    engine = store.engine()
    run_id = context.run.run_id
    with autotrader.client(engine, run_id) as client:
        outcomes = for_each_dealer(
            partition_keys_of(context),
            lambda advertiser_id: fetch(client, engine, advertiser_id, concurrency=autotrader.enrichment_concurrency),
            engine=engine, stage=stage, dealer_of=dealer_id, run_id=run_id,
            concurrency=autotrader.dealer_concurrency,
            lease=stage != "charge_times" or client.charge_times_enabled)
        calls = call_metadata(client.http.stats)
    return dealers_result(context, outcomes, _enrichment_metadata, calls, _NEEDS_A_PERSON)


def _enrichment_metadata(result: sync.EnrichmentResult) -> dict:
    return {"calls_made": result.calls, "skipped": result.skipped, "candidates": result.candidates,
            "absent": result.absent, "empty": result.empty, "not_eligible": result.not_eligible,
            "enabled": result.enabled}


@dg.asset(key=FEATURES_KEY, deps=[STOCK_KEY], partitions_def=ADVERTISER_PARTITIONS, group_name=GROUP,
          pool=POOL, backfill_policy=DEALER_RANGE_BACKFILL,
          **labels("sources", "api", vendor="autotrader", grain="dealer"),
          description="Stock taxonomy features per stock item: fetched once, again only when the item's "
                      "derivativeId or features changed (never on a schedule).")
def stock_features(context: dg.AssetExecutionContext, autotrader: AutotraderResource,
                   store: StoreResource) -> dg.MaterializeResult:
    return _enrichment(context, autotrader, store, sync.sync_features, "features")


@dg.asset(key=CHARGE_TIMES_KEY, deps=[STOCK_KEY], partitions_def=ADVERTISER_PARTITIONS, group_name=GROUP,
          pool=POOL, backfill_policy=DEALER_RANGE_BACKFILL,
          **labels("sources", "api", vendor="autotrader", grain="dealer"),
          description="Charge times of electric and plug-in hybrid stock: fetched once, again only when the "
                      "derivativeId changed (AUTOTRADER_CHARGE_TIMES_ENABLED, AUTOTRADER_CHARGE_TIMES_PATH).")
def charge_times(context: dg.AssetExecutionContext, autotrader: AutotraderResource,
                 store: StoreResource) -> dg.MaterializeResult:
    return _enrichment(context, autotrader, store, sync.sync_charge_times, "charge_times")


STOCK_ASSETS = [stock, stock_features, charge_times]


def switched_off_assets() -> List[dg.AssetKey]:
    """Stock-job assets the settings switch off (charge times, AUTOTRADER_CHARGE_TIMES_ENABLED=false):
    runs leave them out rather than pay a step and a materialization per dealer for nothing."""
    return [] if get_settings().autotrader_charge_times_enabled else [CHARGE_TIMES_KEY]


advertisers_job = dg.define_asset_job(
    "autotrader_advertisers_job", selection=[ADVERTISERS_KEY], op_retry_policy=RUN_RETRY,
    description="Refresh the Autotrader advertisers and their partitions.",
)
stock_job = dg.define_asset_job(
    "autotrader_stock_job", selection=[STOCK_KEY, FEATURES_KEY, CHARGE_TIMES_KEY], op_retry_policy=RUN_RETRY,
    description="One advertiser's baseline stock, then its features and charge times.",
)


@dg.schedule(job=advertisers_job, cron_schedule="0 5 * * *", execution_timezone="Europe/London",
             default_status=dg.DefaultScheduleStatus.STOPPED)
def autotrader_advertisers_schedule() -> dg.RunRequest:
    return dg.RunRequest()


autotrader_stock_schedule = per_dealer_schedule(
    "autotrader_stock_schedule", stock_job, "20 5,11,17,23 * * *", ADVERTISER_PARTITIONS,
    f"Every advertiser partition, in runs of up to {DEALERS_PER_RUN} advertisers, four times a day (every "
    "tick is a new baseline).",
    dealer_of=dealer_id, execution_timezone="Europe/London", dealers_per_run=DEALERS_PER_RUN,
    assets=[STOCK_KEY, FEATURES_KEY, CHARGE_TIMES_KEY], switched_off=switched_off_assets,
)


#: Per-dealer data-quality checks on each baseline (blocking rules, row count drop, freshness).
STOCK_CHECKS = build_dealer_vehicle_checks(STOCK_KEY, ADVERTISER_PARTITIONS, "autotrader")

defs = dg.Definitions(
    assets=[advertisers, *STOCK_ASSETS],
    asset_checks=STOCK_CHECKS,
    jobs=[advertisers_job, stock_job],
    schedules=[autotrader_advertisers_schedule, autotrader_stock_schedule],
    resources={"autotrader": AutotraderResource()},
)

"""Webmotors in Dagster: the dealers of the dealers file, and each dealer's Cockpit stock.

`webmotors/dealers` reads the dealers file, upserts `dealers` and keeps the dynamic
partitions `webmotors_dealer` equal to the CNPJ digits of its Webmotors dealers;
`webmotors/stock` is partitioned by it and uses the pool `webmotors_api`, so the instance's
pool limit caps concurrent Webmotors work. Retries: the HTTP layer already retries 429/5xx
and transport errors within its wait budget; the scheduled jobs add a run-level
`RetryPolicy` for longer outages, and a 401 (with Webmotors' three probable causes), a block,
rejected input or a broken dealers file raise `dg.Failure(allow_retries=False)`: those need a
person, not a retry.
"""

# No `from __future__ import annotations`: Dagster reads resource annotations at runtime.
from contextlib import closing, contextmanager
from typing import Dict, Iterator, List, Optional

import dagster as dg
import sqlalchemy as sa

from dealer_pipeline.dealers_file import DealerEntry, DealersFile, DealersFileError, load_dealers
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
)
from dealer_pipeline.defs.keys import WEBMOTORS_STOCK
from dealer_pipeline.defs.partitions import partition_keys_of
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.defs.labels import labels
from dealer_pipeline.http import AuthFailed, BadRequest, ClientStats, VendorBlocked
from dealer_pipeline.settings import Secret
from dealer_pipeline.sources import webmotors_sync as sync
from dealer_pipeline.sources.fanout import for_each_dealer
from dealer_pipeline.sources.runs import BaselineResult
from dealer_pipeline.vendors.webmotors import (
    DEFAULT_ORIGIN,
    MAX_PAGE_SIZE,
    VENDOR,
    WebmotorsClient,
    WebmotorsContract,
    WebmotorsRejected,
    dealer_id,
)
from dealer_pipeline.vendors.factory import ClientSettings, build_client

GROUP = "webmotors"
POOL = "webmotors_api"
DEALER_PARTITIONS = dg.DynamicPartitionsDefinition(name="webmotors_dealer")
DEALERS_KEY = dg.AssetKey(["webmotors", "dealers"])
STOCK_KEY = WEBMOTORS_STOCK
_NEEDS_A_PERSON = (VendorBlocked, BadRequest, AuthFailed, WebmotorsRejected)


class WebmotorsResource(dg.ConfigurableResource):
    """The Webmotors client factory (one client per dealer). Unset fields come from the
    `WEBMOTORS_*` settings, so by default no credential passes through Dagster config; when set
    through Dagster, give the secret as `dg.EnvVar("WEBMOTORS_CLIENT_SECRET")`. `contract`
    overrides paths and field names of api/webmotors.md Part 2 (e.g. `{"stock_path": "..."}`)
    once homologation shows the real ones."""

    base_url: Optional[str] = None
    client_id: Optional[str] = None
    client_secret: Optional[str] = None
    stock_page_size: int = MAX_PAGE_SIZE
    origin: str = DEFAULT_ORIGIN
    contract: Dict[str, str] = {}
    token_refresh_margin_seconds: float = 60.0
    max_attempts: int = 5
    backoff_base_seconds: float = 0.5
    read_timeout_seconds: float = 60.0
    dealer_concurrency: int = 4

    def dealers(self) -> DealersFile:
        return load_dealers()

    def client_settings(self) -> ClientSettings:
        """This configuration for `vendors.factory` (unset fields: the environment's)."""
        return ClientSettings(
            VENDOR, self.base_url, self.client_id, Secret(self.client_secret) if self.client_secret else None,
            contract=WebmotorsContract.with_overrides(self.contract),
            policy={"refresh_margin_seconds": self.token_refresh_margin_seconds, "max_attempts": self.max_attempts,
                    "backoff_base_seconds": self.backoff_base_seconds,
                    "read_timeout_seconds": self.read_timeout_seconds},
            options={"stock_page_size": self.stock_page_size, "origin": self.origin},
        )

    @contextmanager
    def client(self, engine: sa.Engine, dealer: DealerEntry, run_id: Optional[str] = None) -> Iterator[WebmotorsClient]:
        settings = self.client_settings()
        with closing(build_client(settings, engine=engine, run_id=run_id, dealer=dealer)) as client:
            yield client


def _dealers_file(webmotors: WebmotorsResource) -> DealersFile:
    try:
        return webmotors.dealers()
    except DealersFileError as exc:
        raise dg.Failure(description=f"the dealers file is invalid: {exc}", allow_retries=False) from None


@dg.asset(key=DEALERS_KEY, group_name=GROUP, **labels("sources", "yaml", vendor="webmotors", grain="all_dealers"),
          description="Webmotors dealers from the dealers file (DEALER_PIPELINE_DEALERS_FILE); upserts `dealers`, "
                      "marks dealers no longer listed, and keeps one partition per dealer (CNPJ digits).")
def dealers(context: dg.AssetExecutionContext, webmotors: WebmotorsResource,
            store: StoreResource) -> dg.MaterializeResult:
    dealers_file = _dealers_file(webmotors)
    result = sync.sync_dealers(store.engine(), dealers_file, run_id=context.run.run_id)
    added, dropped = sync_dynamic_partitions(context.instance, DEALER_PARTITIONS, result.listed)
    return dg.MaterializeResult(metadata={
        "dealers_file": str(dealers_file.path), "listed": len(result.listed), "left_integration": len(result.left),
        "partitions_added": len(added), "partitions_removed": len(dropped),
    })


@dg.asset(key=STOCK_KEY, deps=[DEALERS_KEY], partitions_def=DEALER_PARTITIONS, group_name=GROUP, pool=POOL,
          backfill_policy=DEALER_RANGE_BACKFILL,
          **labels("sources", "api", "pandas", vendor="webmotors", grain="dealer"),
          description="Cockpit stock of each Webmotors dealer of the run: every page downloaded, then applied to "
                      "`vehicles`; vehicles no longer listed are marked removed only after a complete download.")
def stock(context: dg.AssetExecutionContext, webmotors: WebmotorsResource,
          store: StoreResource) -> dg.MaterializeResult:
    engine = store.engine()
    run_id = context.run.run_id
    entries = _dealers_file(webmotors).by_id()
    stats: List[ClientStats] = []

    def baseline(cnpj: str) -> BaselineResult:
        entry = entries.get(dealer_id(cnpj))
        if entry is None:
            raise dg.Failure(description=f"dealer {dealer_id(cnpj)} is not in the dealers file; rematerialize "
                                         f"webmotors/dealers to drop its partition", allow_retries=False)
        with webmotors.client(engine, entry, run_id) as client:
            stats.extend((client.http.stats, client.once.stats))
            result = sync.run_baseline(client, engine, entry, run_id=run_id)
        if not result.complete:
            context.log.warning(f"baseline of {entry.dealer_id} applied but not complete: {result.error}")
        return result

    outcomes = for_each_dealer(partition_keys_of(context), baseline, engine=engine, stage="baseline",
                               dealer_of=dealer_id, run_id=run_id, concurrency=webmotors.dealer_concurrency,
                               vehicles_of=lambda result: result.records)
    return dealers_result(context, outcomes, lambda result: {**baseline_metadata(result), "total": result.total},
                          call_metadata(*stats), _NEEDS_A_PERSON)


dealers_job = dg.define_asset_job(
    "webmotors_dealers_job", selection=[DEALERS_KEY], op_retry_policy=RUN_RETRY,
    description="Refresh the Webmotors dealers from the dealers file, and their partitions.",
)
stock_job = dg.define_asset_job(
    "webmotors_stock_job", selection=[STOCK_KEY], op_retry_policy=RUN_RETRY,
    description="One Webmotors dealer's baseline stock.",
)


@dg.schedule(job=dealers_job, cron_schedule="30 4 * * *", execution_timezone="America/Sao_Paulo",
             default_status=dg.DefaultScheduleStatus.STOPPED)
def webmotors_dealers_schedule() -> dg.RunRequest:
    return dg.RunRequest()


webmotors_stock_schedule = per_dealer_schedule(
    "webmotors_stock_schedule", stock_job, "50 4,10,16,22 * * *", DEALER_PARTITIONS,
    f"Every dealer partition, in runs of up to {DEALERS_PER_RUN} dealers, four times a day (every tick is a "
    "new baseline).",
    dealer_of=dealer_id, execution_timezone="America/Sao_Paulo", dealers_per_run=DEALERS_PER_RUN,
)


#: Per-dealer data-quality checks on each baseline (blocking rules, row count drop, freshness).
STOCK_CHECKS = build_dealer_vehicle_checks(STOCK_KEY, DEALER_PARTITIONS, "webmotors")

defs = dg.Definitions(
    assets=[dealers, stock],
    asset_checks=STOCK_CHECKS,
    jobs=[dealers_job, stock_job],
    schedules=[webmotors_dealers_schedule, webmotors_stock_schedule],
    resources={"webmotors": WebmotorsResource()},
)

"""Reporting back to Webmotors in Dagster: `publishing/webmotors_status` and `publishing/leads`.

Both are partitioned by `published_dealer` and use the pool `webmotors_api`.
`publishing/webmotors_status` runs after the channels' publishing assets and sends each
Webmotors vehicle's changed status (Publicado with our classified URL, or Erro with the
reason). `publishing/leads` polls the dealer's Autocosmos agency for enquiries, stores them in
`leads`, and inserts each into the dealer's Cockpit CRM once (Webmotors dealers only).
Dealers without anything to do finish at once with a note in the metadata.
"""

# No `from __future__ import annotations`: Dagster reads resource annotations at runtime.
from contextlib import ExitStack
from datetime import datetime
from typing import Any, List, Optional

import dagster as dg

from dealer_pipeline.defs.common import DEALER_RANGE_BACKFILL, DEALERS_PER_RUN, RUN_RETRY, per_dealer_schedule
from dealer_pipeline.defs.catalogue.resources import AutocosmosResource
from dealer_pipeline.defs.keys import AUTOCHAT_PUBLICATIONS, AUTOCOSMOS_PUBLICATIONS
from dealer_pipeline.defs.publishing.metadata import publish_each_dealer, publishing_result
from dealer_pipeline.defs.publishing.partitions import PUBLISHED_DEALER, dealer_entries
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.defs.sources.webmotors import POOL, WebmotorsResource
from dealer_pipeline.defs.labels import labels
from dealer_pipeline.publishing import leads as lead_flow
from dealer_pipeline.publishing import webmotors_status as status_flow
from dealer_pipeline.publishing.engine import Report

GROUP = "publishing"
STATUS_KEY = dg.AssetKey(["publishing", "webmotors_status"])
LEADS_KEY = dg.AssetKey(["publishing", "leads"])
CHANNEL_KEYS = [AUTOCOSMOS_PUBLICATIONS, AUTOCHAT_PUBLICATIONS]


class ClassifiedResource(dg.ConfigurableResource):
    """Our classified as Webmotors sees it: the ad URL reported with `Publicado`
    (placeholders {external_id}, {vehicle_id}, {ad_id}, {dealer_id}) and the channels whose
    publications count. The CRM `origem` is the Webmotors resource's `origin`."""

    url_template: str = status_flow.DEFAULT_URL_TEMPLATE
    channels: List[str] = list(status_flow.CHANNELS)


@dg.asset(key=STATUS_KEY, deps=CHANNEL_KEYS, partitions_def=PUBLISHED_DEALER, group_name=GROUP, pool=POOL,
          backfill_policy=DEALER_RANGE_BACKFILL,
          **labels("publishing", "api", vendor="webmotors", grain="dealer"),
          description="Each Webmotors vehicle's publication status on our channels (Publicado with our URL, or Erro "
                      "with the reason), reported to Webmotors when it changed; last reports in `publications` "
                      "(target webmotors_status).")
def webmotors_status(context: dg.AssetExecutionContext, webmotors: WebmotorsResource, classified: ClassifiedResource,
                     store: StoreResource) -> dg.MaterializeResult:
    engine = store.engine()
    entry_of = dealer_entries()

    def report_one(dealer_id: str) -> dg.MaterializeResult:
        entry = entry_of(dealer_id)
        skipped = status_flow.skip_reason(entry, classified.channels)
        if skipped:   # no Webmotors client for a dealer with nothing to report
            return publishing_result(context, Report(status_flow.TARGET, entry.dealer_id, skipped=skipped))
        try:
            status_flow.check_url_template(classified.url_template)
        except ValueError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        with webmotors.client(engine, entry, context.run.run_id) as client:
            report = status_flow.report_dealer(engine, client, entry, url_template=classified.url_template,
                                               channels=classified.channels)
            return publishing_result(context, report, client.http.stats, client.once.stats)

    return publish_each_dealer(context, engine, "webmotors_status", report_one, dict)


@dg.asset(key=LEADS_KEY, deps=[CHANNEL_KEYS[0]], partitions_def=PUBLISHED_DEALER, group_name=GROUP, pool=POOL,
          backfill_policy=DEALER_RANGE_BACKFILL,
          **labels("publishing", "api", "autocosmos", vendor="webmotors", grain="dealer"),
          description="Enquiries from the dealer's Autocosmos agency, stored in `leads` (source autocosmos, raw "
                      "payload kept) and inserted once each into the Cockpit CRM of Webmotors dealers.")
def publishing_leads(context: dg.AssetExecutionContext, autocosmos: AutocosmosResource, webmotors: WebmotorsResource,
                     store: StoreResource) -> dg.MaterializeResult:
    engine = store.engine()
    entry_of = dealer_entries()

    def poll_one(dealer_id: str) -> dg.MaterializeResult:
        entry = entry_of(dealer_id)
        with ExitStack() as stack:
            cosmos = stack.enter_context(autocosmos.client(engine, context.run.run_id))

            def fetch(adminmail: str, desde: Optional[datetime]) -> list:
                return cosmos.enquiries(adminmail, since=desde, dealer_id=entry.dealer_id)

            crm: List[Any] = []

            def crm_client() -> Any:
                crm.append(stack.enter_context(webmotors.client(engine, entry, context.run.run_id)))
                return crm[-1]

            report = lead_flow.run_dealer(engine, entry, fetch, crm_client if entry.source == "webmotors" else None,
                                          origin=webmotors.origin, run_id=context.run.run_id)
            needs_operator = report.details.get("forwarded", {}).get(lead_flow.NEEDS_OPERATOR, 0)
            if needs_operator:
                context.log.error(f"{entry.dealer_id}: {needs_operator} lead(s) with an unknown CRM outcome are marked "
                                  f"needs_operator (never re-sent automatically): check the dealer's Cockpit CRM")
            stats = [cosmos.http.stats, *(s for c in crm for s in (c.http.stats, c.once.stats))]
            return publishing_result(context, report, *stats)

    return publish_each_dealer(context, engine, "leads", poll_one, dict)


status_job = dg.define_asset_job(
    "publishing_webmotors_status_job", selection=[STATUS_KEY], op_retry_policy=RUN_RETRY,
    description="Report one dealer's changed publication statuses to Webmotors.",
)
leads_job = dg.define_asset_job(
    "publishing_leads_job", selection=[LEADS_KEY], op_retry_policy=RUN_RETRY,
    description="Poll one dealer's Autocosmos enquiries and insert new ones into its Cockpit CRM.",
)


publishing_webmotors_status_schedule = per_dealer_schedule(
    "publishing_webmotors_status_schedule", status_job, "55 * * * *", PUBLISHED_DEALER,
    "Hourly at :55, after the channels' publishing runs (Autochat :20, Autocosmos :40) have had their "
    "time: the status reported is the one they left (non-Webmotors dealers finish at once).",
    dealers_per_run=DEALERS_PER_RUN,
)
publishing_leads_schedule = per_dealer_schedule(
    "publishing_leads_schedule", leads_job, "*/10 * * * *", PUBLISHED_DEALER,
    "Every 10 minutes: a lead is worth most while the buyer is still looking.",
    dealers_per_run=DEALERS_PER_RUN,
)


defs = dg.Definitions(
    assets=[webmotors_status, publishing_leads],
    jobs=[status_job, leads_job],
    schedules=[publishing_webmotors_status_schedule, publishing_leads_schedule],
    resources={"classified": ClassifiedResource()},
)

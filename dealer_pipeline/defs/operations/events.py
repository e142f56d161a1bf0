"""Webhook events into the canonical store: a sensor that finds them, a job that applies them.

The sensor runs one bounded, indexed query per tick (pending events after its cursor) and
makes no HTTP call; it groups the events by dealer and requests one run per dealer. A run
applies its dealer's pending events from the first id it was given up to whatever is
pending when it starts, so a dealer that already has a run waiting to start (queued) gets no
second one: the waiting run will take the new events too. Runs never pile up faster than
they can be launched, whatever the notification rate (one look at the instance's waiting
runs per tick, also no HTTP).

The cursor (the highest event id handed to a run) is only an optimisation: the events' own
status is the truth and applying is idempotent, so a tick that fails (cursor not saved)
re-requests the same events and nothing is applied twice. A run that fails before marking
its events leaves them `pending` below the cursor; every `SWEEP_SECONDS` the tick's query
also takes pending events older than `RETRY_AFTER` and requests them again.

`minimum_interval_seconds` is 2, below the daemon's 5 s pass over its sensors, so the sensor
ticks on every pass (at 5 a pass that came a moment early skipped it: 5 to 10 s between ticks);
a notification reaches `vehicles` within about one pass plus one run start (see
bench/freshness_bench.py and bench/publish_freshness_bench.py for measured figures).
"""

# No `from __future__ import annotations`: Dagster reads the op and config annotations at runtime.
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Optional

import dagster as dg

from dealer_pipeline.defs.keys import DEALER_TAG, WEBHOOK_EVENT_COUNT_TAG, WEBHOOK_EVENTS_TAG
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.defs.sources.autotrader import AutotraderResource
from dealer_pipeline.defs.sources.webmotors import WebmotorsResource
from dealer_pipeline.events import ALL_DEALERS, apply_events, followups, group_by_dealer, pending_events
from dealer_pipeline.events.model import Followups
from dealer_pipeline.store.types import utcnow
from dealer_pipeline.vendors.factory import VendorClients

SENSOR_INTERVAL_SECONDS = 2
MAX_EVENTS_PER_TICK = 2_000
SWEEP_SECONDS = 300
RETRY_AFTER = timedelta(minutes=10)
OP_NAME = "apply_webhook_events"
NO_DEALER_TAG = "none"


#: Statuses of a run that has not yet selected its events.
WAITING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING]


class ApplyEventsConfig(dg.Config):
    """Which pending events one run applies: one dealer's (or every dealer's) from `first_id`,
    up to `last_id` or, when it is None, to whatever is pending when the run starts."""

    first_id: int
    last_id: Optional[int] = None
    dealer_id: Optional[str] = None  # None with all_dealers false: the events that name no dealer
    all_dealers: bool = False


@dg.op(
    name=OP_NAME,
    description="Apply pending webhook events (idempotent; each event is marked applied, ignored or failed).",
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL),
)
def apply_webhook_events(context: dg.OpExecutionContext, config: ApplyEventsConfig, store: StoreResource) -> dict:
    summary = apply_events(
        store.engine(),
        dealer_id=ALL_DEALERS if config.all_dealers else config.dealer_id,
        first_id=config.first_id,
        last_id=config.last_id,
    )
    result = summary.as_dict() | {
        "refetch": {vid: sorted(kinds) for vid, kinds in summary.followups.refetch.items()},
        "lead_details": [list(item) for item in summary.followups.lead_details],
        "advertisers": sorted(summary.followups.advertisers),
    }
    context.log.info(
        f"events {config.first_id}..{config.last_id or ''} ({config.dealer_id or 'no dealer'}): "
        f"{summary.applied} applied, {summary.ignored} ignored, {summary.failed} failed, "
        f"{summary.retry_later} to retry"
    )
    context.add_output_metadata({
        "processed": summary.processed,
        "applied": summary.applied,
        "ignored": summary.ignored,
        "failed": summary.failed,
        "retry_later": summary.retry_later,
        "by_type": dg.MetadataValue.json(result["by_type"]),
        "errors": dg.MetadataValue.json(result["errors"]),
        "refetch_requested": summary.refetch_requested,
        "lead_details_wanted": summary.lead_details_wanted,
    })
    return result


@dg.op(
    name="fetch_after_events",
    description="Vendor calls the applied events ask for: features / charge times of vehicles whose derivativeId "
                "or features changed (AT-FEAT-2, AT-CHG-3), advertisers whose notice was incomplete (AT-ADV-3). "
                "The events are already committed. Clients come from the `autotrader` and `webmotors` resources.",
)
def fetch_after_events(context: dg.OpExecutionContext, applied: dict, store: StoreResource,
                       autotrader: AutotraderResource, webmotors: WebmotorsResource) -> None:
    work = Followups(
        refetch={vid: set(kinds) for vid, kinds in applied.get("refetch", {}).items()},
        lead_details=[(dealer, key, lead_type) for dealer, key, lead_type in applied.get("lead_details", [])],
        advertisers=set(applied.get("advertisers", [])),
    )
    if not work.refetch and not work.lead_details and not work.advertisers:
        return
    engine = store.engine()
    configs = {c.vendor: c for c in (autotrader.client_settings(), webmotors.client_settings())}
    clients = VendorClients(engine, context.run_id, configs)
    report = followups.run(engine, work, raise_errors=True, clients=clients)
    if report.error:
        context.log.warning(f"follow-up calls stopped: {report.error}")
    context.add_output_metadata({
        "vehicles_to_refresh": len(work.refetch),
        "advertisers_reread": len(work.advertisers),
        "refetch_calls": report.refetch_calls,
        "followup_error": report.error or "",
        "lead_details_fetched": report.lead_details_fetched,
        "lead_details_pending": report.lead_details_pending,
    })


@dg.job(
    name="apply_webhook_events_job",
    description="Applies the webhook events the sensor hands it (one dealer's id range per run), then makes "
                "the vendor calls they ask for.",
    executor_def=dg.in_process_executor,
    tags={"domain": "operations"},
)
def apply_webhook_events_job() -> None:
    fetch_after_events(apply_webhook_events())


@dataclass(frozen=True)
class EventsCursor:
    after_id: int = 0
    swept_at: Optional[str] = None  # ISO time of the last straggler sweep

    @classmethod
    def parse(cls, raw: Optional[str]) -> "EventsCursor":
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(after_id=int(data.get("after_id", 0)), swept_at=data.get("swept_at"))

    def serialize(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def sweep_due(self, now: datetime) -> bool:
        return self.swept_at is None or now - datetime.fromisoformat(self.swept_at) >= timedelta(seconds=SWEEP_SECONDS)


def run_config(first_id: int, last_id: Optional[int], dealer_id: Optional[str], *, all_dealers: bool = False) -> dict:
    config = {"first_id": first_id, "last_id": last_id, "dealer_id": dealer_id, "all_dealers": all_dealers}
    return {"ops": {OP_NAME: {"config": config}}}


@dg.sensor(
    name="webhook_events_sensor",
    job=apply_webhook_events_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests runs that apply new webhook events, one per dealer (one bounded query per tick).",
)
def webhook_events_sensor(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult:
    cursor = EventsCursor.parse(context.cursor)
    now = utcnow()
    sweep = cursor.sweep_due(now)
    with store.engine().connect() as conn:
        events = pending_events(conn, cursor.after_id, MAX_EVENTS_PER_TICK,
                                retry_before=now - RETRY_AFTER if sweep else None)
    next_cursor = EventsCursor(
        after_id=max([cursor.after_id, *(e.id for e in events)]),
        swept_at=now.isoformat() if sweep else cursor.swept_at,
    )
    if not events:
        return dg.SensorResult(skip_reason=f"no pending events after id {cursor.after_id}",
                               cursor=next_cursor.serialize())
    waiting = _dealers_with_waiting_runs(context.instance)
    requests, coalesced = [], 0
    for batch in group_by_dealer(events):
        tag = batch.dealer_id or NO_DEALER_TAG
        retried = batch.first_id <= cursor.after_id
        if tag in waiting and not retried:
            coalesced += 1  # the dealer's waiting run selects its events when it starts
            continue
        key = f"webhook-events:{tag}:{batch.first_id}-{batch.last_id}"
        requests.append(dg.RunRequest(
            run_key=f"{key}:retry-{now.isoformat()}" if retried else key,
            run_config=run_config(batch.first_id, None, batch.dealer_id),
            tags=run_tags(batch.dealer_id, batch.first_id, batch.last_id, batch.count),
        ))
    context.log.info(f"{len(events)} pending events, {len(requests)} runs, {coalesced} dealers left to their "
                     f"waiting run (cursor {cursor.after_id} -> {next_cursor.after_id})")
    if not requests:
        return dg.SensorResult(skip_reason=f"{coalesced} dealers already have a run waiting to start",
                               cursor=next_cursor.serialize())
    return dg.SensorResult(run_requests=requests, cursor=next_cursor.serialize())


def run_tags(dealer_id: Optional[str], first_id: int, last_id: int, count: int) -> dict[str, str]:
    """The dealer tag every per-dealer run carries (so the per-dealer run limit covers event runs too);
    events that name no dealer are about none, so their runs carry no dealer tag."""
    tags = {WEBHOOK_EVENTS_TAG: f"{first_id}-{last_id}", WEBHOOK_EVENT_COUNT_TAG: str(count)}
    return {DEALER_TAG: dealer_id, **tags} if dealer_id else tags


def _dealers_with_waiting_runs(instance: dg.DagsterInstance) -> set[str]:
    """Dealers (or `NO_DEALER_TAG`) of this job's runs that have not started selecting events yet."""
    runs = instance.get_runs(dg.RunsFilter(job_name=apply_webhook_events_job.name, statuses=WAITING), limit=1000)
    return {run.tags.get(DEALER_TAG, NO_DEALER_TAG) for run in runs}

"""Publishing follows the webhook events: a sensor that requests the publish runs they ask for.

Applying an event that changes what a classified shows (or that lifts a block) adds a row to
`publish_requests` in the same transaction (`dealer_pipeline.events.republish`). This sensor reads
the rows after its cursor (one bounded primary-key range query, no HTTP call) and requests one run
of `publish_dealer_job` per dealer: Autocosmos, Autochat and the status reported back to Webmotors
(leads keep their schedule). A dealer whose run of this job has not started yet gets none (it reads
the store when it starts); dealers that publish nowhere (no `published_dealer` partition) are passed
over; at most `MAX_RUNS_PER_TICK` dealers per tick, the rest on the next tick.

Runs execute in process (one process per run, no subprocess per step), so a change reaches the
classifieds within seconds (bench/publish_freshness_bench.py). The hourly publish schedules stay as
the safety net for anything this misses (a failed run is not retried here).
"""

# No `from __future__ import annotations`: kept like the other defs modules, whose annotations Dagster reads.
from typing import Set

import dagster as dg

from dealer_pipeline.defs.keys import (
    AUTOCHAT_PUBLICATIONS,
    AUTOCOSMOS_PUBLICATIONS,
    DEALER_TAG,
    PUBLISH_REQUEST_COUNT_TAG,
    PUBLISH_REQUESTS_TAG,
)
from dealer_pipeline.defs.operations.events import WAITING
from dealer_pipeline.defs.publishing.definitions import publish_dealer_job
from dealer_pipeline.defs.publishing.partitions import PUBLISHED_DEALER
from dealer_pipeline.defs.publishing.webmotors import STATUS_KEY
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.events.republish import plan_runs, requests_after

SENSOR_NAME = "publish_changes_sensor"
#: Below the daemon's 5 s pass over its sensors, so this one ticks on every pass.
SENSOR_INTERVAL_SECONDS = 2
MAX_REQUESTS_PER_TICK = 5_000
MAX_RUNS_PER_TICK = 20
#: What a change asks for: the classifieds, and the status Webmotors shows for them.
PUBLISH_ASSETS = (AUTOCOSMOS_PUBLICATIONS, AUTOCHAT_PUBLICATIONS, STATUS_KEY)
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}


def parse_cursor(raw: object) -> int:
    """The last request id handed to a run (0 before the first tick)."""
    return int(raw) if raw else 0


def run_request(dealer_id: str, first_id: int, last_id: int, count: int) -> dg.RunRequest:
    """One dealer's publish run; the run key names its request ids, so a tick evaluated again after a
    crash (cursor not saved) does not launch it twice."""
    return dg.RunRequest(
        run_key=f"publish-requests:{dealer_id}:{first_id}-{last_id}",
        partition_key=dealer_id, asset_selection=list(PUBLISH_ASSETS), run_config=IN_PROCESS,
        tags={DEALER_TAG: dealer_id, PUBLISH_REQUESTS_TAG: f"{first_id}-{last_id}",
              PUBLISH_REQUEST_COUNT_TAG: str(count)},
    )


@dg.sensor(
    name=SENSOR_NAME,
    job=publish_dealer_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a dealer's publish run when applied events change what it publishes or lift its block "
                "(one per dealer, bounded per tick, one indexed query, no HTTP).",
)
def publish_changes_sensor(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult:
    after = parse_cursor(context.cursor)
    with store.engine().connect() as conn:
        rows = requests_after(conn, after, MAX_REQUESTS_PER_TICK)
    if not rows:
        return dg.SensorResult(skip_reason=f"no publish requests after id {after}", cursor=str(after))
    published = set(context.instance.get_dynamic_partitions(PUBLISHED_DEALER.name))  # type: ignore[arg-type]
    plan = plan_runs(rows, after, published=published, waiting=_dealers_with_waiting_runs(context.instance),
                     max_runs=MAX_RUNS_PER_TICK)
    requests = [run_request(run.dealer_id, run.first_id, run.last_id, run.count) for run in plan.runs]
    context.log.info(f"{len(rows)} publish requests after id {after}: {len(requests)} runs, {plan.coalesced} "
                     f"answered by waiting runs, {len(plan.unpublished)} dealers publish nowhere, "
                     f"{plan.deferred} left for the next tick (cursor -> {plan.after_id})")
    if not requests:
        return dg.SensorResult(skip_reason=f"{plan.coalesced} requests answered by waiting runs, "
                                           f"{len(plan.unpublished)} dealers publish nowhere",
                               cursor=str(plan.after_id))
    return dg.SensorResult(run_requests=requests, cursor=str(plan.after_id))


def _dealers_with_waiting_runs(instance: dg.DagsterInstance) -> Set[str]:
    """Dealers with a run of the publish job that has not started reading the store and will publish
    at least what this sensor asks for."""
    runs = instance.get_runs(dg.RunsFilter(job_name=publish_dealer_job.name, statuses=WAITING), limit=1000)
    return {run.tags[DEALER_TAG] for run in runs if DEALER_TAG in run.tags
            and (run.asset_selection is None or set(PUBLISH_ASSETS) <= set(run.asset_selection))}

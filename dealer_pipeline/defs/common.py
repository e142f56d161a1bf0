"""Dagster pieces every domain uses alike: the run-level retry policy of scheduled jobs, dynamic
partitions kept equal to a list, one run request per dealer partition, vendor failures as
Dagster failures, and baselines and the HTTP client's counters as metadata."""

# No `from __future__ import annotations`: kept like the other defs modules, whose annotations Dagster reads.
from datetime import datetime
from typing import Any, Callable, Iterable, List, Mapping, Optional, Tuple

import dagster as dg

from dealer_pipeline.http import ClientStats, VendorBlocked, VendorError
from dealer_pipeline.sources.runs import BaselineResult
from dealer_pipeline.store.types import utcnow

#: Run-level retries of scheduled jobs, for outages longer than one call's wait budget.
RUN_RETRY = dg.RetryPolicy(max_retries=2, delay=120, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
#: Run tag naming the dealer a run is about (filterable in the UI).
DEALER_TAG = "dealer_pipeline/dealer"


def sync_dynamic_partitions(instance: dg.DagsterInstance, partitions_def: dg.DynamicPartitionsDefinition,
                            wanted: Iterable[str]) -> Tuple[List[str], List[str]]:
    """Make the instance's partitions of `partitions_def` exactly `wanted`; returns (added, removed)."""
    name = partitions_def.name
    assert name is not None, "a dynamic partitions definition kept by an asset has a name"
    wanted = set(wanted)
    existing = set(instance.get_dynamic_partitions(name))
    added, dropped = sorted(wanted - existing), sorted(existing - wanted)
    if added:
        instance.add_dynamic_partitions(name, added)
    for key in dropped:
        instance.delete_dynamic_partition(name, key)
    return added, dropped


def dealer_run_requests(context: dg.ScheduleEvaluationContext, partitions_def: dg.DynamicPartitionsDefinition,
                        dealer_of: Callable[[str], str] = lambda key: key,
                        run_config: Optional[Mapping] = None) -> List[dg.RunRequest]:
    """One run request per partition, tagged with its dealer.

    Dagster refuses a schedule tick that returns several requests without run keys, so each gets
    `<partition>@<tick time>`: every tick is a new run per dealer, and a tick the daemon evaluates
    again (after a crash) does not launch its runs twice.
    """
    keys = context.instance.get_dynamic_partitions(partitions_def.name)  # type: ignore[arg-type]
    tick = _tick_time(context).isoformat()
    extra = {"run_config": dict(run_config)} if run_config is not None else {}
    return [dg.RunRequest(run_key=f"{key}@{tick}", partition_key=key, tags={DEALER_TAG: dealer_of(key)}, **extra)
            for key in keys]


def per_dealer_schedule(name: str, job: Any, cron_schedule: str,
                        partitions_def: dg.DynamicPartitionsDefinition, description: str, *,
                        dealer_of: Callable[[str], str] = lambda key: key, run_config: Optional[Mapping] = None,
                        execution_timezone: Optional[str] = None) -> dg.ScheduleDefinition:
    """A schedule (stopped until an operator starts it) requesting one run of `job` (an asset job) per
    partition."""

    @dg.schedule(name=name, job=job, cron_schedule=cron_schedule, execution_timezone=execution_timezone,
                 default_status=dg.DefaultScheduleStatus.STOPPED, description=description)
    def _schedule(context: dg.ScheduleEvaluationContext) -> List[dg.RunRequest]:
        return dealer_run_requests(context, partitions_def, dealer_of, run_config)

    return _schedule


def _tick_time(context: dg.ScheduleEvaluationContext) -> datetime:
    """The tick's scheduled time; now when evaluated outside the daemon (a preview), which has none."""
    try:
        scheduled = context.scheduled_execution_time
    except Exception:  # noqa: BLE001 - Dagster raises its internal CheckError when no time was set
        scheduled = None
    return scheduled or utcnow()


def vendor_failure(exc: VendorError, context: dg.AssetExecutionContext,
                   needs_a_person: Tuple[type, ...]) -> dg.Failure:
    """A Dagster failure naming vendor, path, status and CF-RAY (and the block, if one stopped the
    call); never retried when the error is one of `needs_a_person`."""
    needs_person = isinstance(exc, needs_a_person)
    if needs_person:
        context.log.error(f"needs an operator (see `dealer-pipeline blocks list`): {exc}")
    metadata = {"vendor": exc.vendor, "path": exc.path or "", "status": exc.status if exc.status is not None else -1,
                "cf_ray": exc.cf_ray or "", "needs_operator": needs_person}
    if isinstance(exc, VendorBlocked):
        metadata["block_id"] = exc.block_id
        metadata["block_reason"] = exc.reason
    return dg.Failure(description=str(exc), metadata=metadata, allow_retries=not needs_person)


def baseline_metadata(result: BaselineResult) -> dict:
    """A stock baseline's outcome: pages, records, what it did to `vehicles`, vendor values it could not map."""
    unknown = {f"{name}={value}": count for (name, value), count in result.unknown_values.most_common(50)}
    return {"complete": result.complete, "pages": result.pages, "records": result.records,
            "created": result.created, "updated": result.updated, "unchanged": result.unchanged,
            "stale": result.stale, "removed": result.removed, "rejected": result.rejected,
            "unknown_values": dg.MetadataValue.json(unknown), "dagster/row_count": result.records}


def call_metadata(*stats: ClientStats) -> dict:
    """What the clients of one run sent: calls, token requests, retries and seconds waited."""
    return {"api_calls": int(sum(sum(s.calls.values()) for s in stats)),
            "token_requests": sum(s.token_requests for s in stats), "retries": sum(s.retries for s in stats),
            "waited_seconds": round(sum(s.waited_seconds for s in stats), 2)}

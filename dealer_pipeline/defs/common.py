"""Dagster pieces every domain uses alike: the run-level retry policy of scheduled jobs, dynamic
partitions kept equal to a list, run requests per dealer partition or per range of them, many
dealers' outcomes as one step's result, vendor failures as Dagster failures, and baselines and the
HTTP client's counters as metadata."""

# No `from __future__ import annotations`: kept like the other defs modules, whose annotations Dagster reads.
from datetime import datetime
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import dagster as dg

from dealer_pipeline.defs.keys import (  # the run tags, also importable from here
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    DEALER_TAG,
    DEALERS_TAG,
)
from dealer_pipeline.http import ClientStats, VendorBlocked, VendorError
from dealer_pipeline.http.blocks import Block
from dealer_pipeline.sources.fanout import DealerOutcome
from dealer_pipeline.sources.runs import BaselineResult
from dealer_pipeline.store.types import utcnow

#: Run-level retries of scheduled jobs, for outages longer than one call's wait budget.
RUN_RETRY = dg.RetryPolicy(max_retries=2, delay=120, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
#: Most dealer partitions one stock run covers. Dagster's run and step bookkeeping costs about as
#: much as a dealer's vendor calls, so a scheduled baseline or a backfill runs dealers in ranges
#: (Dagster's multi-run backfill policy) and the step fans out over them on threads.
DEALERS_PER_RUN = 50
DEALER_RANGE_BACKFILL = dg.BackfillPolicy.multi_run(DEALERS_PER_RUN)


def sync_dynamic_partitions(instance: dg.DagsterInstance, partitions_def: dg.DynamicPartitionsDefinition,
                            wanted: Iterable[str], among: Optional[Iterable[str]] = None) -> Tuple[List[str], List[str]]:
    """Make the instance's partitions of `partitions_def` exactly `wanted` (only among the keys `among`,
    when given: the others are left as they are); returns (added, removed)."""
    name = partitions_def.name
    assert name is not None, "a dynamic partitions definition kept by an asset has a name"
    wanted = set(wanted)
    existing = set(instance.get_dynamic_partitions(name))
    if among is not None:
        existing &= set(among)
    added, dropped = sorted(wanted - existing), sorted(existing - wanted)
    if added:
        instance.add_dynamic_partitions(name, added)
    for key in dropped:
        instance.delete_dynamic_partition(name, key)
    return added, dropped


def dealer_ranges(keys: Sequence[str], size: int) -> List[List[str]]:
    """`keys` (in the instance's order) cut into consecutive ranges of at most `size`."""
    size = max(1, size)
    return [list(keys[i:i + size]) for i in range(0, len(keys), size)]


def wanted_ranges(keys: Sequence[str], wanted: Iterable[str], size: int) -> List[List[str]]:
    """The `wanted` among the instance's `keys`, cut into ranges of at most `size` that are consecutive
    in `keys`: a range run covers every partition from its first key to its last, so a dealer not
    wanted between two wanted ones starts a new range instead of being synced too."""
    chosen = set(wanted)
    runs: List[List[str]] = [[]]
    for key in keys:
        if key in chosen:
            runs[-1].append(key)
        elif runs[-1]:
            runs.append([])
    return [chunk for run in runs if run for chunk in dealer_ranges(run, size)]


def range_run_tags(keys: Sequence[str], dealer_of: Callable[[str], str] = lambda key: key) -> Dict[str, str]:
    """The tags of a run over consecutive partitions `keys`: one dealer's tag, or a partition range."""
    if len(keys) == 1:
        return {DEALER_TAG: dealer_of(keys[0])}
    return {ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1],
            DEALERS_TAG: f"{dealer_of(keys[0])}..{dealer_of(keys[-1])} ({len(keys)})"}


def dealer_run_requests(context: dg.ScheduleEvaluationContext, partitions_def: dg.DynamicPartitionsDefinition,
                        dealer_of: Callable[[str], str] = lambda key: key,
                        run_config: Optional[Mapping] = None, dealers_per_run: int = 1,
                        assets: Sequence[dg.AssetKey] = (),
                        switched_off: Callable[[], Sequence[dg.AssetKey]] = lambda: ()) -> List[dg.RunRequest]:
    """One run request per partition (tagged with its dealer), or per range of `dealers_per_run`. When
    the settings switch some of the job's `assets` off, the requests select the others only.

    Dagster refuses a schedule tick that returns several requests without run keys, so each gets
    `<first partition>[..<last>]@<tick time>`: every tick is a new run per dealer or range, and a
    tick the daemon evaluates again (after a crash) does not launch its runs twice.
    """
    keys = context.instance.get_dynamic_partitions(partitions_def.name)  # type: ignore[arg-type]
    tick = _tick_time(context).isoformat()
    extra: Dict[str, Any] = {"run_config": dict(run_config)} if run_config is not None else {}
    off = set(switched_off())
    if off:
        extra["asset_selection"] = [key for key in assets if key not in off]
    requests = []
    for chunk in dealer_ranges(keys, dealers_per_run):
        label = chunk[0] if len(chunk) == 1 else f"{chunk[0]}..{chunk[-1]}"
        partition = {"partition_key": chunk[0]} if len(chunk) == 1 else {}
        requests.append(dg.RunRequest(run_key=f"{label}@{tick}", tags=range_run_tags(chunk, dealer_of),
                                      **partition, **extra))
    return requests


def per_dealer_schedule(name: str, job: Any, cron_schedule: str,
                        partitions_def: dg.DynamicPartitionsDefinition, description: str, *,
                        dealer_of: Callable[[str], str] = lambda key: key, run_config: Optional[Mapping] = None,
                        execution_timezone: Optional[str] = None, dealers_per_run: int = 1,
                        assets: Sequence[dg.AssetKey] = (),
                        switched_off: Callable[[], Sequence[dg.AssetKey]] = lambda: ()) -> dg.ScheduleDefinition:
    """A schedule (stopped until an operator starts it) requesting runs of `job` (an asset job) over
    every partition: one per partition, or one per range of `dealers_per_run`; the job's `assets`
    that `switched_off()` names at the tick are left out."""

    @dg.schedule(name=name, job=job, cron_schedule=cron_schedule, execution_timezone=execution_timezone,
                 default_status=dg.DefaultScheduleStatus.STOPPED, description=description)
    def _schedule(context: dg.ScheduleEvaluationContext) -> List[dg.RunRequest]:
        return dealer_run_requests(context, partitions_def, dealer_of, run_config, dealers_per_run, assets,
                                   switched_off)

    return _schedule


def dealers_result(context: dg.AssetExecutionContext, outcomes: Sequence[DealerOutcome],
                   metadata_of: Callable[[Any], Dict[str, Any]], calls: Mapping[str, Any],
                   needs_a_person: Tuple[type, ...], extra: Optional[Mapping[str, Any]] = None
                   ) -> dg.MaterializeResult:
    """One step's result over its dealers.

    One dealer: its own metadata, and its failure raised as before. Several: totals, the dealers
    that failed or were busy with what stopped them (`failed_dealers`, logged at ERROR), and the step
    succeeds so the next steps still serve every other dealer of the range (a dealer blocked at its
    baseline is refused again by the HTTP layer before any call). Only when no dealer succeeded does
    the step fail, naming them all. A dealer stopped by a block that was open before its work began
    is skipped, not failed (`blocked_dealers`, or the block's id and action for a run of one dealer).
    `extra` adds to (or overrides) a range's metadata."""
    if len(outcomes) == 1:
        outcome = outcomes[0]
        if outcome.error is not None:
            raise _as_failure(outcome.error, context, needs_a_person) from None
        if outcome.busy is not None:
            context.log.warning(str(outcome.busy))
            return dg.MaterializeResult(metadata={"skipped": str(outcome.busy), **calls})
        if outcome.blocked is not None:
            context.log.warning(_blocked_line(outcome.dealer_id, outcome.blocked))
            return dg.MaterializeResult(metadata={**block_metadata(outcome.blocked), **calls})
        return dg.MaterializeResult(metadata={**metadata_of(outcome.result), **calls})
    failed = [o for o in outcomes if o.error is not None]
    busy = [o for o in outcomes if o.busy is not None]
    blocked = [o for o in outcomes if o.blocked is not None]
    totals: Dict[str, float] = {}
    for outcome in outcomes:
        for name, value in (metadata_of(outcome.result) if outcome.result is not None else {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                totals[name] = totals.get(name, 0) + value
    rows = [f"| {o.dealer_id} | {_outcome_word(o)} | {_problem(o)} |" for o in outcomes if not o.ok]
    metadata: Dict[str, Any] = {
        "dealers": len(outcomes), "dealers_ok": len(outcomes) - len(failed) - len(busy) - len(blocked),
        "dealers_failed": len(failed), "dealers_busy": len(busy), "dealers_blocked": len(blocked),
        **totals, **calls,
        "failed_dealers": dg.MetadataValue.json({o.dealer_id: _one_line(o.error) for o in failed}),
        "blocked_dealers": dg.MetadataValue.json({o.dealer_id: _block_summary(o.blocked) for o in blocked}),
        "needs_operator": any(isinstance(o.error, needs_a_person) for o in failed),
        **(extra or {}),
    }
    if rows:
        metadata["problems"] = dg.MetadataValue.md("| dealer | outcome | detail |\n|---|---|---|\n" + "\n".join(rows))
    for outcome in busy:
        context.log.warning(str(outcome.busy))
    for outcome in blocked:
        context.log.warning(_blocked_line(outcome.dealer_id, outcome.blocked))
    for outcome in failed:
        context.log.error(f"{outcome.dealer_id}: {_one_line(outcome.error)}")
    if failed and len(failed) + len(busy) + len(blocked) == len(outcomes):
        raise dg.Failure(description=f"all {len(failed)} dealers failed: "
                         + "; ".join(f"{o.dealer_id}: {_one_line(o.error)}" for o in failed),
                         metadata=metadata, allow_retries=not metadata["needs_operator"])
    return dg.MaterializeResult(metadata=metadata)


def block_metadata(block: Block) -> Dict[str, Any]:
    """A dealer skipped for a known block: which block, why, what a person must do, what the vendor said."""
    return {"skipped": "blocked", "dealer": block.dealer_id or "", "block_id": block.id,
            "block_reason": block.reason, "block_action": block.action or "", "vendor": block.vendor,
            "vendor_message": block.message or "", "block_opened_at": block.created_at.isoformat()}


def _block_summary(block: Optional[Block]) -> Dict[str, Any]:
    assert block is not None
    return {"block_id": block.id, "reason": block.reason, "action": block.action or ""}


def _blocked_line(dealer_id: str, block: Optional[Block]) -> str:
    assert block is not None
    return (f"{dealer_id} skipped: block {block.id} ({block.reason}, open since {block.created_at:%Y-%m-%d %H:%M} "
            f"UTC) stops its {block.vendor} calls: {block.action}")


def _outcome_word(outcome: DealerOutcome) -> str:
    return "busy" if outcome.busy else "blocked" if outcome.blocked else "FAILED"


def _problem(outcome: DealerOutcome) -> str:
    if outcome.blocked is not None:
        return _blocked_line(outcome.dealer_id, outcome.blocked)
    return _one_line(outcome.error or outcome.busy)


def _one_line(error: object) -> str:
    text = str(error).strip().splitlines()
    return text[0][:1000] if text else type(error).__name__


def _as_failure(error: BaseException, context: dg.AssetExecutionContext,
                needs_a_person: Tuple[type, ...]) -> BaseException:
    return vendor_failure(error, context, needs_a_person) if isinstance(error, VendorError) else error


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
    if exc.vendor_message:
        metadata["vendor_message"] = exc.vendor_message
    if isinstance(exc, VendorBlocked):
        metadata["block_id"] = exc.block_id
        metadata["block_reason"] = exc.reason
        metadata["block_action"] = exc.action or ""
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

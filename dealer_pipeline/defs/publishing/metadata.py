"""The one way a publishing asset turns its run's report into Dagster metadata, logs and a result.

Every publishing asset (Autocosmos, Autochat, the Webmotors status reports, the leads) runs the
publishing engine and hands its `Report` here: the same keys for all (`Report.metadata()`), dicts
and lists as JSON, the clients' call counts, the same log lines for skips, blocks, stops and changes
the target made on its own, and the same result: a run that stopped on a vendor's trouble succeeds
with `stopped` in its metadata (every item is recorded; the next run continues); refused credentials
fail it without retry, because a person must act.
"""

from collections import Counter
from typing import Any, Callable, Sequence

import dagster as dg
import sqlalchemy as sa

from dealer_pipeline import progress
from dealer_pipeline.defs.common import call_metadata, dealers_result
from dealer_pipeline.defs.partitions import partition_keys_of
from dealer_pipeline.http import ClientStats
from dealer_pipeline.publishing.engine import Report
from dealer_pipeline.sources.fanout import DealerOutcome, for_each_dealer


def report_metadata(report: Report, *stats: ClientStats, **extra: Any) -> dict[str, Any]:
    values = {**report.metadata(), **extra, **call_metadata(*stats)}
    return {key: dg.MetadataValue.json(dict(value) if isinstance(value, Counter) else value)
            if isinstance(value, (dict, list)) else value for key, value in values.items()}


def log_report(context: dg.AssetExecutionContext, report: Report) -> None:
    who = report.dealer_id
    if report.skipped and not report.blocked:
        context.log.info(f"{who}: {report.skipped}")
    for block in report.blocks:
        context.log.error(f"{who} needs an operator (api_blocks id {block['id']}): {block['action']}")
    if report.stopped and not report.blocks:
        context.log.error(f"{who}: {report.stopped}: {'; '.join(report.errors[:3])}")
    for change in report.details.get("vendor_changes", []):
        context.log.warning(f"{who}: {change['external_id']} {change['change']} by {report.target}: "
                            f"{change['reason']}")


def publishing_result(context: dg.AssetExecutionContext, report: Report, *stats: ClientStats,
                      credentials_hint: str = "", **extra: Any) -> dg.MaterializeResult:
    """Log the report and return it as the asset's result (see the module docstring)."""
    log_report(context, report)
    metadata = report_metadata(report, *stats, **extra)
    if report.credentials_refused:
        raise dg.Failure(description=f"{report.dealer_id}: {report.target} refused our credentials: "
                                     f"{credentials_hint + '. ' if credentials_hint else ''}"
                                     f"{'; '.join(report.errors[:3])}",
                         metadata={**metadata, "needs_operator": True}, allow_retries=False)
    return dg.MaterializeResult(metadata=metadata)


#: Dealers of a ranged publishing run worked on at once. A dealer's publishing is mostly waiting (each
#: vendor call in turn, and Autocosmos's read-back delay after photos were sent), so a range overlaps
#: those waits; a client shared by the threads keeps its cap on calls in flight for the whole run.
DEALERS_AT_ONCE = 8
_SUMMED_DICTS = ("planned", "outcomes", "sent", "failed")


def publish_each_dealer(context: dg.AssetExecutionContext, engine: sa.Engine, stage: str,
                        publish_one: Callable[[str], dg.MaterializeResult],
                        calls: Callable[[], dict[str, Any]]) -> dg.MaterializeResult:
    """`publish_one(dealer_id)` for each partition of the step. One dealer: its result, unchanged.
    A range: the dealers `DEALERS_AT_ONCE` at a time, then one result with the totals, the dealers
    that stopped or failed, and the clients' calls (`calls()`); the step fails only when every dealer
    failed, as a stock range does."""
    keys = partition_keys_of(context)
    if len(keys) == 1:
        progress.board.plan(stage, 1)
        try:
            return publish_one(keys[0])
        finally:
            progress.board.dealer_done(stage)
    outcomes = for_each_dealer(keys, publish_one, engine=engine, stage=stage, dealer_of=lambda key: key,
                               run_id=context.run.run_id, concurrency=DEALERS_AT_ONCE, lease=False)
    return _range_result(context, outcomes, calls())


def _plain(metadata: Any) -> dict[str, Any]:
    return {key: value.value if isinstance(value, dg.MetadataValue) else value for key, value in metadata.items()}


def _range_result(context: dg.AssetExecutionContext, outcomes: Sequence[DealerOutcome],
                  calls: dict[str, Any]) -> dg.MaterializeResult:
    """The stock ranges' result (`dealers_result`), with the engine's counts summed over the dealers and
    the dealers whose run stopped on a vendor's trouble."""
    summed: dict[str, Counter] = {name: Counter() for name in _SUMMED_DICTS}
    stopped: dict[str, str] = {}
    for outcome in (o for o in outcomes if o.result is not None):
        metadata = _plain(outcome.result.metadata)
        for name in _SUMMED_DICTS:
            summed[name].update(metadata.get(name) or {})
        if metadata.get("blocked") or metadata.get("stopped"):
            stopped[outcome.dealer_id] = str(metadata.get("blocked") or metadata.get("stopped"))
    refused_credentials = any(_plain(getattr(o.error, "metadata", None) or {}).get("needs_operator")
                              for o in outcomes if o.error is not None)
    return dealers_result(context, outcomes, lambda result: _plain(result.metadata), calls, (), extra={
        **{name: dg.MetadataValue.json(dict(values)) for name, values in summed.items()},
        "dealers_stopped": len(stopped), "stopped_dealers": dg.MetadataValue.json(stopped),
        "needs_operator": refused_credentials,
    })

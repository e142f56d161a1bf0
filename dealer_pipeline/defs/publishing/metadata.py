"""The one way a publishing asset turns its run's report into Dagster metadata, logs and a result.

Every publishing asset (Autocosmos, Autochat, the Webmotors status reports, the leads) runs the
publishing engine and hands its `Report` here: the same keys for all (`Report.metadata()`), dicts
and lists as JSON, the clients' call counts, the same log lines for skips, blocks, stops and changes
the target made on its own, and the same result: a run that stopped on a vendor's trouble succeeds
with `stopped` in its metadata (every item is recorded; the next run continues); refused credentials
fail it without retry, because a person must act.
"""

from collections import Counter
from typing import Any

import dagster as dg

from dealer_pipeline.defs.common import call_metadata
from dealer_pipeline.http import ClientStats
from dealer_pipeline.publishing.engine import Report


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

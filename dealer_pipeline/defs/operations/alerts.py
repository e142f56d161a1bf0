"""Alerts to a person: a block opened, a run failed, a blocking check newly failed.

Three sensors, running from the first daemon start, each keeping a cursor so a problem pages once:
- `block_alert_sensor`: each new row of `api_blocks` (id above the cursor) that is still open, with
  the run whose call the vendor refused. Later runs that skip the dealer for that block page nobody.
- `run_failure_alert_sensor`: every failed run on the instance (daemon-launched or `dealer-pipeline
  sync`), with the dealer tag, the vendor's message and the action from the failed step. A run whose
  only failures are blocks it opened is left to the block alert (one page per block).
- `check_failure_alert_sensor`: an ERROR-severity check that failed where its previous evaluation
  (same dealer partition) had not: a data problem that is new, not one already reported.
Each alert is logged (the sensor's tick log and the `dealer_pipeline.alerts` logger, at WARNING) and posted to
`DEALER_PIPELINE_ALERT_WEBHOOK_URL` when set. A block or check alert whose post fails is retried on
the next tick (the cursor stays before it). Dagster moves a run-status sensor's cursor past the run
whatever the tick did, so a failed run's alert is posted up to three times within its tick; if the
webhook still refuses, the alert stays in the logs and the tick fails, visible in the UI.
"""

# No `from __future__ import annotations`: Dagster reads the sensors' annotations at runtime.
import json
import logging
import re
import time
from typing import Dict, List, Optional, Tuple

import dagster as dg
from dagster._utils.error import SerializableErrorInfo
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecord,
    AssetCheckExecutionRecordStatus,
)

from dealer_pipeline.alerts import Alert, AlertDeliveryError, deliver, run_url
from dealer_pipeline.alerts.blocks import OpenedBlock, blocks_after, last_block_id
from dealer_pipeline.defs.keys import DEALER_TAG, DEALERS_TAG
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.settings import get_settings

LOGGER = logging.getLogger("dealer_pipeline.alerts")
ALERT_INTERVAL_SECONDS = 30
#: Waits between a failed run's alert posts within one tick (its only chance: see the module docstring).
RUN_ALERT_RETRY_SECONDS = (1.0, 4.0)
RUNBOOK = "docs/runbook.md"
#: Check executions read per check and tick (a range run of many dealers logs one per dealer).
MAX_CHECK_RECORDS = 2_000
_DONE = {AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED}


def page(log: dg.DagsterLogManager, alert: Alert) -> None:
    """Log the alert (the tick's log in the UI and the process log), then post it (raises
    `AlertDeliveryError` when the webhook refuses it)."""
    log.warning(alert.log_line())
    LOGGER.warning(alert.log_line())
    deliver(alert, get_settings().alert_webhook_url)


# ---- blocks -----------------------------------------------------------------------------------
def block_alert(opened: OpenedBlock, ui_base_url: str) -> Alert:
    block = opened.block
    return Alert(kind="block_opened", title=f"New {block.vendor} block {block.reason} (#{block.id})",
                 dealer=block.dealer_id or f"every {block.vendor} dealer",
                 message=block.message or "(no message)",
                 action=f"{block.action or 'see the block'}; "
                        f"then `dealer-pipeline blocks resolve {block.id} --note ...`",
                 run_url=run_url(ui_base_url, opened.run_id), runbook=f"{RUNBOOK}#a-new-block")


@dg.sensor(name="block_alert_sensor", minimum_interval_seconds=ALERT_INTERVAL_SECONDS,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Pages once for each new API block (403 A/B, refused login, bad input, agency not linked).")
def block_alert_sensor(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult:
    engine = store.engine()
    if context.cursor is None:  # blocks opened before alerting started are listed by `blocks list`
        last = last_block_id(engine)
        return dg.SensorResult(skip_reason=f"alerting on blocks after #{last}", cursor=str(last))
    after, paged = int(context.cursor), 0
    ui = get_settings().ui_base_url
    for opened in blocks_after(engine, after):
        if opened.block.resolved_at is None:
            try:
                page(context.log, block_alert(opened, ui))
            except AlertDeliveryError as exc:
                context.log.error(f"{exc}; block {opened.block.id} is paged again next tick")
                return dg.SensorResult(skip_reason=str(exc), cursor=str(after))
            paged += 1
        after = opened.block.id
    return dg.SensorResult(skip_reason=f"{paged} new blocks paged (cursor #{after})", cursor=str(after))


# ---- failed runs ------------------------------------------------------------------------------
def run_failure_alert(run: dg.DagsterRun, failures: List[Tuple[str, Dict[str, object]]], run_message: str,
                      ui_base_url: str) -> Optional[Alert]:
    """The alert for a failed run, from its failed steps' (message, metadata); None when every failure
    is a block the run opened (the block alert pages for it)."""
    if failures and all("block_id" in metadata for _, metadata in failures):
        return None
    message, metadata = failures[0] if failures else (run_message, {})
    named = [dict(md.get("failed_dealers") or {}) for _, md in failures]  # type: ignore[call-overload]
    dealers = sorted({str(d) for failed in named for d in failed})
    dealer = run.tags.get(DEALER_TAG) or ", ".join(dealers[:20]) or run.tags.get(DEALERS_TAG)
    said = str(metadata.get("vendor_message") or message)
    if metadata.get("needs_operator"):
        action = "a vendor refused the call: see `dealer-pipeline blocks list`, act as the block says, resolve it"
    else:
        action = (f"open the run, read the failed step; once fixed re-run it"
                  + (f" (`dealer-pipeline sync --dealer {run.tags[DEALER_TAG]}`)" if DEALER_TAG in run.tags else ""))
    return Alert(kind="run_failed", title=f"Run of {run.job_name} failed", dealer=dealer, message=said,
                 action=action, run_url=run_url(ui_base_url, run.run_id), runbook=f"{RUNBOOK}#a-failed-run")


def _root_message(error: Optional[SerializableErrorInfo]) -> str:
    """The first line of the error that started it (a step whose retries ran out says only that)."""
    if error is None:
        return "step failed"
    while error.cause is not None:
        error = error.cause
    line = (error.message.strip().splitlines() or [""])[0]
    return re.sub(r"^[\w.]+(Error|Failure|Exception)\w*: ", "", line)


def _step_failures(context: dg.RunFailureSensorContext) -> List[Tuple[str, Dict[str, object]]]:
    out = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        message = _root_message(data.error)
        metadata = ({k: v.value for k, v in data.user_failure_data.metadata.items()}
                    if data.user_failure_data else {})
        out.append((message, metadata))
    return out


@dg.run_failure_sensor(name="run_failure_alert_sensor", minimum_interval_seconds=ALERT_INTERVAL_SECONDS,
                       default_status=dg.DefaultSensorStatus.RUNNING, monitor_all_code_locations=True,
                       description="Pages for every failed run (the dealer, what the vendor said, what to do).")
def run_failure_alert_sensor(context: dg.RunFailureSensorContext) -> None:
    alert = run_failure_alert(context.dagster_run, _step_failures(context), context.failure_event.message or "",
                              get_settings().ui_base_url)
    if alert is None:
        context.log.info(f"run {context.dagster_run.run_id} failed on a block it opened: paged by block_alert_sensor")
        return
    for wait in RUN_ALERT_RETRY_SECONDS:
        try:
            page(context.log, alert)
            return
        except AlertDeliveryError as exc:
            context.log.warning(f"{exc}; posting again in {wait:g} s")
            time.sleep(wait)
    page(context.log, alert)  # a last refusal fails the tick (the alert is in its log)


# ---- failed blocking checks -------------------------------------------------------------------
def check_failure_alert(record: AssetCheckExecutionRecord, ui_base_url: str) -> Alert:
    evaluation = record.event.dagster_event.event_specific_data  # type: ignore[union-attr]
    key = record.key
    dealer = f"{key.asset_key.path[0]}:{record.partition}" if record.partition else "every dealer (whole table)"
    facts = [f"{name}: {value.value}" for name, value in evaluation.metadata.items()
             if isinstance(value.value, (int, float, str)) and len(str(value.value)) < 200][:8]
    return Alert(kind="check_failed", title=f"Check {key.asset_key.to_user_string()}:{key.name} failed",
                 dealer=dealer, message=evaluation.description or "; ".join(facts) or "failed",
                 action="failing vehicles are held back from publishing; read them in v_data_quality and fix the "
                        "data at its source (or the rule), then re-run the check",
                 run_url=run_url(ui_base_url, record.run_id), runbook=f"{RUNBOOK}#a-failed-blocking-check")


def _newly_failing(instance: dg.DagsterInstance, record: AssetCheckExecutionRecord) -> bool:
    """A failed ERROR-severity evaluation whose previous evaluation (same partition) did not fail."""
    if record.status != AssetCheckExecutionRecordStatus.FAILED or record.event is None:
        return False
    evaluation = record.event.dagster_event.event_specific_data  # type: ignore[union-attr]
    if evaluation.severity != dg.AssetCheckSeverity.ERROR:
        return False
    before = instance.event_log_storage.get_asset_check_execution_history(
        record.key, limit=1, cursor=record.id, status=_DONE, partition_filter=PartitionKeyFilter(key=record.partition))
    return not before or before[0].status != AssetCheckExecutionRecordStatus.FAILED


def _records_after(instance: dg.DagsterInstance, key: dg.AssetCheckKey, after: int) -> List[AssetCheckExecutionRecord]:
    """Executions of `key` with an id above `after`, oldest first (at most MAX_CHECK_RECORDS)."""
    found: List[AssetCheckExecutionRecord] = []
    cursor = None
    while len(found) < MAX_CHECK_RECORDS:
        batch = instance.event_log_storage.get_asset_check_execution_history(key, limit=200, cursor=cursor)
        fresh = [r for r in batch if r.id > after]
        found += fresh
        if len(fresh) < len(batch) or len(batch) < 200:
            break
        cursor = batch[-1].id
    return sorted(found, key=lambda r: r.id)[:MAX_CHECK_RECORDS]


def _settled(instance: dg.DagsterInstance, record: AssetCheckExecutionRecord) -> bool:
    """Evaluated, or planned by a run that ended without evaluating it (it never will)."""
    if record.status in _DONE:
        return True
    run = instance.get_run_by_id(record.run_id)
    return run is None or run.is_finished


@dg.sensor(name="check_failure_alert_sensor", minimum_interval_seconds=ALERT_INTERVAL_SECONDS,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Pages when a blocking (ERROR) data-quality check fails where it passed before.")
def check_failure_alert_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    instance = context.instance
    graph = context.repository_def.asset_graph  # type: ignore[union-attr]
    keys = sorted(graph.asset_check_keys, key=lambda k: k.to_user_string())
    cursor: Dict[str, int] = json.loads(context.cursor) if context.cursor else {}
    first = context.cursor is None  # evaluations before alerting started are in the UI
    ui = get_settings().ui_base_url
    paged = 0
    for key in keys:
        name = key.to_user_string()
        for record in _records_after(instance, key, cursor.get(name, 0)):
            if not _settled(instance, record):
                break  # its evaluation is still to come: look again next tick
            if not first and _newly_failing(instance, record):
                try:
                    page(context.log, check_failure_alert(record, ui))
                except AlertDeliveryError as exc:
                    context.log.error(f"{exc}; {name} is paged again next tick")
                    return dg.SensorResult(skip_reason=str(exc), cursor=json.dumps(cursor, sort_keys=True))
                paged += 1
            cursor[name] = record.id
    return dg.SensorResult(skip_reason=f"{paged} newly failing checks paged", cursor=json.dumps(cursor, sort_keys=True))


ALERT_SENSORS = [block_alert_sensor, run_failure_alert_sensor, check_failure_alert_sensor]

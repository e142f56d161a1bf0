"""The alert sensors against a local webhook receiver (a real socket): a new block pages once and a known
one does not, a failed run pages with the dealer, the vendor's message, the action and the run link, a
blocking check pages when it starts failing; the webhook URL never reaches a log or an error."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Iterator

import dagster as dg
import pytest
import sqlalchemy as sa

from dealer_pipeline.definitions import defs
from dealer_pipeline.defs.keys import DEALER_TAG, VEHICLES
from dealer_pipeline.defs.operations import alerts
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.defs.sources import autotrader as at
from dealer_pipeline.http import list_blocks
from dealer_pipeline.settings import get_settings
from tests.autotrader.conftest import Harness
from tests.sandbox.receiver_stub import ReceiverStub, receiver_stub

UI = "http://dagster.example:3000"
HOOK_PATH = "/services/T0000/B0000/s3cr3t-hook-token"  # a Slack hook's path is its credential


@dataclass
class AlertReceiver:
    """A local HTTP server standing in for the chat webhook (a real socket)."""

    stub: ReceiverStub

    @property
    def posts(self) -> list[dict]:
        return [json.loads(r.body) for r in self.stub.received]

    @property
    def paths(self) -> list[str]:
        return [r.path for r in self.stub.received]


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[AlertReceiver]:
    with receiver_stub() as stub:
        monkeypatch.setenv("DEALER_PIPELINE_ALERT_WEBHOOK_URL", stub.url + HOOK_PATH)
        monkeypatch.setenv("DEALER_PIPELINE_UI_BASE_URL", UI)
        get_settings.cache_clear()
        yield AlertReceiver(stub)
    get_settings.cache_clear()


def _tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                      resources={"store": StoreResource()})
    return sensor(context)


def _run_failure_tick(instance: dg.DagsterInstance, run_id: str) -> None:
    run = instance.get_run_by_id(run_id)
    failure = next(e for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE))
    context = dg.build_run_status_sensor_context(sensor_name=alerts.run_failure_alert_sensor.name,
                                                 dagster_event=failure.dagster_event, dagster_instance=instance,
                                                 dagster_run=run).for_run_failure()
    alerts.run_failure_alert_sensor(context)


def _stock_run(harness: Harness, advertiser: str, **overrides: object) -> dg.ExecuteInProcessResult:
    """A dealer's stock run tagged with its dealer (without the scheduled job's 2-minute run retries)."""
    return dg.materialize([at.stock], instance=harness.instance, partition_key=advertiser,
                          tags={DEALER_TAG: f"autotrader:{advertiser}"}, resources=harness.resources(**overrides),
                          raise_on_error=False)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_new_block_pages_once_a_known_one_does_not(harness: Harness, receiver: AlertReceiver,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    a = harness.advertiser_ids()[0]
    dealer = f"autotrader:{a}"
    harness.instance.add_dynamic_partitions(at.ADVERTISER_PARTITIONS.name, [a])
    first = _tick(alerts.block_alert_sensor, harness.instance, None)
    assert first.cursor == "0" and receiver.posts == []
    harness.set_access(a, stock_sync=False)
    try:
        with caplog.at_level(logging.INFO):
            opened = _stock_run(harness, a)
            assert not opened.success
            paged = _tick(alerts.block_alert_sensor, harness.instance, first.cursor)
            later = _stock_run(harness, a)  # the next scheduled run: a known block, skipped
            quiet = _tick(alerts.block_alert_sensor, harness.instance, paged.cursor)
            _run_failure_tick(harness.instance, opened.run_id)  # the block alert already paged for it
    finally:
        harness.set_access(a, stock_sync=True)

    (block,) = list_blocks(harness.engine, vendor="autotrader")
    assert later.success and paged.cursor == quiet.cursor == str(block.id)
    (post,) = receiver.posts
    text = post["text"]
    assert dealer in text and block.message in text and "contact Autotrader" in text
    assert f"{UI}/runs/{opened.run_id}" in text, "the link is to the run that opened the block"
    assert f"blocks resolve {block.id}" in text and "403B" in post["blocks"][0]["text"]["text"]
    assert receiver.paths == [HOOK_PATH]
    assert any(r.getMessage().startswith("ALERT block_opened") and dealer in r.getMessage() for r in caplog.records)
    assert "s3cr3t-hook-token" not in caplog.text


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_failed_run_pages_with_dealer_message_action_and_link(harness: Harness, receiver: AlertReceiver,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    a = harness.advertiser_ids()[0]
    harness.instance.add_dynamic_partitions(at.ADVERTISER_PARTITIONS.name, [a])
    harness.sandbox.fault(vendor="autotrader", path="/stock", status=503, times=10)
    failed = _stock_run(harness, a, max_attempts=2, retry_backoff_seconds=0.05)
    assert not failed.success
    # Dagster moves the cursor past the run whatever the tick does: a refused post is tried again within
    # the tick; a webhook still down fails the tick without naming the URL.
    receiver.stub.statuses = [500, 500, 500]
    with caplog.at_level(logging.INFO), pytest.raises(Exception) as refused:
        _run_failure_tick(harness.instance, failed.run_id)
    assert "answered 500" in str(refused.value) and "s3cr3t" not in str(refused.value) + caplog.text
    assert len(receiver.posts) == 1 + len(alerts.RUN_ALERT_RETRY_SECONDS)
    receiver.stub.statuses = [500]
    _run_failure_tick(harness.instance, failed.run_id)

    *refused_posts, post = receiver.posts
    assert len(refused_posts) == 4 and all(p == post for p in refused_posts), "the same alert, posted again"
    text = post["text"]
    assert f"autotrader:{a}" in text and "still 503 after 2 attempts" in text and f"{UI}/runs/{failed.run_id}" in text
    assert f"dealer-pipeline sync --dealer autotrader:{a}" in text
    assert post["blocks"][0]["text"]["text"] == f"Run of {failed.job_def.name} failed"


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_blocking_check_pages_when_it_starts_failing(harness: Harness, receiver: AlertReceiver) -> None:
    a = harness.advertiser_ids()[0]
    assert harness.sync(a, [at.stock]).success
    table_job = defs.resolve_implicit_global_asset_job_def()

    def canonical() -> dg.ExecuteInProcessResult:
        return table_job.execute_in_process(instance=harness.instance, asset_selection=[VEHICLES],
                                            raise_on_error=False)

    assert canonical().success
    started = _tick(alerts.check_failure_alert_sensor, harness.instance, None)
    with harness.engine.begin() as conn:  # one vehicle no longer keyed <source>:<source id>
        vehicle = conn.execute(sa.text("SELECT min(vehicle_id) FROM vehicles")).scalar_one()
        conn.execute(sa.text("UPDATE vehicles SET source_vehicle_id = 'tampered' WHERE vehicle_id = :v"),
                     {"v": vehicle})
    broken = canonical()
    paged = _tick(alerts.check_failure_alert_sensor, harness.instance, started.cursor)
    canonical()  # still failing: already reported
    quiet = _tick(alerts.check_failure_alert_sensor, harness.instance, paged.cursor)

    titles = sorted(post["blocks"][0]["text"]["text"] for post in receiver.posts)
    assert titles == ["Check canonical/vehicles:unique_vehicle_id failed",
                      "Check canonical/vehicles:vehicle_rules failed"]
    assert all(f"{UI}/runs/{broken.run_id}" in post["text"] for post in receiver.posts)
    assert all("v_data_quality" in post["text"] for post in receiver.posts)
    assert quiet.cursor != paged.cursor and len(receiver.posts) == 2

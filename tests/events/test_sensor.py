"""The webhook events sensor and the runs it requests, through a real Dagster instance."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Iterator

import dagster as dg
import pytest
import sqlalchemy as sa

from dealer_pipeline.definitions import defs
from dealer_pipeline.defs.keys import DEALER_TAG
from dealer_pipeline.defs.operations import events as ops_events
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.events import apply_all_pending
from dealer_pipeline.sandbox.runner import SandboxHandle
from dealer_pipeline.store.schema import webhook_events
from dealer_pipeline.webhooks.runner import ReceiverHandle
from tests.events.helpers import deliver, deliver_autocosmos, deliver_lead, event, vehicle
from tests.events.records import new_stock_id, notification, stock_record

SENSOR = "webhook_events_sensor"
JOB = "apply_webhook_events_job"

# The runs make the vendor calls the events ask for (features of new stock) against the sandbox.
pytestmark = pytest.mark.usefixtures("vendor_sandbox")


@pytest.fixture
def advertisers(vendor_sandbox: SandboxHandle) -> list[str]:
    return [a["advertiser_id"] for a in vendor_sandbox.world()["autotrader"] if a["on_integration"] and a["stock_sync"]]


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def start_cursor(module_engine: sa.Engine) -> str:
    """A clean slate: whatever earlier tests left pending is applied; the cursor starts at the top."""
    apply_all_pending(module_engine)
    with module_engine.connect() as conn:
        top = conn.execute(sa.select(sa.func.coalesce(sa.func.max(webhook_events.c.id), 0))).scalar()
    return ops_events.EventsCursor(after_id=top, swept_at=ops_events.utcnow().isoformat()).serialize()


def _tick(instance: dg.DagsterInstance, url: str, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"store": StoreResource(database_url=url)})
    return defs.resolve_sensor_def(SENSOR)(context)


def _run(instance: dg.DagsterInstance, url: str, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def(JOB)
    return job.execute_in_process(run_config=request.run_config, instance=instance, tags=request.tags,
                                  resources={"store": StoreResource(database_url=url)})


def _burst(receiver: ReceiverHandle, advertisers: list[str]) -> dict[str | None, list[int]]:
    """Events for two Autotrader dealers, a Webmotors dealer and one that names no dealer."""
    first, second = advertisers[:2]
    ids: dict[str | None, list[int]] = {f"autotrader:{first}": [], f"autotrader:{second}": [],
                                        "webmotors:03347828000109": [], None: []}
    for advertiser in (first, second, first):
        ids[f"autotrader:{advertiser}"].append(
            deliver(receiver, notification(stock_record(new_stock_id(), 1, advertiser_id=advertiser))))
    ids["webmotors:03347828000109"].append(deliver_lead(receiver, {"IdLead": str(uuid.uuid4().int)[:9],
                                                                   "Cnpj": "03.347.828/0001-09"}))
    ids[None].append(deliver_autocosmos(receiver, str(uuid.uuid4()), {"AdminMail": "x@agencia.com.ar"},
                                        topic="nuevo_topico"))
    return ids


def test_sensor_requests_one_run_per_dealer_and_advances_its_cursor(
    receiver: ReceiverHandle, module_engine: sa.Engine, module_store_url: str, instance: dg.DagsterInstance,
    start_cursor: str, advertisers: list[str],
) -> None:
    ids = _burst(receiver, advertisers)
    result = _tick(instance, module_store_url, start_cursor)
    by_dealer = {r.tags.get(DEALER_TAG, "none"): r for r in result.run_requests}
    assert set(by_dealer) == {dealer or "none" for dealer in ids}
    # One dealer tag, the one the instance's per-dealer run limit reads; a run about no dealer has none.
    assert all("dealer_id" not in r.tags for r in result.run_requests)
    assert DEALER_TAG not in by_dealer["none"].tags
    for dealer, event_ids in ids.items():
        request = by_dealer[dealer or "none"]
        config = request.run_config["ops"]["apply_webhook_events"]["config"]
        assert (config["first_id"], config["last_id"], config["dealer_id"]) == (min(event_ids), None, dealer)
        assert request.tags["webhook_events"] == f"{min(event_ids)}-{max(event_ids)}"
        assert request.tags["webhook_event_count"] == str(len(event_ids))
        assert request.run_key.startswith("webhook-events:")
    cursor = json.loads(result.cursor)
    assert cursor["after_id"] == max(i for group in ids.values() for i in group)
    # Nothing new: the next tick skips, and its cursor stays.
    again = _tick(instance, module_store_url, result.cursor)
    assert again.run_requests == [] or again.run_requests is None
    assert json.loads(again.cursor)["after_id"] == cursor["after_id"]


def test_sensor_runs_apply_the_events_through_a_real_instance(
    receiver: ReceiverHandle, module_engine: sa.Engine, module_store_url: str, instance: dg.DagsterInstance,
    start_cursor: str, advertisers: list[str],
) -> None:
    stock_id = new_stock_id()
    first = deliver(receiver, notification(stock_record(stock_id, 1, advertiser_id=advertisers[0])))
    updated = stock_record(stock_id, 2, advertiser_id=advertisers[0])
    updated["vehicle"]["odometerReadingMiles"] = 46000
    second = deliver(receiver, notification(updated))
    result = _tick(instance, module_store_url, start_cursor)
    (request,) = result.run_requests
    run = _run(instance, module_store_url, request)
    assert run.success
    assert run.output_for_node("apply_webhook_events")["applied"] == 2
    assert [event(module_engine, i)["status"] for i in (first, second)] == ["applied", "applied"]
    assert vehicle(module_engine, stock_id)["mileage_km"] == 74030
    stored = instance.get_run_by_id(run.run_id)
    assert stored.tags[DEALER_TAG] == f"autotrader:{advertisers[0]}" and stored.tags["webhook_events"] == f"{first}-{second}"


def test_a_failed_tick_neither_loses_nor_double_applies(
    receiver: ReceiverHandle, module_engine: sa.Engine, module_store_url: str, instance: dg.DagsterInstance,
    start_cursor: str, advertisers: list[str],
) -> None:
    stock_id = new_stock_id()
    event_id = deliver(receiver, notification(stock_record(stock_id, 1, advertiser_id=advertisers[0])))
    lost = _tick(instance, module_store_url, start_cursor)  # its cursor is never saved
    retried = _tick(instance, module_store_url, start_cursor)
    assert [r.run_key for r in lost.run_requests] == [r.run_key for r in retried.run_requests]
    for request in (*lost.run_requests, *retried.run_requests):  # even if both ran
        assert _run(instance, module_store_url, request).success
    stored = event(module_engine, event_id)
    assert (stored["status"], stored["attempts"]) == ("applied", 1)


def test_sweep_requests_again_events_a_failed_run_left_pending(
    receiver: ReceiverHandle, module_engine: sa.Engine, module_store_url: str, instance: dg.DagsterInstance,
    start_cursor: str, advertisers: list[str],
) -> None:
    event_id = deliver(receiver, notification(stock_record(new_stock_id(), 1, advertiser_id=advertisers[0])))
    moved_on = _tick(instance, module_store_url, start_cursor)  # its run never happens
    assert len(moved_on.run_requests) == 1
    with module_engine.begin() as conn:  # the event has now waited longer than RETRY_AFTER
        conn.execute(sa.update(webhook_events).where(webhook_events.c.id == event_id)
                     .values(received_at=ops_events.utcnow() - ops_events.RETRY_AFTER - timedelta(minutes=1)))
    not_yet = _tick(instance, module_store_url, moved_on.cursor)  # swept recently: no sweep
    assert not not_yet.run_requests
    due = json.loads(moved_on.cursor)
    due["swept_at"] = (ops_events.utcnow() - timedelta(seconds=ops_events.SWEEP_SECONDS + 1)).isoformat()
    swept = _tick(instance, module_store_url, json.dumps(due))
    (request,) = swept.run_requests
    assert ":retry-" in request.run_key
    assert _run(instance, module_store_url, request).success
    assert event(module_engine, event_id)["status"] == "applied"


def test_sensor_query_is_bounded(
    receiver: ReceiverHandle, module_engine: sa.Engine, module_store_url: str, instance: dg.DagsterInstance,
    start_cursor: str, monkeypatch: pytest.MonkeyPatch, advertisers: list[str],
) -> None:
    monkeypatch.setattr(ops_events, "MAX_EVENTS_PER_TICK", 2)
    ids = [deliver(receiver, notification(stock_record(new_stock_id(), 1, advertiser_id=advertisers[0]))) for _ in range(3)]
    first = _tick(instance, module_store_url, start_cursor)
    assert json.loads(first.cursor)["after_id"] == ids[1]
    second = _tick(instance, module_store_url, first.cursor)
    (request,) = second.run_requests
    assert request.run_config["ops"]["apply_webhook_events"]["config"]["first_id"] == ids[2]


def test_driver_ticks_like_the_daemon_until_the_burst_is_applied(
    receiver: ReceiverHandle, module_engine: sa.Engine, module_store_url: str, instance: dg.DagsterInstance,
    start_cursor: str, advertisers: list[str],
) -> None:
    from dealer_pipeline.runner.sensor import SensorDriver

    ids = _burst(receiver, advertisers)
    driver = SensorDriver(instance, StoreResource(database_url=module_store_url), cursor=start_cursor)
    assert driver.run_until_idle(interval=0) == 4  # one run per dealer group
    assert all(run.success for run in driver.runs)
    statuses = {event(module_engine, i)["status"] for group in ids.values() for i in group}
    assert statuses <= {"applied", "ignored"} and "pending" not in statuses
    assert driver.applied() == 4  # three stock updates and the lead; the unknown topic is ignored


def test_a_dealer_with_a_run_waiting_to_start_gets_no_second_run(
    receiver: ReceiverHandle, module_engine: sa.Engine, module_store_url: str, instance: dg.DagsterInstance,
    start_cursor: str, advertisers: list[str],
) -> None:
    first, second = (f"autotrader:{a}" for a in advertisers[:2])
    early = deliver(receiver, notification(stock_record(new_stock_id(), 1, advertiser_id=advertisers[0])))
    (waiting_request,) = _tick(instance, module_store_url, start_cursor).run_requests
    job = defs.resolve_job_def(JOB)
    waiting = instance.create_run_for_job(job, run_config=waiting_request.run_config, tags=waiting_request.tags,
                                          status=dg.DagsterRunStatus.NOT_STARTED)  # submitted, not started yet
    assert waiting.status in ops_events.WAITING
    cursor = json.dumps({"after_id": early, "swept_at": ops_events.utcnow().isoformat()})
    later = deliver(receiver, notification(stock_record(new_stock_id(), 1, advertiser_id=advertisers[0])))
    other = deliver(receiver, notification(stock_record(new_stock_id(), 1, advertiser_id=advertisers[1])))
    result = _tick(instance, module_store_url, cursor)
    assert [r.tags[DEALER_TAG] for r in result.run_requests] == [second]
    assert json.loads(result.cursor)["after_id"] == other
    # The waiting run, when it starts, takes the dealer's events that arrived meanwhile.
    run = _run(instance, module_store_url, waiting_request)
    assert run.success and run.output_for_node("apply_webhook_events")["applied"] == 2
    assert [event(module_engine, i)["status"] for i in (early, later, other)] == ["applied", "applied", "pending"]
    assert first != second

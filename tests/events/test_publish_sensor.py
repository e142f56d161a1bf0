"""`publish_changes_sensor`: applied changes become one publish run per dealer, bounded per tick, with a
cursor over `publish_requests` ids; evaluated with `dg.build_sensor_context` over a real instance."""

from __future__ import annotations

from typing import Iterator

import dagster as dg
import pytest
import sqlalchemy as sa

from dealer_pipeline.definitions import defs
from dealer_pipeline.defs.keys import DEALER_TAG, PUBLISH_REQUEST_COUNT_TAG, PUBLISH_REQUESTS_TAG
from dealer_pipeline.defs.operations import publish_changes
from dealer_pipeline.defs.publishing.partitions import PUBLISHED_DEALER
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.events import apply_all_pending, apply_events
from dealer_pipeline.events.republish import PublishRequest, record, vehicle_requests
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.schema import publish_requests
from dealer_pipeline.store.types import utcnow
from dealer_pipeline.webhooks.runner import ReceiverHandle
from tests.events.helpers import deliver
from tests.events.records import new_stock_id, notification, stock_record

SENSOR = publish_changes.SENSOR_NAME
JOB = "publish_dealer_job"
ADVERTISER = "10012345"
DEALER = f"autotrader:{ADVERTISER}"


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(PUBLISHED_DEALER.name, [DEALER, *(f"dealer:{i}" for i in range(6))])
        yield instance


@pytest.fixture
def start(module_engine: sa.Engine) -> str:
    """Whatever earlier tests left is applied; the cursor starts after the last request."""
    apply_all_pending(module_engine)
    with module_engine.connect() as conn:
        return str(conn.execute(sa.select(sa.func.coalesce(sa.func.max(publish_requests.c.id), 0))).scalar())


def _tick(instance: dg.DagsterInstance, url: str, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"store": StoreResource(database_url=url)})
    return defs.resolve_sensor_def(SENSOR)(context)


def _requests(engine: sa.Engine, *dealers: str) -> list[int]:
    """One request per dealer named (in order), as applying events adds them; their ids."""
    with transaction(engine) as conn:
        record(conn, [PublishRequest(d, "changed: price_amount") for d in dealers], utcnow())
        top = conn.execute(sa.select(sa.func.max(publish_requests.c.id))).scalar()
    return list(range(top - len(dealers) + 1, top + 1))


def _runs(result: dg.SensorResult) -> dict[str, dg.RunRequest]:
    return {r.partition_key: r for r in result.run_requests or []}


def test_a_price_change_applied_from_a_webhook_requests_the_dealers_publish_run(
    receiver: ReceiverHandle, module_engine: sa.Engine, module_store_url: str, instance: dg.DagsterInstance,
    start: str,
) -> None:
    stock_id = new_stock_id()
    created = deliver(receiver, notification(stock_record(stock_id, 1, advertiser_id=ADVERTISER)))
    cut = stock_record(stock_id, 2, advertiser_id=ADVERTISER)
    cut["adverts"]["retailAdverts"]["totalPrice"] = {"amountGBP": 9995}
    changed = deliver(receiver, notification(cut))
    assert apply_events(module_engine, event_ids=[created]).applied == 1
    assert apply_events(module_engine, event_ids=[changed]).applied == 1
    with module_engine.connect() as conn:
        rows = conn.execute(sa.select(publish_requests).where(publish_requests.c.id > int(start))
                            .order_by(publish_requests.c.id)).mappings().all()
    assert [(r["dealer_id"], r["vehicle_id"], r["event_id"]) for r in rows] == [
        (DEALER, f"autotrader:{stock_id}", created), (DEALER, f"autotrader:{stock_id}", changed)]
    assert rows[1]["reason"] == "changed: price_amount"
    result = _tick(instance, module_store_url, start)
    (request,) = result.run_requests
    assert request.job_name in (None, JOB) and request.partition_key == DEALER
    assert request.tags[DEALER_TAG] == DEALER
    assert request.tags[PUBLISH_REQUESTS_TAG] == f"{rows[0]['id']}-{rows[1]['id']}"
    assert set(request.asset_selection) == set(publish_changes.PUBLISH_ASSETS)
    assert request.run_config == publish_changes.IN_PROCESS
    assert result.cursor == str(rows[1]["id"])
    again = _tick(instance, module_store_url, result.cursor)
    assert not again.run_requests and again.cursor == result.cursor


def test_a_change_no_classified_shows_requests_nothing(
    receiver: ReceiverHandle, module_engine: sa.Engine, module_store_url: str, instance: dg.DagsterInstance,
    start: str,
) -> None:
    stock_id = new_stock_id()
    assert apply_events(module_engine, event_ids=[
        deliver(receiver, notification(stock_record(stock_id, 1, advertiser_id=ADVERTISER)))]).applied == 1
    created = _tick(instance, module_store_url, start)
    rated = stock_record(stock_id, 2, advertiser_id=ADVERTISER)
    rated["adverts"]["retailAdverts"]["priceIndicatorRating"] = "GREAT"
    rated["metadata"]["searchId"] = "202612049999999"
    assert apply_events(module_engine, event_ids=[deliver(receiver, notification(rated))]).applied == 1
    result = _tick(instance, module_store_url, created.cursor)
    assert not result.run_requests and result.cursor == created.cursor
    assert vehicle_requests({"v": {"price_indicator_rating", "search_id"}}, {"v": DEALER}, {}) == []


def test_requests_of_one_dealer_coalesce_into_one_run(
    module_engine: sa.Engine, module_store_url: str, instance: dg.DagsterInstance, start: str,
) -> None:
    ids = _requests(module_engine, "dealer:0", "dealer:1", "dealer:0", "dealer:0", "dealer:1")
    result = _tick(instance, module_store_url, start)
    runs = _runs(result)
    assert set(runs) == {"dealer:0", "dealer:1"}
    assert runs["dealer:0"].tags[PUBLISH_REQUESTS_TAG] == f"{ids[0]}-{ids[3]}"
    assert runs["dealer:0"].tags[PUBLISH_REQUEST_COUNT_TAG] == "3"
    assert runs["dealer:1"].run_key == f"publish-requests:dealer:1:{ids[1]}-{ids[4]}"
    assert result.cursor == str(ids[-1])


def test_a_dealer_whose_run_waits_to_start_gets_no_second_one(
    module_engine: sa.Engine, module_store_url: str, instance: dg.DagsterInstance, start: str,
) -> None:
    job = defs.resolve_job_def(JOB)
    queued = instance.create_run_for_job(job, tags={DEALER_TAG: "dealer:2"},
                                         status=dg.DagsterRunStatus.NOT_STARTED)  # submitted, not started
    instance.create_run_for_job(job, tags={DEALER_TAG: "dealer:3"}, status=dg.DagsterRunStatus.STARTED)
    ids = _requests(module_engine, "dealer:2", "dealer:3")
    result = _tick(instance, module_store_url, start)
    # dealer:3's run has already read the store: the change needs a run of its own
    assert set(_runs(result)) == {"dealer:3"} and result.cursor == str(ids[-1])
    instance.report_run_canceled(queued)
    more = _requests(module_engine, "dealer:2")
    assert set(_runs(_tick(instance, module_store_url, result.cursor))) == {"dealer:2"}
    assert more[0] > ids[-1]


def test_runs_per_tick_are_bounded_and_the_other_dealers_follow_on_the_next_ticks(
    module_engine: sa.Engine, module_store_url: str, instance: dg.DagsterInstance, start: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(publish_changes, "MAX_RUNS_PER_TICK", 2)
    ids = _requests(module_engine, "dealer:0", "dealer:1", "dealer:0", "dealer:4", "dealer:1", "dealer:5")
    first = _tick(instance, module_store_url, start)
    assert set(_runs(first)) == {"dealer:0", "dealer:1"}
    assert first.cursor == str(ids[2])  # stops before dealer:4's first request
    second = _tick(instance, module_store_url, first.cursor)
    # dealer:1's later request is read again: its run from the first tick may already have read the store
    assert set(_runs(second)) == {"dealer:4", "dealer:1"}
    assert second.cursor == str(ids[4])
    third = _tick(instance, module_store_url, second.cursor)
    assert set(_runs(third)) == {"dealer:5"} and third.cursor == str(ids[5])
    last = _tick(instance, module_store_url, third.cursor)
    assert not last.run_requests and last.cursor == third.cursor


def test_dealers_that_publish_nowhere_are_passed_over(
    module_engine: sa.Engine, module_store_url: str, instance: dg.DagsterInstance, start: str,
) -> None:
    ids = _requests(module_engine, "autotrader:99999999", "dealer:1")
    result = _tick(instance, module_store_url, start)
    assert set(_runs(result)) == {"dealer:1"} and result.cursor == str(ids[-1])
    only = _requests(module_engine, "autotrader:99999999")
    skipped = _tick(instance, module_store_url, result.cursor)
    assert not skipped.run_requests and skipped.cursor == str(only[0])


def test_a_tick_evaluated_again_requests_the_same_runs(
    module_engine: sa.Engine, module_store_url: str, instance: dg.DagsterInstance, start: str,
) -> None:
    """A tick whose cursor was never saved (a crash) asks again with the same run keys: Dagster launches
    them once."""
    _requests(module_engine, "dealer:0", "dealer:1")
    lost, again = _tick(instance, module_store_url, start), _tick(instance, module_store_url, start)
    assert sorted(r.run_key for r in lost.run_requests) == sorted(r.run_key for r in again.run_requests)

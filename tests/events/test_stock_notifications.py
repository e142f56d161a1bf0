"""Autotrader STOCK_UPDATE notifications crafted here (ordering, bad records, unknown types),
signed with `hmac` (tests/webhooks/fixtures.py), delivered over HTTP to the receiver and
applied. The go-live checks driven by the sandbox's change endpoints are in
test_sandbox_notifications.py. The store is shared per module and backend, with a fresh
stockId per test.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from dealer_pipeline.events import apply_events
from dealer_pipeline.webhooks.runner import ReceiverHandle
from tests.events.helpers import changed_fields, deliver, deliver_and_apply, event, vehicle
from tests.events.records import new_stock_id, notification, stock_record


def _created(receiver: ReceiverHandle, engine: sa.Engine, stock_id: str, **kw) -> dict:
    record = stock_record(stock_id, 1, **kw)
    summary = deliver_and_apply(receiver, engine, notification(record))
    assert summary.applied == 1, summary.as_dict()
    return record


def test_at_notif_3_stock_update_is_recognised_and_applied(receiver: ReceiverHandle, module_engine: sa.Engine) -> None:
    stock_id = new_stock_id()
    event_id = deliver(receiver, notification(stock_record(stock_id, 4)))
    assert event(module_engine, event_id)["status"] == "pending"
    summary = apply_events(module_engine, event_ids=[event_id])
    assert summary.applied == 1 and summary.by_type == {"autotrader:STOCK_UPDATE": 1}
    stored = event(module_engine, event_id)
    assert (stored["status"], stored["attempts"], stored["error"]) == ("applied", 1, None)
    assert stored["processed_at"] is not None
    assert vehicle(module_engine, stock_id)["source_version"] == 4
    # Applying again changes nothing: the event is no longer pending.
    assert apply_events(module_engine, event_ids=[event_id]).processed == 0
    assert event(module_engine, event_id)["attempts"] == 1


def test_three_deliveries_and_out_of_order_apply_once_and_newest_wins(receiver: ReceiverHandle,
                                                                       module_engine: sa.Engine) -> None:
    stock_id = new_stock_id()
    v2, v1, v3 = (stock_record(stock_id, v) for v in (2, 1, 3))
    v2["adverts"]["retailAdverts"]["totalPrice"] = {"amountGBP": 11000}
    v3["adverts"]["retailAdverts"]["totalPrice"] = {"amountGBP": 10500}
    ids = [deliver(receiver, notification(v2)) for _ in range(3)]
    assert ids[0] is not None and ids[1:] == [None, None]  # stored once
    late = deliver(receiver, notification(v1))  # older, arriving later
    newest = deliver(receiver, notification(v3))
    summary = apply_events(module_engine, event_ids=[ids[0], late, newest])
    assert (summary.applied, summary.ignored) == (2, 1)
    assert event(module_engine, late)["status"] == "ignored"
    assert event(module_engine, late)["error"] == "version 1 not newer than stored 2"
    assert deliver(receiver, notification(v2)) is None  # a fourth delivery of v2, after v3
    row = vehicle(module_engine, stock_id)
    assert (row["source_version"], row["price_amount"]) == (3, Decimal("10500.00"))
    assert changed_fields(module_engine, stock_id)["price_amount"] == (11000, 10500)


def test_old_version_arriving_after_apply_is_ignored_with_both_versions(receiver: ReceiverHandle,
                                                                        module_engine: sa.Engine) -> None:
    stock_id = new_stock_id()
    deliver_and_apply(receiver, module_engine, notification(stock_record(stock_id, 9)))
    old = deliver(receiver, notification(stock_record(stock_id, 8)))
    summary = apply_events(module_engine, event_ids=[old])
    assert summary.ignored == 1
    stored = event(module_engine, old)
    assert (stored["status"], stored["error"]) == ("ignored", "version 8 not newer than stored 9")
    assert vehicle(module_engine, stock_id)["source_version"] == 9


def test_a_bad_event_is_failed_alone_and_the_others_apply(receiver: ReceiverHandle, module_engine: sa.Engine) -> None:
    good_before, good_after = new_stock_id(), new_stock_id()
    no_stock_id = stock_record("", 1)
    first = deliver(receiver, notification(stock_record(good_before, 1)))
    bad = deliver(receiver, {"id": "x", "time": "2026-06-02T09:00:00Z", "type": "STOCK_UPDATE", "data": no_stock_id})
    not_a_record = deliver(receiver, {"id": "y", "time": "2026-06-02T09:00:00Z", "type": "STOCK_UPDATE",
                                      "data": "not a record"})
    last = deliver(receiver, notification(stock_record(good_after, 1)))
    summary = apply_events(module_engine, event_ids=[first, bad, not_a_record, last])
    assert (summary.applied, summary.failed) == (2, 2)
    assert event(module_engine, bad)["status"] == "failed"
    assert "stockId" in event(module_engine, bad)["error"]
    assert "not a JSON object" in event(module_engine, not_a_record)["error"]
    assert vehicle(module_engine, good_before) and vehicle(module_engine, good_after)


def test_unhandled_types_are_ignored_with_the_reason(receiver: ReceiverHandle, module_engine: sa.Engine) -> None:
    event_id = deliver(receiver, {"id": new_stock_id(), "time": "2026-06-02T09:00:00Z", "type": "DEAL_CREATE",
                                  "data": {"dealId": "d-1"}})
    assert apply_events(module_engine, event_ids=[event_id]).ignored == 1
    assert event(module_engine, event_id)["error"] == "type DEAL_CREATE is not handled"


def test_derivative_or_features_change_asks_for_enrichment_refetch(receiver: ReceiverHandle,
                                                                    module_engine: sa.Engine) -> None:
    stock_id = new_stock_id()
    record = _created(receiver, module_engine, stock_id)
    record["metadata"]["versionNumber"] = 2
    record["adverts"]["retailAdverts"]["attentionGrabber"] = "Price drop"
    price_only = deliver_and_apply(receiver, module_engine, notification(record))
    assert (price_only.applied, price_only.refetch_requested) == (1, 0)
    record["metadata"]["versionNumber"] = 3
    record["vehicle"]["derivativeId"] = "fedcba9876543210fedcba9876543210"
    derivative = deliver_and_apply(receiver, module_engine, notification(record))
    assert (derivative.applied, derivative.refetch_requested) == (1, 1)

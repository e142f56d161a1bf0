"""Overlapping runs over the same events apply each one exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from dealer_pipeline.events import apply_events
from dealer_pipeline.store.schema import vehicle_changes, webhook_events
from dealer_pipeline.webhooks.runner import ReceiverHandle
from tests.events.helpers import deliver
from tests.events.records import new_stock_id, notification, stock_record


def test_concurrent_runs_apply_every_event_once(receiver: ReceiverHandle, module_engine: sa.Engine) -> None:
    stock_ids = [new_stock_id() for _ in range(12)]
    ids = []
    for version in (1, 2, 3):
        for stock_id in stock_ids:
            record = stock_record(stock_id, version)
            record["adverts"]["retailAdverts"]["totalPrice"] = {"amountGBP": 12000 - version * 100}
            ids.append(deliver(receiver, notification(record)))
    with ThreadPoolExecutor(4) as pool:
        summaries = list(pool.map(lambda _: apply_events(module_engine, event_ids=ids), range(4)))
    assert sum(s.applied for s in summaries) == len(ids)
    assert sum(s.processed for s in summaries) == len(ids)
    with module_engine.connect() as conn:
        marks = conn.execute(sa.select(webhook_events.c.status, webhook_events.c.attempts)
                             .where(webhook_events.c.id.in_(ids))).all()
        price_changes = conn.execute(
            sa.select(sa.func.count()).select_from(vehicle_changes)
            .where(vehicle_changes.c.vehicle_id.in_([f"autotrader:{s}" for s in stock_ids]),
                   vehicle_changes.c.field == "price_amount")).scalar()
    assert set(marks) == {("applied", 1)}
    assert price_changes == 2 * len(stock_ids)  # v1 -> v2 -> v3, once each

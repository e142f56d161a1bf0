"""Delivering notifications to the running receiver over HTTP and reading the store back."""

from __future__ import annotations

import json
from typing import Any

import requests
import sqlalchemy as sa

from dealer_pipeline.events import ApplySummary, apply_events
from dealer_pipeline.store.schema import dealers, vehicle_changes, vehicles, webhook_events
from dealer_pipeline.webhooks.runner import ReceiverHandle
from tests.webhooks.fixtures import WM_TOKEN, ac_headers, at_headers, compact


def deliver(receiver: ReceiverHandle, payload: dict[str, Any]) -> int | None:
    """PUT a signed Autotrader notification; the stored event id (None for a duplicate)."""
    body = compact(payload)
    response = requests.put(receiver.url("autotrader"), data=body, headers=at_headers(body), timeout=10)
    assert response.status_code == 200, response.text
    return response.json().get("id")


def deliver_autocosmos(receiver: ReceiverHandle, hook_id: str, payload: dict[str, Any],
                       topic: str = "invitacionagencia_aceptada") -> int | None:
    response = requests.post(receiver.url("autocosmos"), data=compact(payload), headers=ac_headers(hook_id, topic=topic),
                             timeout=10)
    assert response.status_code == 200, response.text
    return response.json().get("id")


def deliver_lead(receiver: ReceiverHandle, notice: dict[str, Any]) -> int | None:
    response = requests.post(receiver.url("webmotors") + f"?token={WM_TOKEN}", data=json.dumps(notice),
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json().get("id")


def deliver_and_apply(receiver: ReceiverHandle, engine: sa.Engine, *payloads: dict[str, Any]) -> ApplySummary:
    ids = [i for i in (deliver(receiver, p) for p in payloads) if i is not None]
    return apply_events(engine, event_ids=ids)


def vehicle(engine: sa.Engine, stock_id: str) -> sa.RowMapping:
    with engine.connect() as conn:
        row = conn.execute(sa.select(vehicles).where(vehicles.c.vehicle_id == f"autotrader:{stock_id}")).mappings().first()
    assert row is not None, f"vehicle {stock_id} not in the store"
    return row


def changes(engine: sa.Engine, stock_id: str) -> list[sa.RowMapping]:
    with engine.connect() as conn:
        stmt = (sa.select(vehicle_changes).where(vehicle_changes.c.vehicle_id == f"autotrader:{stock_id}")
                .order_by(vehicle_changes.c.id))
        return list(conn.execute(stmt).mappings())


def changed_fields(engine: sa.Engine, stock_id: str) -> dict[str, tuple[Any, Any]]:
    """field -> (old, new) decoded from JSON text, for the notification-caused changes."""
    return {c["field"]: (_load(c["old_value"]), _load(c["new_value"]))
            for c in changes(engine, stock_id) if c["cause"] == "notification"}


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def event(engine: sa.Engine, event_id: int) -> sa.RowMapping:
    with engine.connect() as conn:
        return conn.execute(sa.select(webhook_events).where(webhook_events.c.id == event_id)).mappings().one()


def dealer(engine: sa.Engine, dealer_id: str) -> sa.RowMapping | None:
    with engine.connect() as conn:
        return conn.execute(sa.select(dealers).where(dealers.c.dealer_id == dealer_id)).mappings().first()

"""Refused requests are always answered, but a flood is recorded only up to a budget per source."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from dealer_pipeline.settings import load_settings
from dealer_pipeline.store.schema import webhook_rejections
from dealer_pipeline.webhooks.budget import MAX_STORED_BODY, RejectionBudget
from dealer_pipeline.webhooks.intake import Delivery, Intake


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_budget_admits_a_burst_then_the_steady_rate_and_reports_what_it_dropped() -> None:
    clock = Clock()
    budget = RejectionBudget(burst=3, per_minute=60, clock=clock)
    assert [budget.admit("autotrader") for _ in range(5)] == [(True, 0)] * 3 + [(False, 0)] * 2
    assert budget.admit("webmotors") == (True, 0)  # per source
    clock.now += 1.0  # one token back (60 per minute)
    assert budget.admit("autotrader") == (True, 2)
    assert budget.admit("autotrader") == (False, 0)


def _forged(n: int, size: int = 10) -> Delivery:
    return Delivery(source="autotrader", headers={"autotrader-signature": f"t=1,v1={'0' * 64}"}, query={},
                    raw=b"x" * size, received_at=datetime.now(timezone.utc), remote_addr=f"10.0.0.{n % 250}")


def test_a_flood_of_forged_requests_is_answered_403_and_recorded_within_the_budget(store: sa.Engine) -> None:
    clock = Clock()
    intake = Intake(store, load_settings({}), rejections=RejectionBudget(burst=5, per_minute=60, clock=clock))
    answers = [intake.handle(_forged(n)).status for n in range(40)]
    assert answers == [403] * 40
    clock.now += 2.0
    assert intake.handle(_forged(41, size=MAX_STORED_BODY + 500)).status == 403
    with store.connect() as conn:
        rows = conn.execute(sa.select(webhook_rejections).order_by(webhook_rejections.c.id)).mappings().all()
    assert len(rows) == 6
    assert "35 earlier refused requests not recorded" in rows[-1]["reason"]
    assert len(rows[-1]["body"]) == MAX_STORED_BODY and rows[-1]["body_bytes"] == MAX_STORED_BODY + 500

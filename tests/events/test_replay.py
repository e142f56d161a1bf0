"""`dealer-pipeline events retry`: a failed event, once its cause is fixed, is requeued and applied; events
in any other state are never touched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from dealer_pipeline.events.replay import requeue_failed
from dealer_pipeline.sandbox.runner import SandboxHandle
from dealer_pipeline.store.schema import vehicles, webhook_events
from dealer_pipeline.webhooks.runner import ReceiverHandle
from tests.events.helpers import deliver, event, vehicle
from tests.events.records import new_stock_id, notification, stock_record


def _mark(engine: sa.Engine, event_id: int, status: str, **values: object) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(webhook_events).where(webhook_events.c.id == event_id)
                     .values(status=status, **values))


def _command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("dealer-pipeline")), "events", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_retry_applies_a_failed_event_and_leaves_the_others(receiver: ReceiverHandle, module_engine: sa.Engine,
                                                            module_store_url: str, tmp_path: Path,
                                                            vendor_sandbox: SandboxHandle) -> None:
    advertiser = vendor_sandbox.world()["autotrader"][0]["advertiser_id"]
    failed_stock, applied_stock = new_stock_id(), new_stock_id()
    failed = deliver(receiver, notification(stock_record(failed_stock, 1, advertiser_id=advertiser)))
    applied = deliver(receiver, notification(stock_record(applied_stock, 1, advertiser_id=advertiser)))
    assert failed is not None and applied is not None
    # As a bug would leave them: one failed after its attempts, one applied already.
    _mark(module_engine, failed, "failed", attempts=3, error="KeyError: 'derivativeId' (fixed since)")
    _mark(module_engine, applied, "applied", attempts=1)
    env = dict(os.environ, DEALER_PIPELINE_DATABASE_URL=module_store_url, DAGSTER_HOME=str(tmp_path))

    refused = _command(env, "retry")
    assert refused.returncode == 2 and "--id N" in refused.stderr, "nothing is retried without saying what"

    done = _command(env, "retry", "--id", str(failed), "--id", str(applied))
    assert done.returncode == 0, done.stderr
    assert f"not failed (left as they are): {applied}" in done.stdout
    assert f"requeued 1 failed events: {failed}" in done.stdout
    assert event(module_engine, failed)["status"] == "applied"
    assert event(module_engine, applied)["attempts"] == 1, "an applied event is never applied again"
    assert vehicle(module_engine, failed_stock)["source_version"] == 1
    with module_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(vehicles).where(
            vehicles.c.vehicle_id == f"autotrader:{applied_stock}")).scalar_one() == 0


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_requeue_failed_selects_by_id_and_source(store: sa.Engine) -> None:
    rows = [("autotrader", "failed"), ("autocosmos", "failed"), ("autotrader", "ignored"), ("autotrader", "pending")]
    with store.begin() as conn:
        ids = [conn.execute(sa.insert(webhook_events).values(
            source=source, event_key=f"k{n}", received_at=sa.func.now(), status=status, attempts=3, body="{}",
            error="was wrong").returning(webhook_events.c.id)).scalar_one() for n, (source, status) in enumerate(rows)]
    assert requeue_failed(store, source="autocosmos") == [ids[1]]
    assert requeue_failed(store, event_ids=[ids[0], ids[2], ids[3]]) == [ids[0]]
    assert requeue_failed(store) == []
    with store.connect() as conn:
        state = {r.id: (r.status, r.attempts, r.error) for r in conn.execute(sa.select(webhook_events))}
    assert state == {ids[0]: ("pending", 0, "was wrong"), ids[1]: ("pending", 0, "was wrong"),
                     ids[2]: ("ignored", 3, "was wrong"), ids[3]: ("pending", 3, "was wrong")}

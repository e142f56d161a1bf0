"""`dealer-pipeline events process` applies pending events through the same code path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from dealer_pipeline.sandbox.runner import SandboxHandle
from dealer_pipeline.webhooks.runner import ReceiverHandle
from tests.events.helpers import deliver, event, vehicle
from tests.events.records import new_stock_id, notification, stock_record


def test_events_process_applies_pending_events(receiver: ReceiverHandle, module_engine: sa.Engine,
                                               module_store_url: str, tmp_path: Path,
                                               vendor_sandbox: SandboxHandle) -> None:
    advertiser = vendor_sandbox.world()["autotrader"][0]["advertiser_id"]
    stock_id = new_stock_id()
    ids = [deliver(receiver, notification(stock_record(stock_id, version, advertiser_id=advertiser)))
           for version in (2, 1)]
    command = Path(sys.executable).with_name("dealer-pipeline")
    # os.environ points the command at the sandbox (features of the new vehicle are fetched there).
    env = dict(os.environ, DEALER_PIPELINE_DATABASE_URL=module_store_url, DAGSTER_HOME=str(tmp_path))
    result = subprocess.run([str(command), "events", "process", "--json"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["applied"] >= 1 and summary["ignored"] >= 1
    assert summary["followup_error"] is None
    assert [event(module_engine, i)["status"] for i in ids] == ["applied", "ignored"]
    assert vehicle(module_engine, stock_id)["source_version"] == 2
    again = subprocess.run([str(command), "events", "process"], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and again.stdout.startswith("events: 0 processed")

"""Shared pauses (429 vendor-wide, 5xx per service), bounded retries and the wait budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from dealer_pipeline.http import VendorUnavailable, WaitBudgetExceeded
from dealer_pipeline.store.schema import api_calls, api_pauses
from tests.http.scripted_vendor import ScriptedVendor, make_client

ROOT = Path(__file__).resolve().parents[2]
#: Tests whose subject does not depend on the store backend run on SQLite only.
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _start_worker(vendor: ScriptedVendor, store_url: str, path: str, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.http.worker", vendor.url, store_url, path, "0", str(seconds), "1"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )
    deadline = time.time() + 30
    while len(vendor.calls(path)) < 3:
        assert time.time() < deadline and proc.poll() is None, "worker did not start"
        time.sleep(0.05)
    return proc


def _finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_429_pauses_every_process_for_retry_after(store: sa.Engine, store_url: str, vendor: ScriptedVendor) -> None:
    worker = _start_worker(vendor, store_url, "/other", seconds=3.0)
    client = make_client(vendor.url, store)
    vendor.queue("/things", {"status": 429, "headers": {"Retry-After": "1"}})
    response = client.request("GET", "/things")
    assert response.status == 200
    result = _finish(worker)
    assert not result["errors"]
    (limited,) = [c for c in vendor.calls("/things") if c["status"] == 429]
    retried = [c for c in vendor.calls("/things") if c["status"] == 200]
    assert retried[0]["ts"] - limited["ts"] >= 1.0
    # The other process stopped too: it sees the shared pause within its 200 ms cache.
    others = [c["ts"] for c in vendor.calls("/other")]
    inside = [t for t in others if limited["ts"] + 0.5 < t < limited["ts"] + 1.0]
    assert inside == [], f"{len(inside)} calls of another process during the pause"
    assert any(t > limited["ts"] + 1.0 for t in others), "the other process never resumed"
    with store.connect() as conn:
        pause = conn.execute(sa.select(api_pauses)).mappings().one()
    assert pause["scope"] == "scripted" and pause["cf_ray"] and "429" in pause["reason"]
    client.close()


@sqlite_only
def test_429_without_retry_after_uses_the_configured_pause(store: sa.Engine, vendor: ScriptedVendor) -> None:
    client = make_client(vendor.url, store, default_429_pause_seconds=0.6)
    vendor.queue("/things", {"status": 429})
    client.request("GET", "/things")
    limited, ok = vendor.calls("/things")
    assert limited["status"] == 429 and ok["ts"] - limited["ts"] >= 0.6
    client.close()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_503_pauses_that_service_only_for_at_least_2s(store: sa.Engine, store_url: str,
                                                      vendor: ScriptedVendor) -> None:
    worker = _start_worker(vendor, store_url, "/other/x", seconds=2.6)
    client = make_client(vendor.url, store)
    vendor.queue("/things/1", {"status": 503})
    client.request("GET", "/things/1")
    result = _finish(worker)
    assert not result["errors"]
    failed, ok = vendor.calls("/things/1")
    assert failed["status"] == 503 and ok["ts"] - failed["ts"] >= 2.0
    during = [c for c in vendor.calls("/other/x") if failed["ts"] < c["ts"] < ok["ts"]]
    assert len(during) >= 5, "another service must keep working during a service pause"
    with store.connect() as conn:
        scopes = conn.execute(sa.select(api_pauses.c.scope)).scalars().all()
    assert scopes == ["scripted/things"]
    client.close()


@sqlite_only
@pytest.mark.parametrize("status", [500, 504])
def test_500_and_504_are_handled_like_503(store: sa.Engine, vendor: ScriptedVendor, status: int) -> None:
    client = make_client(vendor.url, store, service_pause_seconds=0.3)
    vendor.queue("/things", {"status": status})
    client.request("GET", "/things")
    failed, ok = vendor.calls("/things")
    assert failed["status"] == status and ok["ts"] - failed["ts"] >= 0.3
    client.close()


@sqlite_only
def test_connection_resets_are_retried_with_backoff(store: sa.Engine, vendor: ScriptedVendor) -> None:
    client = make_client(vendor.url, store)
    vendor.queue("/things", "reset", "reset")
    assert client.request("GET", "/things").status == 200
    assert [c["status"] for c in vendor.calls("/things")] == ["reset", "reset", 200]
    client.close()
    with store.connect() as conn:
        rows = conn.execute(sa.select(api_calls).where(api_calls.c.path == "/things").order_by(api_calls.c.id)
                            ).mappings().all()
    assert [r["attempt"] for r in rows] == [1, 2, 3]
    assert rows[0]["status"] is None and "ConnectionError" in rows[0]["error"]


@sqlite_only
def test_retries_are_bounded(store: sa.Engine, vendor: ScriptedVendor) -> None:
    client = make_client(vendor.url, store, max_attempts=3)
    vendor.queue("/things", *["reset"] * 5)
    with pytest.raises(VendorUnavailable, match="3 attempts"):
        client.request("GET", "/things")
    assert len(vendor.calls("/things")) == 3
    client.close()


@sqlite_only
def test_wait_budget_fails_instead_of_sleeping(store: sa.Engine, vendor: ScriptedVendor) -> None:
    client = make_client(vendor.url, store, max_wait=1.5)
    vendor.queue("/things", {"status": 429, "headers": {"Retry-After": "30"}})
    with pytest.raises(WaitBudgetExceeded) as caught:
        client.request("GET", "/things")
    assert client.stats.waited_seconds == 0, "it must fail at once, not sleep into the budget"
    message = str(caught.value)
    assert "scripted GET /things" in message and "last status 429" in message and "CF-RAY" in message
    assert caught.value.cf_ray and caught.value.cf_ray in message
    # Another call now also refuses to wait 30 s: the pause is shared.
    with pytest.raises(WaitBudgetExceeded, match="pause on scripted"):
        client.request("GET", "/elsewhere")
    assert vendor.calls("/elsewhere") == []
    client.close()

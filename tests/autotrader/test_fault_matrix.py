"""The fault matrix of a sync (issue 10): what a vendor storm, a killed run, a restarted PostgreSQL
or a malformed page leave behind. In every case nothing is half-written, no vehicle is marked
removed by an incomplete baseline, retries are bounded, and the next sync completes.

Elsewhere in the suite (kept, not repeated here): connection resets beyond the retries
(`test_baseline.py::test_at_base_partial_download_changes_nothing`, both backends;
`webmotors/test_stock.py::test_connection_reset_on_page_2_changes_nothing`), an unkeyable record
kept in `rejected_records` with nothing removed (`sources/test_rejected_records.py`), and the
receiver SIGKILLed mid-burst (`webhooks/test_receiver_crash.py`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa

from dealer_pipeline.defs.sources.autotrader import stock
from dealer_pipeline.sandbox.runner import SandboxHandle
from dealer_pipeline.settings import get_settings
from dealer_pipeline.store import migrate
from dealer_pipeline.store.engine import create_store_engine, get_engine
from dealer_pipeline.store.schema import sync_runs, vehicle_changes, vehicles
from tests.autotrader.conftest import Harness
from tests.support.postgres import restart_postgres, throwaway_postgres
from tests.support.runs import failure_message, sandbox_run_environment

ROOT = Path(__file__).resolve().parents[2]
PAGE = 5  # 25 vehicles, one fewer after each test of the module (the sandbox is shared): 4+ pages


def _state(harness: Harness, advertiser_id: str) -> tuple[dict[str, dict], int]:
    """(vehicles of the advertiser by stock id, number of vehicle_changes rows)."""
    with harness.engine.connect() as conn:
        rows = conn.execute(sa.select(vehicles).where(vehicles.c.dealer_id == f"autotrader:{advertiser_id}"))
        found = {r["source_vehicle_id"]: dict(r) for r in rows.mappings()}
        changes = conn.execute(sa.select(sa.func.count()).select_from(vehicle_changes)).scalar_one()
    return found, changes


def _runs(harness: Harness) -> list[dict]:
    with harness.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(sync_runs).order_by(sync_runs.c.id)).mappings()]


def _diverge(harness: Harness, advertiser_id: str, stock_ids: list[str]) -> None:
    """Change one price and stop listing one vehicle at the vendor: a complete baseline shows both."""
    harness.sandbox.change("autotrader", stock_ids[0], price=4321, deliver=False)
    harness.sandbox.control("POST", f"/autotrader/stock/{stock_ids[-1]}/delete", {"remove": True, "deliver": False})


def _complete_sync_applies_both(harness: Harness, advertiser_id: str, stock_ids: list[str]) -> None:
    result = harness.sync(advertiser_id, [stock], stock_page_size=PAGE)
    assert result.success, failure_message(result)
    after, _ = _state(harness, advertiser_id)
    assert after[stock_ids[0]]["supplied_price_amount"] == 4321
    assert after[stock_ids[-1]]["availability"] == "removed"
    assert _runs(harness)[-1]["complete"] and _runs(harness)[-1]["removed"] == 1


def _baselined(harness: Harness) -> tuple[str, dict[str, dict], list[str]]:
    advertiser = harness.advertiser_ids()[1]
    assert harness.sync(advertiser, [stock], stock_page_size=PAGE).success
    before, _ = _state(harness, advertiser)
    return advertiser, before, sorted(before)


def test_a_5xx_storm_is_retried_a_bounded_number_of_times_and_changes_nothing(harness: Harness) -> None:
    advertiser, before, stock_ids = _baselined(harness)
    _diverge(harness, advertiser, stock_ids)
    changes_before = _state(harness, advertiser)[1]
    harness.sandbox.fault(vendor="autotrader", path="/stock", query={"page": "2"}, status=503, times=None)
    harness.mark()
    started = time.monotonic()
    failed = harness.sync(advertiser, [stock], stock_page_size=PAGE, max_attempts=4, retry_backoff_seconds=0.05)
    assert not failed.success and "503" in failure_message(failed)
    page2 = [c for c in harness.calls("/stock") if c["query"].get("page") == "2"]
    assert [c["status"] for c in page2] == [503] * 4  # max_attempts, then it stops
    assert time.monotonic() - started < 60
    assert _state(harness, advertiser) == (before, changes_before)  # nothing applied, nothing removed
    assert not _runs(harness)[-1]["complete"]
    # A storm that passes (three 500s, fewer than the attempts) loses nothing either.
    harness.sandbox.clear_faults()
    harness.sandbox.fault(vendor="autotrader", path="/stock", query={"page": "2"}, status=500, times=3)
    _complete_sync_applies_both(harness, advertiser, stock_ids)
    assert len(_state(harness, advertiser)[0]) == len(before)


def test_a_malformed_page_fails_the_baseline_and_removes_nothing(harness: Harness) -> None:
    advertiser, before, stock_ids = _baselined(harness)
    _diverge(harness, advertiser, stock_ids)
    changes_before = _state(harness, advertiser)[1]
    harness.sandbox.fault(vendor="autotrader", path="/stock", query={"page": "3"}, malformed_json=True, times=None)
    failed = harness.sync(advertiser, [stock], stock_page_size=PAGE, max_attempts=2, retry_backoff_seconds=0.05)
    assert not failed.success and "not valid JSON" in failure_message(failed)
    assert _state(harness, advertiser) == (before, changes_before)
    harness.sandbox.clear_faults()
    _complete_sync_applies_both(harness, advertiser, stock_ids)


def test_a_run_killed_mid_baseline_marks_nothing_removed(harness: Harness, store_url: str) -> None:
    advertiser, before, stock_ids = _baselined(harness)
    _diverge(harness, advertiser, stock_ids)
    changes_before = _state(harness, advertiser)[1]
    harness.sandbox.fault(vendor="autotrader", path="/stock", query={"page": "3"}, delay_seconds=30, times=1)
    harness.mark()
    env = {**os.environ, **harness.sandbox.env(), "DEALER_PIPELINE_DATABASE_URL": store_url}
    worker = subprocess.Popen([sys.executable, "-m", "tests.autotrader.sync_worker", advertiser, str(PAGE)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        # The call log records a call once answered: page 2 logged means page 3 (held 30 s) is in flight.
        while not any(c["query"].get("page") == "2" for c in harness.calls("/stock")):
            assert worker.poll() is None and time.monotonic() < deadline, "the worker ended before page 3"
            time.sleep(0.1)
        time.sleep(1.0)
        assert worker.poll() is None
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL
    assert _state(harness, advertiser) == (before, changes_before)
    assert all(r["complete"] for r in _runs(harness))  # the killed run left no half-written run row
    harness.sandbox.clear_faults()
    _complete_sync_applies_both(harness, advertiser, stock_ids)


@pytest.fixture
def restartable_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[sa.Engine, str]]:
    """A migrated store on a PostgreSQL server of this test's own, which the test may restart."""
    with throwaway_postgres() as admin_url:
        url = sa.make_url(admin_url).set(database="postgres").render_as_string(hide_password=False)
        engine = create_store_engine(url)
        migrate.upgrade(engine)
        monkeypatch.setenv("DEALER_PIPELINE_DATABASE_URL", url)
        get_settings.cache_clear()
        get_engine.cache_clear()
        try:
            yield engine, admin_url
        finally:
            engine.dispose()
            get_engine.cache_clear()
            get_settings.cache_clear()


def test_postgresql_restarted_mid_sync(restartable_store: tuple[sa.Engine, str], at_sandbox: SandboxHandle,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    engine, admin_url = restartable_store
    with sandbox_run_environment(at_sandbox, monkeypatch, max_wait_seconds=30) as instance:
        monkeypatch.setenv("DEALER_PIPELINE_DATABASE_URL", str(engine.url.render_as_string(hide_password=False)))
        get_settings.cache_clear()
        harness = Harness(at_sandbox, engine, instance, at_sandbox.last_seq())
        advertiser, before, stock_ids = _baselined(harness)
        _diverge(harness, advertiser, stock_ids)
        changes_before = _state(harness, advertiser)[1]
        harness.sandbox.fault(vendor="autotrader", path="/stock", query={"page": "3"}, delay_seconds=4, times=1)
        harness.mark()
        restarted = threading.Event()

        def restart_while_page_3_is_held() -> None:  # page 2 logged (answered): page 3 is in flight
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if any(c["query"].get("page") == "2" for c in harness.calls("/stock")):
                    time.sleep(0.5)
                    restart_postgres(admin_url)
                    restarted.set()
                    return
                time.sleep(0.05)

        thread = threading.Thread(target=restart_while_page_3_is_held, daemon=True)
        thread.start()
        result = harness.sync(advertiser, [stock], stock_page_size=PAGE, max_attempts=3, retry_backoff_seconds=0.2)
        thread.join(timeout=90)
        assert restarted.is_set(), "PostgreSQL was not restarted during the sync"
        after, changes = _state(harness, advertiser)
        if result.success:  # resumed: the whole baseline applied
            assert after[stock_ids[0]]["supplied_price_amount"] == 4321
            assert after[stock_ids[-1]]["availability"] == "removed"
        else:  # failed cleanly: nothing of it applied
            assert (after, changes) == (before, changes_before), failure_message(result)
        print(f"\nPostgreSQL restarted mid-sync: the run {'resumed' if result.success else 'failed cleanly'}"
              f" ({failure_message(result)[:120] or 'no error'})")
        harness.sandbox.clear_faults()
        _complete_sync_applies_both(harness, advertiser, stock_ids) if not result.success else None
        final = harness.sync(advertiser, [stock], stock_page_size=PAGE)
        assert final.success and _runs(harness)[-1]["complete"]

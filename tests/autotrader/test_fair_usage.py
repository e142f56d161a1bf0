"""AT-FAIR: a 429 pauses all activity (every process), a 503 pauses that service for at least 2 s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from dealer_pipeline.defs.sources.autotrader import stock
from dealer_pipeline.store.schema import api_pauses, vehicles
from tests.autotrader.conftest import VEHICLES, Harness

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


def _count(harness: Harness, advertiser_id: str) -> int:
    with harness.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(vehicles).where(
            vehicles.c.dealer_id == f"autotrader:{advertiser_id}")).scalar_one()


def test_at_fair_429_pauses_all_activity_and_resumes_without_losing_pages(harness: Harness, store_url: str) -> None:
    a, b = harness.advertiser_ids()[:2]
    assert harness.sync(b, [stock]).success
    # Another process fetches B's features, slowly, while A's baseline meets a 429 on page 2.
    harness.sandbox.fault(vendor="autotrader", path="/stock/", advertiser_id=b, delay_seconds=0.12, times=40)
    env = {**os.environ, "DEALER_PIPELINE_DATABASE_URL": store_url}
    other = subprocess.Popen([sys.executable, "-m", "tests.autotrader.run_partitions", "stock_features", b,
                              "enrichment_concurrency=1"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while len(harness.calls("/stock/")) < 3:
        assert time.time() < deadline and other.poll() is None, "the other process did not start"
        time.sleep(0.05)
    harness.sandbox.fault(vendor="autotrader", path="/stock", query={"page": "2"}, advertiser_id=a, status=429,
                          retry_after=1, times=1)
    assert harness.sync(a, [stock], stock_page_size=10).success
    out, err = other.communicate(timeout=120)
    assert other.returncode == 0 and json.loads(out.strip().splitlines()[-1])["failures"] == [], err[-2000:]

    calls = harness.calls()
    a_pages = [c for c in calls if c["path"] == "/stock" and c["query"]["advertiserId"] == a]
    assert [(c["query"]["page"], c["status"]) for c in a_pages] == [("1", 200), ("2", 429), ("2", 200), ("3", 200)]
    assert _count(harness, a) == VEHICLES, "no page lost"
    limited = a_pages[1]
    after = [c for c in calls if c["seq"] > limited["seq"]]
    assert a_pages[2]["ts"] - limited["ts"] >= 1.0, "Retry-After honoured"
    other_during = [c for c in after if c["path"].startswith("/stock/") and c["ts"] < limited["ts"] + 1.0
                    and c["ts"] > limited["ts"] + 0.5]
    assert other_during == [], "the other process must pause too (it sees the pause within its 200 ms cache)"
    assert any(c["path"].startswith("/stock/") and c["ts"] >= limited["ts"] + 1.0 for c in after), "it resumed"
    with harness.engine.connect() as conn:
        pause = conn.execute(sa.select(api_pauses)).mappings().one()
    assert pause["scope"] == "autotrader" and pause["cf_ray"] == limited["cf_ray"]


def test_at_fair_503_pauses_that_service_for_at_least_2s(harness: Harness) -> None:
    a = harness.advertiser_ids()[0]
    harness.sandbox.fault(vendor="autotrader", path="/stock", query={"page": "2"}, advertiser_id=a, status=503,
                          times=1)
    stop = threading.Event()

    def check_advertisers() -> None:  # the advertisers service, meanwhile, from another client
        with harness.client() as client:
            while not stop.is_set():
                client.get_advertiser(a)
                time.sleep(0.05)

    checker = threading.Thread(target=check_advertisers)
    checker.start()
    try:
        assert harness.sync(a, [stock], stock_page_size=10).success
    finally:
        stop.set()
        checker.join()
    calls = harness.calls()
    stock_calls = [c for c in calls if c["path"] == "/stock"]
    assert [(c["query"]["page"], c["status"]) for c in stock_calls] == [("1", 200), ("2", 503), ("2", 200),
                                                                        ("3", 200)]
    failed, retried = stock_calls[1], stock_calls[2]
    assert retried["ts"] - failed["ts"] >= 2.0, "the stock service paused at least 2 s (call log timestamps)"
    during = [c for c in calls if c["path"] == "/advertisers" and failed["ts"] < c["ts"] < retried["ts"]]
    assert len(during) >= 5 and all(c["status"] == 200 for c in during), "other services continue"
    assert _count(harness, a) == VEHICLES
    with harness.engine.connect() as conn:
        pause = conn.execute(sa.select(api_pauses)).mappings().one()
    assert pause["scope"] == "autotrader/stock" and pause["cf_ray"] == failed["cf_ray"]

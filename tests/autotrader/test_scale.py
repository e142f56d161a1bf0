"""Many dealers at once: runs over ranges of advertisers, the caps on calls in flight, one run per
dealer at a time, and pauses or blocks set by one process stopping another's calls within 0.1 s.

Judged from the sandbox's call log: each call's interval on the server is [ts - duration, ts], a
subset of the client's time in flight, so the overlap counted there never exceeds the client's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dealer_pipeline.defs.sources import autotrader as at
from dealer_pipeline.http.blocks import BlockRegistry, resolve_block
from dealer_pipeline.http.pauses import PauseBoard
from dealer_pipeline.sources.leases import acquire, release
from dealer_pipeline.store.schema import dealer_leases, stock_enrichments, sync_runs, vehicles
from tests.autotrader.conftest import VEHICLES, Harness
from tests.support.runs import materializations


def metadata_of(result: Any, key: Any) -> dict[str, Any]:
    """A ranged step's metadata (every partition of the range carries the same)."""
    found = materializations(result, key)
    assert found, f"{key.to_user_string()} was not materialized"
    return found[0]

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


def max_overlap(calls: list[dict[str, Any]]) -> int:
    """The most calls the sandbox was serving at one instant."""
    edges = sorted([(c["ts"] - c["duration_ms"] / 1000, 1) for c in calls] + [(c["ts"], -1) for c in calls])
    best = current = 0
    for _, step in edges:
        current += step
        best = max(best, current)
    return best


def _other_process(store_url: str, assets: str, ids: list[str], *config: str) -> subprocess.Popen:
    env = {**os.environ, "DEALER_PIPELINE_DATABASE_URL": store_url}
    return subprocess.Popen([sys.executable, "-m", "tests.autotrader.run_partitions", assets, ",".join(ids),
                             *config], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finished(process: subprocess.Popen) -> dict[str, Any]:
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_one_run_over_a_range_syncs_every_advertiser_with_per_dealer_results(harness: Harness) -> None:
    ids = harness.advertiser_ids(stock_sync=True)
    result = harness.sync_range(ids, [*at.STOCK_ASSETS, *at.STOCK_CHECKS])
    assert result.success, result
    meta = metadata_of(result, at.STOCK_KEY)
    assert (meta["dealers"], meta["dealers_ok"], meta["dealers_failed"]) == (len(ids), len(ids), 0)
    with harness.engine.connect() as conn:
        per_dealer = dict(conn.execute(sa.select(vehicles.c.dealer_id, sa.func.count()).group_by(
            vehicles.c.dealer_id)).all())
        enriched = conn.execute(sa.select(sa.func.count()).select_from(stock_enrichments)).scalar_one()
    assert per_dealer == {f"autotrader:{a}": VEHICLES for a in ids}
    assert enriched > 0
    materialized = {m.partition for m in result.asset_materializations_for_node("autotrader__stock")}
    assert materialized == set(ids), "one materialization per advertiser partition"
    checks = [e for e in result.get_asset_check_evaluations() if e.check_name == "vehicle_rules"]
    assert {e.partition for e in checks if e.partition} == set(ids), "each dealer's check on its own partition"
    stock_pages = [c for c in harness.calls("/stock") if c["path"] == "/stock"]
    assert sorted(c["query"]["advertiserId"] for c in stock_pages) == sorted(ids)


def test_one_dealer_failing_in_a_range_is_named_and_the_others_go_on(harness: Harness) -> None:
    good, bad = harness.advertiser_ids(stock_sync=True)[:2]
    harness.sandbox.fault(vendor="autotrader", path="/stock", advertiser_id=bad, status=500, times=None)
    try:
        result = harness.sync_range([good, bad], max_attempts=2, retry_backoff_seconds=0.05)
    finally:
        harness.sandbox.clear_faults()
    assert result.success, "the other dealer's features and checks still run"
    meta = metadata_of(result, at.STOCK_KEY)
    assert (meta["dealers_ok"], meta["dealers_failed"]) == (1, 1)
    assert list(meta["failed_dealers"]) == [f"autotrader:{bad}"] and "500" in meta["failed_dealers"][f"autotrader:{bad}"]
    with harness.engine.connect() as conn:
        counts = dict(conn.execute(sa.select(vehicles.c.dealer_id, sa.func.count()).group_by(
            vehicles.c.dealer_id)).all())
        enriched = conn.execute(sa.select(sa.func.count()).select_from(stock_enrichments)).scalar_one()
    assert counts == {f"autotrader:{good}": VEHICLES}, "the good dealer's baseline is committed"
    assert enriched > 0, "and enriched"


def test_a_range_where_every_dealer_fails_fails_and_names_them(harness: Harness) -> None:
    ids = harness.advertiser_ids(stock_sync=True)[:2]
    harness.sandbox.fault(vendor="autotrader", path="/stock", status=500, times=None)
    try:
        result = harness.sync_range(ids, max_attempts=2, retry_backoff_seconds=0.05)
    finally:
        harness.sandbox.clear_faults()
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    named = failure.step_failure_data.user_failure_data.metadata["failed_dealers"].value
    assert sorted(named) == sorted(f"autotrader:{a}" for a in ids)


def test_calls_in_flight_never_exceed_the_clients_cap(harness: Harness) -> None:
    ids = harness.advertiser_ids(stock_sync=True)
    assert harness.sync_range(ids, [at.stock]).success
    harness.sandbox.fault(vendor="autotrader", path="/stock/", delay_seconds=0.03, times=None)
    since = harness.sandbox.last_seq()
    result = harness.sync_range(ids, [at.stock_features], dealer_concurrency=4, enrichment_concurrency=4,
                                max_in_flight=3)
    harness.sandbox.clear_faults()
    assert result.success
    calls = [c for c in harness.sandbox.calls(vendor="autotrader", since=since) if c["path"].startswith("/stock/")]
    assert len(calls) > 30
    assert 2 <= max_overlap(calls) <= 3, "16 threads, at most 3 calls in flight, and more than one at a time"


def test_concurrent_runs_stay_within_the_pool_times_the_cap_and_share_one_token(harness: Harness,
                                                                                 store_url: str) -> None:
    ids = harness.advertiser_ids(stock_sync=True)
    assert harness.sync_range(ids, [at.stock]).success
    harness.sandbox.fault(vendor="autotrader", path="/stock/", delay_seconds=0.25, times=None)
    since = harness.sandbox.last_seq()
    # Two runs at once (a pool limit of 2), each capped at 2 calls in flight: at most 4 system-wide.
    runs = [_other_process(store_url, "stock_features", [a], "range=1", "max_in_flight=2",
                           "enrichment_concurrency=4") for a in ids[:2]]
    reports = [_finished(run) for run in runs]
    harness.sandbox.clear_faults()
    assert all(r["failures"] == [] for r in reports)
    calls = harness.sandbox.calls(vendor="autotrader", since=since)
    served = [c for c in calls if c["path"].startswith("/stock/")]
    assert len(served) >= 30
    assert 3 <= max_overlap(served) <= 4, "both runs in flight at once, never more than 2 x 2"
    assert [c for c in calls if c["path"] == "/authenticate"] == [], "the token the store holds is shared"


def test_no_dealer_is_synced_by_two_runs_at_once(harness: Harness, store_url: str) -> None:
    first, second = harness.advertiser_ids(stock_sync=True)[:2]
    # Another run holds the first dealer: this run skips it, says so, and syncs the second.
    owner = acquire(harness.engine, f"autotrader:{first}", "baseline", "run-elsewhere")
    assert owner is not None
    since = harness.sandbox.last_seq()
    try:
        result = harness.sync_range([first, second], [at.stock])
    finally:
        release(harness.engine, f"autotrader:{first}", owner)
    assert result.success
    meta = metadata_of(result, at.STOCK_KEY)
    assert (meta["dealers_ok"], meta["dealers_busy"]) == (1, 1)
    assert "run-elsewhere" in meta["problems"]
    asked = {c["query"].get("advertiserId") for c in harness.sandbox.calls(vendor="autotrader", since=since)}
    assert first not in asked and second in asked

    # Two processes racing over the same dealers: each dealer's baselines never overlap in time.
    harness.sandbox.fault(vendor="autotrader", path="/stock", delay_seconds=0.2, times=None)
    try:
        racers = [_other_process(store_url, "stock", [first, second], "range=1") for _ in range(2)]
        for racer in racers:
            _finished(racer)
    finally:
        harness.sandbox.clear_faults()
    with harness.engine.connect() as conn:
        rows = conn.execute(sa.select(sync_runs.c.dealer_id, sync_runs.c.started_at, sync_runs.c.finished_at)
                            .where(sync_runs.c.kind == "baseline").order_by(sync_runs.c.started_at)).all()
        leases = conn.execute(sa.select(sa.func.count()).select_from(dealer_leases)).scalar_one()
    for dealer in (f"autotrader:{first}", f"autotrader:{second}"):
        spans = [(r.started_at, r.finished_at) for r in rows if r.dealer_id == dealer]
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), f"{dealer} synced by two runs at once"
    assert leases == 0, "every lease released"


def _slow_features_elsewhere(harness: Harness, store_url: str) -> tuple[str, int, subprocess.Popen]:
    """An advertiser's baseline, then its features fetched by another process, 40 ms a call."""
    advertiser = harness.advertiser_ids(stock_sync=True)[0]
    assert harness.sync(advertiser, [at.stock]).success
    harness.sandbox.fault(vendor="autotrader", path="/stock/", delay_seconds=0.04, times=None)
    since = harness.sandbox.last_seq()
    return advertiser, since, _other_process(store_url, "stock_features", [advertiser], "enrichment_concurrency=2")


def _wait_until_calling(harness: Harness, other: subprocess.Popen) -> None:
    deadline = time.time() + 60
    while len(harness.calls("/stock/")) < 4:
        assert time.time() < deadline and other.poll() is None, "the other process did not start"
        time.sleep(0.01)


def _calls_started_after(harness: Harness, since: int, moment: float) -> list[dict[str, Any]]:
    return [c for c in harness.sandbox.calls(vendor="autotrader", since=since)
            if c["path"].startswith("/stock/") and c["ts"] - c["duration_ms"] / 1000 > moment]


def test_a_pause_set_by_another_process_stops_calls_within_a_tenth_of_a_second(harness: Harness,
                                                                               store_url: str) -> None:
    advertiser, since, other = _slow_features_elsewhere(harness, store_url)
    try:
        _wait_until_calling(harness, other)
        paused_at = time.time()
        PauseBoard(harness.engine, "autotrader").pause(None, 1.5, reason="429 seen elsewhere", cf_ray=None)
        _finished(other)
    finally:
        harness.sandbox.clear_faults()
    late = [c for c in _calls_started_after(harness, since, paused_at + 0.1) if c["ts"] < paused_at + 1.4]
    assert late == [], "no call may start more than 0.1 s into a pause set by another process"
    assert _calls_started_after(harness, since, paused_at + 1.5), "calls resumed after the pause"


def test_a_block_set_by_another_process_stops_its_calls_within_a_tenth_of_a_second(harness: Harness,
                                                                                   store_url: str) -> None:
    advertiser, since, other = _slow_features_elsewhere(harness, store_url)
    blocks = BlockRegistry(harness.engine, "autotrader")
    block = None
    try:
        _wait_until_calling(harness, other)
        blocked_at = time.time()
        block = blocks.record(reason="403A", dealer_id=f"autotrader:{advertiser}", service=None,
                              message="set by a test", action="resolve by hand", method="GET", path="/stock",
                              cf_ray=None)
        report = _finished(other)
    finally:
        harness.sandbox.clear_faults()
        if block is not None:
            resolve_block(harness.engine, block.id, note="test over")
    assert report["failures"] == [advertiser], "the run stopped on the block"
    assert _calls_started_after(harness, since, blocked_at + 0.1) == []


def test_at_adv_3_one_advertiser_is_checked_with_advertiser_id(harness: Harness) -> None:
    advertiser = harness.advertiser_ids(stock_sync=True)[0]
    absent = "99999999"
    result = harness.advertisers_only([advertiser, absent])
    assert result.success
    calls = [c for c in harness.calls() if c["path"] == "/advertisers"]
    assert [c["query"] for c in calls] == [{"advertiserId": advertiser}, {"advertiserId": absent}], \
        "one ?advertiserId= call each, no paged listing"
    assert harness.instance.get_dynamic_partitions(at.ADVERTISER_PARTITIONS.name) == [advertiser]
    meta = metadata_of(result, at.ADVERTISERS_KEY)
    assert (meta["checked_ids"], meta["active"], meta["partitions_added"]) == (2, 1, 1)


def test_progress_counts_calls_and_dealers_of_a_range(harness: Harness) -> None:
    from dealer_pipeline import progress

    ids = harness.advertiser_ids(stock_sync=True)
    progress.board.reset()
    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.05):
            seen.append(progress.board.snapshot().calls)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        assert harness.sync_range(ids).success
    finally:
        stop.set()
        watcher.join()
    snapshot = progress.board.snapshot()
    made = [c for c in harness.calls() if c["path"] != "/authenticate"]
    assert snapshot.calls >= len(made) and snapshot.vehicles == len(ids) * VEHICLES
    assert snapshot.stages["baseline"] == (len(ids), len(ids))
    assert seen == sorted(seen) and seen[-1] > 0

"""The distributed round trip: Autotrader stock runs for four dealers at once, their steps executed by
three Celery workers (separate processes, one step at a time each) through a Redis broker, on a Dagster
instance built from `deploy/dagster.yaml` (PostgreSQL), against the sandbox over loopback.

Judged from the Dagster event log (which process ran each step, when), the store's call log (which run
made each call) and the sandbox's call log (what the vendor saw): the workers share one token, a 429 met
by one worker pauses the others, a 403 A block recorded by one process stops the others, and the
`autotrader_api` pool cap (2, below the 3 workers) holds across runs. The figures are printed and written
to `test-artifacts/celery-round-trip.json`.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._serdes import serialize_value
import pytest
import sqlalchemy as sa

from dealer_pipeline.defs.execution import BROKER_VARIABLE
from dealer_pipeline.defs.sources import autotrader as at
from dealer_pipeline.paths import project_root
from dealer_pipeline.sandbox.runner import SandboxHandle, start_sandbox
from dealer_pipeline.store.schema import api_blocks, api_calls
from tests.conftest import fresh_pg_database
from tests.deploy.celery_cluster import celery_workers, instance_env
from tests.deploy.redis_server import throwaway_redis

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["postgresql"], indirect=True)]

WORKERS, VEHICLES, PAGE_SIZE = 3, 25, 10
LAST_PAGE = -(-VEHICLES // PAGE_SIZE)  # of every synced dealer's stock listing
POOL_LIMIT = 2  # below the worker count, so the cap (not the workers) is what bounds vendor steps
BROKER_PASSWORD = secrets.token_hex(12)  # must appear in no run config, event or worker log
CALL_DELAY = 0.1  # the sandbox answers every Autotrader call this much later, so steps overlap long enough
POOL_STEPS = {a.op.name for a in at.STOCK_ASSETS if a.op.pool == at.POOL}
ARTIFACT = project_root() / "test-artifacts" / "celery-round-trip.json"


def _launch(env: dict[str, str], advertiser_id: str) -> subprocess.Popen:
    run_config = {"resources": {"autotrader": {"config": {"stock_page_size": PAGE_SIZE}}}}
    return subprocess.Popen([sys.executable, "-m", "tests.deploy.launch_runs", at.stock_job.name, advertiser_id,
                             at.dealer_id(advertiser_id), json.dumps(run_config)],
                            cwd=project_root(), env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen) -> dict[str, Any]:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _steps(instance: dg.DagsterInstance, run_id: str) -> list[dict[str, Any]]:
    """Each step of a run: its key, the pid of the process that ran it, start and end times."""
    steps: dict[str, dict[str, Any]] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            steps[event.step_key] = {"step": event.step_key, "pid": event.pid, "start": record.timestamp}
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in steps:
            steps[event.step_key]["end"] = record.timestamp
    return list(steps.values())


def _skipped(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Materializations of a run whose work was skipped (e.g. the dealer was busy), with why."""
    out = []
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is not None and event.event_type_value == "ASSET_MATERIALIZATION":
            metadata = event.event_specific_data.materialization.metadata  # type: ignore[union-attr]
            reason = metadata["skipped"].value if "skipped" in metadata else None
            if isinstance(reason, str):  # a dealer's work skipped says why; a count of items skipped is a number
                out.append(f"{event.step_key}: {reason}")
    return out


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


@pytest.fixture
def sandbox(tmp_path: Path) -> Any:
    with start_sandbox(seed=11, dealers=4, vehicles=VEHICLES, workdir=tmp_path / "sandbox") as handle:
        yield handle


def test_celery_workers_share_the_vendor_limits(store_url: str, pg_admin_url: str, sandbox: SandboxHandle,
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = sandbox.world(refresh=True)["autotrader"]
    good = [a["advertiser_id"] for a in world if a["on_integration"] and a["status"] == "Active"]
    refused = [a["advertiser_id"] for a in world if not a["on_integration"]][0]
    dealers = [*good, refused]
    with fresh_pg_database(pg_admin_url, None) as dagster_db, throwaway_redis(BROKER_PASSWORD) as broker:
        env = {**sandbox.env(), **instance_env(dagster_db, tmp_path / "dagster_home"),
               "DEALER_PIPELINE_DATABASE_URL": store_url, BROKER_VARIABLE: broker,
               "DEALER_PIPELINE_HTTP_MAX_WAIT_SECONDS": "30", "DEALER_PIPELINE_DEFAULT_429_PAUSE_SECONDS": "1"}
        for name in ("DAGSTER_HOME", "DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_DB", "DAGSTER_PG_USER",
                     "DAGSTER_PG_PASSWORD"):
            monkeypatch.setenv(name, env[name])
        with dg.DagsterInstance.get() as instance:
            instance.add_dynamic_partitions(at.ADVERTISER_PARTITIONS.name, dealers)
            instance.event_log_storage.set_concurrency_slots(at.POOL, POOL_LIMIT)
        # One 429, scripted before any run starts, for the second request of a last stock page (every synced
        # dealer has one): by then another run has finished its listing and is in its vendor steps. The sandbox
        # applies the first matching rule (a skipped or spent 429 rule leaves the call to the delay after it).
        sandbox.fault(vendor="autotrader", path="/stock", query={"page": str(LAST_PAGE)}, status=429, retry_after=1,
                      times=1, skip=1)
        sandbox.fault(vendor="autotrader", delay_seconds=CALL_DELAY, times=None)
        since = sandbox.last_seq()
        with celery_workers(WORKERS, env, tmp_path / "workers") as workers:
            started = time.monotonic()
            launched = [_launch(env, a) for a in dealers]
            results = [_finish(p) for p in launched]
            wall = time.monotonic() - started
            first_calls = sandbox.calls(vendor="autotrader", since=since)
            # The refused dealer again, after its block was recorded by whichever worker met the 403.
            again = _finish(_launch(env, refused))
        with dg.DagsterInstance.get() as instance:
            steps = {result["run_id"]: _steps(instance, result["run_id"]) for result in [*results, again]}
            skipped = [s for result in results for s in _skipped(instance, result["run_id"])]
            recorded = [serialize_value(instance.get_run_by_id(r["run_id"])) for r in [*results, again]]
            recorded += [serialize_value(e) for r in [*results, again] for e in instance.all_logs(r["run_id"])]
        worker_logs = [path.read_text(errors="replace") for path in (tmp_path / "workers").glob("*.log")]

    calls = sandbox.calls(vendor="autotrader", since=since)
    by_dealer = dict(zip(dealers, results))
    assert all(by_dealer[a]["success"] for a in good), by_dealer
    assert skipped == [], "a step skipped its dealer (parallel steps of one run take turns, never skip)"
    assert worker_logs and recorded
    assert not [text for text in recorded + worker_logs if BROKER_PASSWORD in text], "the broker password leaked"

    # Every step ran in a worker process, and the steps were spread over more than one of them.
    pids = Counter(step["pid"] for run in steps.values() for step in run)
    assert set(pids) <= set(workers.pids), (pids, workers.pids)
    assert len(pids) >= 2, f"every step ran in one worker: {pids}"

    # One token for every process (AT-AUTH-3).
    token_requests = [c for c in calls if c["path"] == "/authenticate"]
    assert len(token_requests) == 1, token_requests

    # The 429 paused every process: nobody called Autotrader in the second half of the pause, while a
    # vendor step of another run (in another worker: one step per worker at a time) was under way.
    limited = [c for c in calls if c["status"] == 429]
    assert len(limited) == 1 and limited[0]["query"].get("page") == str(LAST_PAGE), limited
    t429 = limited[0]["ts"]
    assert [c for c in calls if t429 + 0.5 < c["ts"] < t429 + 1.0] == [], "a process ignored the pause"
    retried = [c for c in calls if c["seq"] > limited[0]["seq"] and c["path"] == limited[0]["path"]
               and c["query"] == limited[0]["query"]]
    assert retried and retried[0]["ts"] - t429 >= 1.0, "Retry-After honoured"
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        paused_run = conn.execute(sa.select(api_calls.c.run_id).where(api_calls.c.status == 429)).scalar_one()
        blocks = conn.execute(sa.select(api_blocks.c.reason, api_blocks.c.dealer_id)).all()
    engine.dispose()
    overlapping = [(run_id, s["pid"]) for run_id, run in steps.items() if run_id != paused_run for s in run
                   if s["step"] in POOL_STEPS and s["start"] < t429 + 1.0 and s.get("end", t429) > t429]
    assert overlapping, "no other run's vendor step was under way during the pause"

    # The 403 A: one refused call, one block, and the later run for that dealer sent nothing.
    refused_calls = [c for c in calls if c["query"].get("advertiserId") == refused]
    assert [c["status"] for c in refused_calls if c["status"] != 429] == [403], refused_calls
    assert [c for c in calls if c["seq"] > first_calls[-1]["seq"]] == [], "the blocked dealer was called again"
    assert blocks == [("403A", at.dealer_id(refused))]

    # The pool cap held across runs and workers: never more vendor steps at once than its limit.
    pool_intervals = [(s["start"], s["end"]) for run in steps.values() for s in run if s["step"] in POOL_STEPS]
    assert pool_intervals and _max_overlap(pool_intervals) <= POOL_LIMIT
    all_intervals = [(s["start"], s["end"]) for run in steps.values() for s in run if "end" in s]

    # Every vendor call was needed: the only repeat is the page that met the 429.
    requests = Counter((c["method"], c["path"], json.dumps(c["query"], sort_keys=True)) for c in calls)
    repeats = sum(n - 1 for n in requests.values())
    assert repeats == 1
    figures = {"dealers": len(dealers), "dealers_synced": len(good), "workers": WORKERS,
               "worker_pids_used": len(pids), "steps": sum(pids.values()), "pool_limit": POOL_LIMIT,
               "steps_at_once_max": _max_overlap(all_intervals),
               "vendor_steps_at_once_max": _max_overlap(pool_intervals), "wall_seconds": round(wall, 1),
               "call_delay_seconds": CALL_DELAY, "vendor_calls": len(calls), "minimum_calls": len(requests), "token_requests": len(token_requests)}
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\ncelery round trip: {json.dumps(figures)}")

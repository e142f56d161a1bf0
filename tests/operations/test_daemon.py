"""Under a real `dagster-daemon` alone (a throwaway DAGSTER_HOME on PostgreSQL, the sandbox as vendors):
after dealers' stock runs, the daemon materializes `canonical/vehicles` with its table-wide checks and the
catalogue in one run, after the last stock run ended; a dealer whose run opened a block is paged once to
the alert webhook (a local receiver), and the alert sensors tick without errors.

The stock runs are queued the way the UI's "Launch run" queues them (`dagster job launch`, tagged with
the dealer); the daemon dequeues and launches them, and its automation sensor launches the rest. Timeouts
are generous (a loaded 2-core machine starts each run as a new Python process); the daemon and every
run it started are stopped whatever happens.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, TypeVar

import dagster as dg
from dagster._core.scheduler.instigation import TickStatus
import pytest

from dealer_pipeline.defs.keys import CATALOG_MATCHES, DEALER_TAG, VEHICLES
from dealer_pipeline.paths import project_root
from dealer_pipeline.sandbox.runner import SandboxHandle
from tests.conftest import fresh_pg_database
from tests.sandbox.receiver_stub import receiver_stub
from tests.support.daemon import DaemonHandle, start_daemon

T = TypeVar("T")
BIN = Path(sys.executable).parent
TABLE_CHECKS = ("great_expectations_suite", "unique_vehicle_id", "other_vocabulary_share")
TIMEOUT = 600.0


def _instance_yaml(instance_db_url: str) -> str:
    return (f"telemetry:\n  enabled: false\nstorage:\n  postgres:\n    postgres_url: \"{instance_db_url}\"\n"
            "concurrency:\n  runs:\n    max_concurrent_runs: 4\n    tag_concurrency_limits:\n"
            f"      - key: {DEALER_TAG}\n        value: {{applyLimitPerUniqueValue: true}}\n        limit: 1\n")


def _poll(what: str, probe: Callable[[], T | None], daemon: DaemonHandle, timeout: float = TIMEOUT) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        assert daemon.alive(), f"the daemon stopped; its log ends:\n{daemon.log_tail()}"
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; the daemon log ends:\n"
                         f"{daemon.log_tail()}")


def _ticks(instance: dg.DagsterInstance, name: str) -> list:
    for state in instance.all_instigator_state():
        if state.instigator_name == name:
            return list(instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=100))
    return []


def _sensor_ticked(instance: dg.DagsterInstance, name: str) -> bool:
    return bool(_ticks(instance, name))


def _launch_together(job: str, tags: list[dict[str, str]], env: dict[str, str]) -> None:
    """Queue one run per tag set, the `dagster job launch` processes started at once: each loads the
    workspace for seconds, so launched one after another the first run could end before the last was
    queued, and the table-wide automation would rightly run twice."""
    command = [str(BIN / "dagster"), "job", "launch", "-w", str(project_root() / "workspace.yaml"), "-j", job]
    launches = [subprocess.Popen([*command, "--tags", json.dumps(t)], cwd=project_root(), env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for t in tags]
    for launch in launches:
        output, _ = launch.communicate(timeout=300)
        assert launch.returncode == 0, output


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_the_daemon_alone_runs_the_canonical_checks_after_dealers_stock_changed(
        store_url: str, pg_admin_url: str, fresh_sandbox: Callable[..., SandboxHandle]) -> None:
    sandbox = fresh_sandbox(seed=23, dealers=3, vehicles=10)
    listed = [d["advertiser_id"] for d in sandbox.world()["autotrader"]
              if d["on_integration"] and d["stock_sync"] and d["status"] == "Active"]
    assert len(listed) == 3
    advertisers, refused = listed[:2], listed[2]
    sandbox.control("POST", f"/autotrader/advertisers/{refused}/access", {"stock_sync": False})  # a 403B to come
    with fresh_pg_database(pg_admin_url, None) as instance_db, receiver_stub() as webhook:
        env = {**sandbox.env(), "DEALER_PIPELINE_DATABASE_URL": store_url,
               "DEALER_PIPELINE_HTTP_MAX_WAIT_SECONDS": "30", "DEALER_PIPELINE_ALERT_WEBHOOK_URL": f"{webhook.url}/hooks/daemon-test",
               "DEALER_PIPELINE_UI_BASE_URL": "http://dagster.example:3000"}
        with start_daemon(env, instance_yaml=_instance_yaml(instance_db)) as daemon, daemon.instance() as instance:
            env = {**os.environ, **env, "DAGSTER_HOME": str(daemon.home), "TMPDIR": str(daemon.home)}
            instance.add_dynamic_partitions("autotrader_advertiser", [*advertisers, refused])
            # The automation and block sensors have evaluated once: what changes from now on is new to them.
            for sensor in ("table_automation_sensor", "block_alert_sensor"):
                _poll(f"{sensor}'s first tick", lambda: _sensor_ticked(instance, sensor), daemon)
            _launch_together("autotrader_stock_job",  # queued together, as a schedule tick queues its runs
                             [{"dagster/partition": a, DEALER_TAG: f"autotrader:{a}"} for a in [*advertisers, refused]],
                             env)

            def table_runs() -> list[dg.DagsterRun]:
                return [r for r in instance.get_runs() if VEHICLES in (r.asset_selection or set())]

            def succeeded() -> list[dg.DagsterRun]:
                return [r for r in table_runs() if r.status == dg.DagsterRunStatus.SUCCESS]

            (table_run,) = _poll("the table-wide run to succeed", succeeded, daemon)
            stock_runs = [r for r in instance.get_runs() if r.job_name == "autotrader_stock_job"]
            _poll("the new block's page", lambda: webhook.received, daemon)
            time.sleep(35)  # one more tick of every sensor: no second table-wide run, no second page
            assert len(table_runs()) == 1, "one table-wide run after several dealer runs"

            records = {r.dagster_run.run_id: r for r in instance.get_run_records()}
            by_dealer = {r.tags[DEALER_TAG]: r for r in stock_runs}
            assert sorted(by_dealer) == sorted(f"autotrader:{a}" for a in [*advertisers, refused])
            assert all(by_dealer[f"autotrader:{a}"].status == dg.DagsterRunStatus.SUCCESS for a in advertisers)
            opened = by_dealer[f"autotrader:{refused}"]
            assert opened.status == dg.DagsterRunStatus.FAILURE, "the run that opens a block fails"
            # After the stock runs' last step ended: a run that failed writes its RUN_FAILURE a moment after the
            # failed step, and the automation rightly does not wait for that bookkeeping.
            steps_ended = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
            last_stock_step = max(event.timestamp for run in stock_runs
                                  for event in instance.all_logs(run.run_id, of_type=steps_ended))
            assert records[table_run.run_id].start_time > last_stock_step, "the table runs after the stock steps"
            assert CATALOG_MATCHES in table_run.asset_selection, "the catalogue follows in the same run"
            keys = [dg.AssetCheckKey(VEHICLES, name) for name in TABLE_CHECKS]
            latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
            assert {key.name: latest[key].run_id for key in keys} == {name: table_run.run_id for name in TABLE_CHECKS}
            assert all(latest[key].status.value in ("SUCCEEDED", "FAILED") for key in keys), "the checks evaluated"
            materialized = instance.get_latest_materialization_event(VEHICLES)
            assert materialized is not None and materialized.run_id == table_run.run_id
            assert materialized.asset_materialization.metadata["dagster/row_count"].value == 20

            # The block the third dealer's run opened paged once, by the daemon's block alert, linking that run;
            # the run-failure alert left it to the block alert. No alert sensor tick failed.
            pages = [json.loads(r.body) for r in webhook.received]
            assert len(pages) == 1, [p["text"] for p in pages]
            assert f"autotrader:{refused}" in pages[0]["text"] and "403B" in pages[0]["text"]
            assert f"http://dagster.example:3000/runs/{opened.run_id}" in pages[0]["text"]
            assert webhook.received[0].path == "/hooks/daemon-test"
            for sensor in ("block_alert_sensor", "run_failure_alert_sensor", "check_failure_alert_sensor"):
                ticks = _ticks(instance, sensor)
                assert ticks and all(t.status != TickStatus.FAILURE for t in ticks), (sensor, ticks[:1])

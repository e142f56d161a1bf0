"""`dealer-pipeline sync` from the command line: runs land in the instance and stock in the store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from dealer_pipeline.sandbox.runner import SandboxHandle
from dealer_pipeline.store.engine import create_store_engine


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("dealer-pipeline")
    return subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=600)


def test_sync_one_autotrader_dealer_through_the_instance(sandbox: SandboxHandle, tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    env = dict(os.environ, **sandbox.env(), DAGSTER_HOME=str(home), DEALER_PIPELINE_DATABASE_URL=store_url)
    dealer = next(d for d in sandbox.world()["autotrader"]
                  if d["on_integration"] and d["stock_sync"] and d["status"] == "Active" and d["autocosmos_adminmail"])
    advertiser = dealer["advertiser_id"]

    result = _cli(["sync", "--source", "autotrader", "--dealer", f"autotrader:{advertiser}"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok     autotrader:{advertiser}" in result.stdout

    engine = create_store_engine(store_url)
    with engine.connect() as conn:
        dealers = set(conn.execute(sa.text("SELECT DISTINCT dealer_id FROM vehicles")).scalars())
        count = conn.execute(sa.text("SELECT count(*) FROM vehicles")).scalar_one()
        published = set(conn.execute(sa.text("SELECT DISTINCT dealer_id FROM publications")).scalars())
    engine.dispose()
    assert dealers == {f"autotrader:{advertiser}"} and count > 0
    assert published == {f"autotrader:{advertiser}"}  # only the dealer asked for is published

    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert all(run.is_success for run in runs)
        jobs = sorted(run.job_name for run in runs if run.tags.get("dealer_pipeline/dealer") == f"autotrader:{advertiser}")
        assert jobs == ["autotrader_stock_job", "publish_dealer_job"]
        assert {run.job_name for run in runs} >= {"autotrader_advertisers_job", "published_dealers_job",
                                                   "catalogue_job", "publish_dealer_job"}


def test_sync_rejects_an_unknown_dealer(sandbox: SandboxHandle, tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = dict(os.environ, **sandbox.env(), DAGSTER_HOME=str(home),
               DEALER_PIPELINE_DATABASE_URL=f"sqlite:///{tmp_path / 'store.sqlite'}")
    result = _cli(["sync", "--source", "autotrader", "--dealer", "autotrader:999999999"], env)
    assert result.returncode == 1
    assert "unknown dealer autotrader:999999999" in result.stdout

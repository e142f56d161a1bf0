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

    since = sandbox.last_seq()
    result = _cli(["sync", "--source", "autotrader", "--dealer", f"autotrader:{advertiser}"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok     autotrader:{advertiser}" in result.stdout
    listing = [c["query"] for c in sandbox.calls(vendor="autotrader", since=since) if c["path"] == "/advertisers"]
    assert listing == [{"advertiserId": advertiser}], "AT-ADV-3: one ?advertiserId= call instead of the listing"

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


def test_sync_shows_progress_and_a_summary_not_the_event_log(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """Progress (dealers per stage, vehicles, calls, calls/s, time left) and the summary; a dealer the
    vendor refuses is named with the vendor's message and the action; DEBUG events only with --verbose."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    env = dict(os.environ, **sandbox.env(), DAGSTER_HOME=str(home), DEALER_PIPELINE_DATABASE_URL=store_url)
    world = sandbox.world()["autotrader"]
    listed = [d for d in world if d["on_integration"] and d["status"] == "Active"]
    refused = [d["advertiser_id"] for d in listed if not d["stock_sync"]]

    result = _cli(["sync", "--source", "autotrader", "--no-publish"], env)
    out = result.stdout
    assert "DEBUG" not in out + result.stderr and "RUN_START" not in out + result.stderr
    status = [line for line in out.splitlines() if line.startswith("dealers ")]
    assert status, out
    last = status[-1]
    assert f"baseline {len(listed)}/{len(listed)}" in last and "calls " in last and "/s)" in last
    assert "elapsed" in last and ("left" in last or "estimating" in last)
    summary = out.strip().splitlines()[-1]
    vehicles = (len(listed) - len(refused)) * 25
    assert "runs," in summary and f"{vehicles:,} vehicles" in summary and "vendor calls in" in summary
    for advertiser in refused:
        line = next(line for line in out.splitlines() if line.startswith(f"FAILED autotrader:{advertiser}:"))
        assert "403B" in line and "contact Autotrader" in line
    assert result.returncode == (1 if refused else 0), out + result.stderr

    verbose = _cli(["sync", "--source", "autotrader", "--no-publish", "--verbose"], env)
    assert "DEBUG" in verbose.stdout + verbose.stderr


def test_sync_fails_only_for_new_problems_and_names_the_dealers_still_blocked(sandbox: SandboxHandle,
                                                                              tmp_path: Path) -> None:
    """The sync that meets a new block fails and names it; the next one skips the blocked dealer, exits 0
    and says the dealer is still blocked, with the block and what to do."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = dict(os.environ, **sandbox.env(), DAGSTER_HOME=str(home),
               DEALER_PIPELINE_DATABASE_URL=f"sqlite:///{tmp_path / 'store.sqlite'}")
    advertiser = next(d["advertiser_id"] for d in sandbox.world()["autotrader"]
                      if d["on_integration"] and d["stock_sync"] and d["status"] == "Active")
    dealer = f"autotrader:{advertiser}"
    access = f"/autotrader/advertisers/{advertiser}/access"
    sandbox.control("POST", access, {"stock_sync": False})
    try:
        first = _cli(["sync", "--source", "autotrader", "--dealer", dealer, "--no-publish"], env)
        second = _cli(["sync", "--source", "autotrader", "--dealer", dealer, "--no-publish"], env)
    finally:
        sandbox.control("POST", access, {"stock_sync": True})

    assert first.returncode == 1, first.stdout + first.stderr
    assert any(line.startswith(f"FAILED {dealer}") and "403B" in line for line in first.stdout.splitlines())
    blocked = [line for line in first.stdout.splitlines() if line.startswith(f"still blocked: {dealer}: block ")]
    assert len(blocked) == 1 and "403B" in blocked[0] and "contact Autotrader" in blocked[0]
    assert second.returncode == 0, second.stdout + second.stderr
    assert "FAILED" not in second.stdout and f"ok     {dealer}" in second.stdout
    assert [line for line in second.stdout.splitlines() if line.startswith("still blocked:")] == blocked


def test_switched_off_charge_times_are_not_a_step_of_the_stock_runs(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """A switched-off enrichment has nothing to do, so sync leaves it out of its stock runs instead of paying
    a step and a materialization per dealer for it; the stock, its features and its checks still run."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = dict(os.environ, **sandbox.env(), DAGSTER_HOME=str(home),
               DEALER_PIPELINE_DATABASE_URL=f"sqlite:///{tmp_path / 'store.sqlite'}",
               AUTOTRADER_CHARGE_TIMES_ENABLED="false")
    advertisers = [d["advertiser_id"] for d in sandbox.world()["autotrader"]
                   if d["on_integration"] and d["stock_sync"] and d["status"] == "Active"][:2]
    result = _cli(["sync", "--source", "autotrader", "--no-publish",
                   *(arg for a in advertisers for arg in ("--dealer", f"autotrader:{a}"))], env)
    assert result.returncode == 0, result.stdout + result.stderr

    with dg.DagsterInstance.from_config(str(home)) as instance:
        (run,) = [run for run in instance.get_runs() if run.job_name == "autotrader_stock_job"]
        steps = {stats.step_key for stats in instance.get_run_step_stats(run.run_id)}
        assert "autotrader__charge_times" not in steps
        assert {"autotrader__stock", "autotrader__stock_features", "autotrader__stock_vehicle_rules"} <= steps
        assert instance.get_latest_materialization_event(dg.AssetKey(["autotrader", "charge_times"])) is None
        assert instance.get_latest_materialization_event(dg.AssetKey(["autotrader", "stock_features"])) is not None


def test_sync_publishes_its_dealers_in_one_ranged_run_working_on_them_at_once(sandbox: SandboxHandle,
                                                                              tmp_path: Path) -> None:
    """Publishing goes in ranges of dealers, as the stock does: one `publish_dealer_job` run covers the
    dealers (Dagster's partition-range tags), its steps work on them at once (a dealer's publishing is
    mostly waiting: calls in turn and Autocosmos's read-back delay), and every dealer's publications land."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    env = dict(os.environ, **sandbox.env(), DAGSTER_HOME=str(home), DEALER_PIPELINE_DATABASE_URL=store_url)
    chosen = [d for d in sandbox.world()["autotrader"] if d["on_integration"] and d["stock_sync"]
              and d["status"] == "Active" and d["autocosmos_adminmail"]]
    assert len(chosen) >= 2, "the sandbox world has several publishing Autotrader dealers"
    dealers = sorted(f"autotrader:{d['advertiser_id']}" for d in chosen)

    since = sandbox.last_seq()
    result = _cli(["sync", "--source", "autotrader", *(arg for d in dealers for arg in ("--dealer", d))], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"publish {len(dealers)} dealers {dealers[0]}..{dealers[-1]}" in result.stdout

    with dg.DagsterInstance.from_config(str(home)) as instance:
        (run,) = [run for run in instance.get_runs() if run.job_name == "publish_dealer_job"]
        assert run.is_success
        assert (run.tags["dagster/asset_partition_range_start"], run.tags["dagster/asset_partition_range_end"]) \
            == (dealers[0], dealers[-1])
        event = instance.get_latest_materialization_event(dg.AssetKey(["publishing", "autocosmos"]))
        assert event is not None and event.run_id == run.run_id
        metadata = event.asset_materialization.metadata
        assert metadata["dealers"].value == len(dealers) and metadata["dealers_failed"].value == 0
        assert metadata["failed_dealers"].value == {} and metadata["api_calls"].value > 0

    engine = create_store_engine(store_url)
    with engine.connect() as conn:
        published = set(conn.execute(sa.text("SELECT DISTINCT dealer_id FROM publications "
                                             "WHERE target = 'autocosmos'")).scalars())
    engine.dispose()
    assert published == set(dealers)

    calls = sandbox.calls(vendor="autocosmos", since=since)
    spans = []
    for dealer in chosen:
        times = [c["ts"] for c in calls if dealer["autocosmos_adminmail"] in c["path"]]
        assert times, f"no Autocosmos call for {dealer['advertiser_id']}"
        spans.append((min(times), max(times)))
    overlapping = [(a, b) for i, a in enumerate(spans) for b in spans[i + 1:] if a[0] < b[1] and b[0] < a[1]]
    assert overlapping, f"each dealer's Autocosmos calls came after the previous dealer's: {spans}"

"""AT-AUTH: one token from key and secret, renewed before expiry, shared by every process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa

from dealer_pipeline.defs.sources.autotrader import stock
from dealer_pipeline.http import AuthFailed
from dealer_pipeline.sandbox.runner import SandboxHandle
from dealer_pipeline.settings import Secret, get_settings
from dealer_pipeline.store.schema import api_calls, api_tokens
from dealer_pipeline.vendors.autotrader import AutotraderClient
from tests.autotrader.conftest import Harness

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_at_auth_1_token_obtained_with_key_and_secret(harness: Harness) -> None:
    advertiser = harness.advertiser_ids()[0]
    assert harness.sync(advertiser, [stock]).success
    calls = harness.calls()
    first, rest = calls[0], calls[1:]
    assert (first["method"], first["path"], first["status"]) == ("POST", "/authenticate", 200)
    assert rest and {c["token"] for c in rest} != {None} and len({c["token"] for c in rest}) == 1
    with harness.engine.connect() as conn:
        (row,) = conn.execute(sa.select(api_tokens)).mappings().all()
    assert row["vendor"] == "autotrader" and row["expires_at"] > row["obtained_at"]
    # Wrong credentials: a clear failure after one refused request, nothing else sent.
    harness.mark()
    with harness.engine.begin() as conn:
        conn.execute(sa.delete(api_tokens))
    bad = AutotraderClient.from_settings(engine=harness.engine, secret=Secret("not-the-secret"))
    with pytest.raises(AuthFailed) as caught:
        bad.list_advertisers()
    bad.close()
    assert "credentials refused" in str(caught.value) and "not-the-secret" not in str(caught.value)
    assert [(c["path"], c["status"]) for c in harness.calls()] == [("/authenticate", 401)]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_at_auth_2_new_token_before_the_next_call_after_expiry(harness: Harness) -> None:
    ttl = 3.0
    harness.sandbox.configure(token_ttl={"autotrader": ttl})
    try:
        advertiser = harness.advertiser_ids()[0]
        harness.sandbox.fault(vendor="autotrader", path="/stock/", delay_seconds=0.15, times=40)
        result = harness.sync(advertiser, token_refresh_margin_seconds=1.0, enrichment_concurrency=1,
                              stock_page_size=5)
        assert result.success
    finally:
        harness.sandbox.configure(token_ttl={"autotrader": 900})
    calls = harness.calls()
    grants = [c for c in calls if c["path"] == "/authenticate"]
    assert len(grants) >= 2, "the run outlived its token, so a new one was needed"
    assert all(c["status"] == 200 for c in calls), "no call may meet an expired token"
    uses: dict[str, list[float]] = defaultdict(list)
    for c in calls:
        if c["token"]:
            uses[c["token"]].append(c["ts"])
    assert len(uses) == len(grants)
    for token, times in uses.items():
        assert max(times) - min(times) < ttl, f"token {token} used past its lifetime"


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_at_auth_3_one_token_across_processes(store: sa.Engine, store_url: str, fresh_sandbox,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """50 dealers' baselines in 50 Dagster runs, split over two processes: one token request."""
    sandbox: SandboxHandle = fresh_sandbox(seed=5, dealers=60, vehicles=2)
    env = {**os.environ, **sandbox.env(), "DEALER_PIPELINE_DATABASE_URL": store_url}
    ids = [a["advertiser_id"] for a in sandbox.world()["autotrader"]
           if a["on_integration"] and a["stock_sync"]][:50]
    assert len(ids) == 50
    since = sandbox.last_seq()
    halves = [ids[:25], ids[25:]]
    procs = [subprocess.Popen([sys.executable, "-m", "tests.autotrader.run_partitions", "stock", ",".join(half)],
                              cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for half in halves]
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-2000:]
        assert json.loads(out.strip().splitlines()[-1]) == {"runs": 25, "failures": []}
    calls = sandbox.calls(vendor="autotrader", since=since)
    assert [c["path"] for c in calls].count("/authenticate") == 1
    stock_calls = [c for c in calls if c["path"] == "/stock"]
    assert {c["query"]["advertiserId"] for c in stock_calls} == set(ids)
    assert len({c["token"] for c in stock_calls}) == 1
    with store.connect() as conn:
        runs = conn.execute(sa.select(sa.func.count(sa.distinct(api_calls.c.run_id))).where(
            api_calls.c.path.like("/stock%"))).scalar_one()
    assert runs == 50
    get_settings.cache_clear()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_at_auth_1_secret_through_dagster_is_an_env_var_reference(harness: Harness) -> None:
    """Configured through Dagster, the secret is `dg.EnvVar`: its value is in no run record or log."""
    import dagster as dg

    from dealer_pipeline.defs.resources import StoreResource
    from dealer_pipeline.defs.sources.autotrader import AutotraderResource, advertisers

    secret = get_settings().autotrader_secret.reveal()
    resource = AutotraderResource(key=dg.EnvVar("AUTOTRADER_KEY"), secret=dg.EnvVar("AUTOTRADER_SECRET"))
    result = dg.materialize([advertisers], instance=harness.instance,
                            resources={"autotrader": resource, "store": StoreResource()})
    assert result.success and [c["path"] for c in harness.calls()][:2] == ["/authenticate", "/advertisers"]
    with harness.client() as client:
        token = client.authenticate().token.reveal()  # the shared token the run used
    assert [c["path"] for c in harness.calls()].count("/authenticate") == 1
    run = harness.instance.get_run_by_id(result.run_id)
    records = [str(run.run_config), str(run.tags)]
    records += [str(entry) for entry in harness.instance.all_logs(result.run_id)]
    with harness.engine.connect() as conn:
        for table in (api_tokens, api_calls):
            records += [str(tuple(row)) for row in conn.execute(sa.select(table))]
    assert len(records) > 5
    for value in (secret, token):
        assert not any(value in text for text in records)

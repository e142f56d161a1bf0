"""A baseline of N advertisers x M vehicles from the sandbox into PostgreSQL, through Dagster runs.

    .venv/bin/python bench/autotrader_baseline_bench.py [--advertisers 500] [--vehicles 200]
        [--workers 3] [--concurrency 4] [--pg-url postgresql+psycopg2://...]

Driven the way `dealer-pipeline sync` drives it: the `autotrader/advertisers` asset once,
then one Dagster run per advertiser partition materializing `autotrader/stock`,
`stock_features` and `charge_times`. The runs are spread over `--workers` processes (each
with its own instance, all sharing one store and so one token, pauses and blocks); within
a run, features and charge times are fetched `--concurrency` at a time.

Printed: wall time, vehicles/s, peak memory per process, and the API calls the sandbox saw
against the minimum possible: token requests (one per 14 usable minutes of a 15-minute
token), ceil(advertisers/100) advertiser pages, ceil(n/200) stock pages per advertiser,
one features call per live vehicle, one charge-times call per live electric/plug-in
vehicle. A clean run must make exactly the minimum (ratio 1.00). Also printed: the cost of
writing `api_calls` per call in its own transaction versus in batches (the layer batches).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa

from bench.support import classify_call, everyone_on_the_integration, fresh_database

TOKEN_USABLE_SECONDS = 15 * 60 - 60  # lifetime minus the refresh margin


# ---- worker process: Dagster runs for a slice of the partitions ---------------------------------
def worker(ids: list[str], concurrency: int) -> None:
    import logging

    import dagster as dg

    from dealer_pipeline.defs.resources import StoreResource
    from dealer_pipeline.defs.sources import autotrader as at

    logging.disable(logging.WARNING)
    failures: list[str] = []
    started = time.perf_counter()
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(at.ADVERTISER_PARTITIONS.name, ids)
        resources = {"autotrader": at.AutotraderResource(enrichment_concurrency=concurrency),
                     "store": StoreResource()}
        for advertiser_id in ids:
            result = dg.materialize(at.STOCK_ASSETS, instance=instance, resources=resources,
                                    partition_key=advertiser_id, raise_on_error=False)
            if not result.success:
                failures.append(advertiser_id)
    print(json.dumps({"runs": len(ids), "failures": failures, "seconds": time.perf_counter() - started,
                      "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


# ---- the driver ------------------------------------------------------------------------------------
def _advertisers_run() -> tuple[list[str], float]:
    import logging

    import dagster as dg

    from dealer_pipeline.defs.resources import StoreResource
    from dealer_pipeline.defs.sources import autotrader as at

    logging.disable(logging.WARNING)
    started = time.perf_counter()
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([at.advertisers], instance=instance,
                                resources={"autotrader": at.AutotraderResource(), "store": StoreResource()})
        assert result.success
        keys = instance.get_dynamic_partitions(at.ADVERTISER_PARTITIONS.name)
    return list(keys), time.perf_counter() - started


def _log_write_cost(url: str, rows: int = 3000) -> tuple[float, float]:
    """ms per api_calls row: one transaction per call, versus the layer's batches of 200."""
    from dealer_pipeline.http.calllog import CallLog
    from dealer_pipeline.store.engine import create_store_engine, transaction
    from dealer_pipeline.store.schema import api_calls

    engine = create_store_engine(url)
    row = dict(vendor="bench", service="stock", method="GET", path="/stock?advertiserId=1", status=200,
               duration_ms=3, cf_ray="0123456789abcdef-LHR", dealer_id="autotrader:1", attempt=1, error=None,
               run_id="bench")
    started = time.perf_counter()
    for _ in range(rows):
        with transaction(engine) as conn:
            conn.execute(sa.insert(api_calls).values(ts=datetime.now(UTC), **row))
    single = (time.perf_counter() - started) * 1000 / rows
    log = CallLog(engine, batch_size=200, max_age_seconds=60)
    started = time.perf_counter()
    for _ in range(rows):
        log.record(ts=datetime.now(UTC), **row)
    log.flush()
    batched = (time.perf_counter() - started) * 1000 / rows
    with transaction(engine) as conn:
        conn.execute(sa.delete(api_calls).where(api_calls.c.vendor == "bench"))
    engine.dispose()
    return single, batched


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--advertisers", type=int, default=500)
    parser.add_argument("--vehicles", type=int, default=200)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--pg-url", help="admin URL of a PostgreSQL server (default: start a throwaway one)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker([a for a in args.worker.split(",") if a], args.concurrency)
        return 0

    from dealer_pipeline.sandbox.runner import start_sandbox
    from dealer_pipeline.settings import get_settings
    from dealer_pipeline.store import migrate
    from dealer_pipeline.store.engine import create_store_engine, get_engine
    from dealer_pipeline.store.schema import api_calls, api_tokens, vehicles
    from tests.support.postgres import throwaway_postgres

    with ExitStack() as stack:
        admin = args.pg_url or stack.enter_context(throwaway_postgres())
        url = fresh_database(admin)
        engine = create_store_engine(url)
        migrate.upgrade(engine)
        t0 = time.perf_counter()
        sandbox = stack.enter_context(start_sandbox(seed=args.seed, dealers=args.advertisers,
                                                    vehicles=args.vehicles))
        normalised = everyone_on_the_integration(sandbox)
        setup_seconds = time.perf_counter() - t0
        os.environ.update(sandbox.env())
        os.environ["DEALER_PIPELINE_DATABASE_URL"] = url
        get_settings.cache_clear()
        get_engine.cache_clear()
        since = sandbox.last_seq()

        started = time.perf_counter()
        keys, advertisers_seconds = _advertisers_run()
        slices = [keys[i::args.workers] for i in range(args.workers)]
        procs = [subprocess.Popen([sys.executable, __file__, "--worker", ",".join(part), "--concurrency",
                                   str(args.concurrency)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
                 for part in slices if part]
        reports = []
        for proc in procs:
            out, _ = proc.communicate()
            assert proc.returncode == 0, f"worker failed ({proc.returncode})"
            reports.append(json.loads(out.strip().splitlines()[-1]))
        wall = time.perf_counter() - started

        calls = sandbox.calls(vendor="autotrader", since=since)
        made = Counter(classify_call(c["path"]) for c in calls)
        statuses = Counter(c["status"] for c in calls)
        with engine.connect() as conn:
            live = conn.execute(sa.select(vehicles.c.fuel_type).where(
                vehicles.c.availability.in_(("available", "reserved")))).scalars().all()
            stored = conn.execute(sa.select(sa.func.count()).select_from(vehicles)).scalar_one()
            per_dealer = conn.execute(sa.select(sa.func.count()).select_from(vehicles)
                                      .group_by(vehicles.c.dealer_id)).scalars().all()
            logged = conn.execute(sa.select(sa.func.count()).select_from(api_calls)).scalar_one()
            tokens = conn.execute(sa.select(sa.func.count()).select_from(api_tokens)).scalar_one()
        minimum = {
            "token": math.ceil(wall / TOKEN_USABLE_SECONDS),
            "advertisers pages": math.ceil(len(keys) / 100),
            "stock pages": sum(max(1, math.ceil(n / 200)) for n in per_dealer) + (len(keys) - len(per_dealer)),
            "features": len(live),
            "charge times": sum(1 for fuel in live if fuel in ("electric", "plugin_hybrid")),
        }
        single_ms, batched_ms = _log_write_cost(url)

    failures = [f for r in reports for f in r["failures"]]
    print(f"\nAutotrader baseline: {len(keys)} advertisers x {args.vehicles} vehicles, {args.workers} worker "
          f"processes, enrichment concurrency {args.concurrency}")
    print(f"(setup: sandbox start + {normalised} advertiser fixes {setup_seconds:.1f} s; not counted)")
    print(f"{'wall time (advertisers + all runs)':<44}{wall:>10.1f} s")
    print(f"{'advertisers asset':<44}{advertisers_seconds:>10.1f} s")
    print(f"{'Dagster runs':<44}{sum(r['runs'] for r in reports):>10d}   failed: {len(failures)}")
    print(f"{'vehicles stored':<44}{stored:>10d}")
    print(f"{'vehicles/s (stored / wall)':<44}{stored / wall:>10.0f}")
    print(f"{'peak RSS per worker process':<44}{max(r['max_rss_mb'] for r in reports):>10.0f} MB")
    print(f"{'peak RSS driver process':<44}{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:>10.0f} MB")
    print(f"{'api_calls rows logged / sandbox calls':<44}{logged:>10d} / {len(calls)}")
    print(f"{'token rows in the store':<44}{tokens:>10d}")
    print(f"{'call statuses':<44}{dict(statuses)}")
    print(f"\n{'calls':<22}{'made':>10}{'minimum':>10}{'ratio':>8}")
    total_made = total_min = 0
    for kind, least in minimum.items():
        n = made.get(kind, 0)
        total_made, total_min = total_made + n, total_min + least
        print(f"{kind:<22}{n:>10}{least:>10}{(n / least if least else float('nan')):>8.2f}")
    other = made.get("other", 0)
    print(f"{'other':<22}{other:>10}{0:>10}")
    print(f"{'total':<22}{total_made + other:>10}{total_min:>10}{(total_made + other) / total_min:>8.2f}")
    print(f"\napi_calls write cost: {single_ms:.3f} ms/row one transaction per call, "
          f"{batched_ms:.3f} ms/row batched (200 rows per transaction)")
    return 0 if not failures and total_made + other == total_min else 1


if __name__ == "__main__":
    sys.exit(main())

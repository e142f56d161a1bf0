"""Sandbox benchmark: world generation for 500 dealers x 200 vehicles, and serving stock pages.

    .venv/bin/python bench/sandbox_bench.py [--dealers 500] [--vehicles 200] [--requests 200]

Prints a table: generation time and peak memory (RSS of a fresh process generating every UK
record and every Brazilian hit), then latency over loopback of a 200-item Autotrader stock page
(warm: the same page again; cold: a different advertiser each time, generation included), a
100-hit Webmotors page and one stock-features call, each with one reused token.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import requests

from dealer_pipeline.sandbox.runner import start_sandbox

GENERATE = r"""
import json, resource, sys, time
from dealer_pipeline.sandbox.world import SandboxWorld
dealers, vehicles = int(sys.argv[1]), int(sys.argv[2])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started, cpu0 = time.perf_counter(), time.process_time()
world = SandboxWorld(seed=7, dealers=dealers, vehicles=vehicles)
built, cpu1 = time.perf_counter(), time.process_time()
uk = sum(len(world.uk_stock(a.advertiser_id).all()) for a in world.uk_advertisers)
uk_done, cpu2 = time.perf_counter(), time.process_time()
br = sum(len(world.br_stock(d.cnpj).all()) for d in world.br_dealers)
br_done, cpu3 = time.perf_counter(), time.process_time()
print(json.dumps({"world_s": built - started, "uk_records": uk, "uk_s": uk_done - built, "br_hits": br,
                  "br_s": br_done - uk_done, "world_cpu": cpu1 - cpu0, "uk_cpu": cpu2 - cpu1, "br_cpu": cpu3 - cpu2,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "base_rss_mb": base / 1024}))
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def timed(session: requests.Session, url: str, **kwargs: object) -> tuple[float, int]:
    started = time.perf_counter()
    answer = session.get(url, timeout=60, **kwargs)
    answer.raise_for_status()
    return (time.perf_counter() - started) * 1000, len(answer.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dealers", type=int, default=500)
    parser.add_argument("--vehicles", type=int, default=200)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    generated = json.loads(subprocess.run([sys.executable, "-c", GENERATE, str(args.dealers), str(args.vehicles)],
                                          check=True, capture_output=True, text=True).stdout)
    rows = [
        ("world (dealers of both markets)", f"{generated['world_s'] * 1000:.0f} ms",
         f"CPU {generated['world_cpu'] * 1000:.0f} ms"),
        (f"UK stock, {generated['uk_records']:,} records", f"{generated['uk_s']:.1f} s",
         f"CPU {generated['uk_cpu']:.1f} s = "
         f"{generated['uk_cpu'] / max(1, generated['uk_records']) * 1e6:.0f} us/record"),
        (f"BR stock, {generated['br_hits']:,} hits", f"{generated['br_s']:.1f} s",
         f"CPU {generated['br_cpu']:.1f} s = {generated['br_cpu'] / max(1, generated['br_hits']) * 1e6:.0f} us/hit"),
        ("peak RSS while generating all", f"{generated['peak_rss_mb']:.0f} MB",
         f"(interpreter + imports {generated['base_rss_mb']:.0f} MB)"),
    ]

    started = time.perf_counter()
    with start_sandbox(dealers=args.dealers, vehicles=args.vehicles) as sandbox:
        startup = time.perf_counter() - started
        session = requests.Session()
        token = session.post(f"{sandbox.url('autotrader')}/authenticate",
                             data={"key": "sandbox-at-key", "secret": "sandbox-at-secret"}).json()["access_token"]
        session.headers["Authorization"] = f"Bearer {token}"
        world = sandbox.world()
        advertisers = [a["advertiser_id"] for a in world["autotrader"] if a["on_integration"] and a["stock_sync"]]
        stock_url = f"{sandbox.url('autotrader')}/stock"
        flags = {"valuations": "false", "responseMetrics": "false", "check": "false", "history": "false"}
        cold = [timed(session, stock_url, params={"advertiserId": a, "page": 1, "pageSize": 200, **flags})
                for a in advertisers[: args.requests]]
        warm = [timed(session, stock_url, params={"advertiserId": advertisers[0], "page": 1, "pageSize": 200,
                                                  **flags}) for _ in range(args.requests)]
        record = session.get(stock_url, params={"advertiserId": advertisers[1], "pageSize": 1}).json()["results"][0]
        features_url = f"{sandbox.url('autotrader')}/stock/{record['metadata']['stockId']}/features"
        features = [timed(session, features_url, params={"advertiserId": advertisers[1]})
                    for _ in range(args.requests)]
        dealer = next(d for d in world["webmotors"] if d["stock_integration"])
        wm_token = requests.post(f"{sandbox.url('webmotors')}/oauth/v1/access-token",
                                 auth=("sandbox-wm-client", "sandbox-wm-secret"),
                                 json={"grant_type": "password", "username": dealer["username"],
                                       "password": dealer["password"]}).json()["access_token"]
        wm_headers = {"client_id": "sandbox-wm-client", "access_token": wm_token}
        wm = [timed(session, f"{sandbox.url('webmotors')}/site/v1/estoque", params={"p": 1, "qty": 100},
                    headers=wm_headers) for _ in range(args.requests)]

    rows.append(("sandbox start (subprocess, lazy world)", f"{startup * 1000:.0f} ms", ""))
    for label, samples in ((f"AT 200-item page, cold ({len(cold)} advertisers)", cold),
                           (f"AT 200-item page, warm ({len(warm)} requests)", warm),
                           (f"AT stock features ({len(features)} requests)", features),
                           (f"WM 100-hit page, warm ({len(wm)} requests)", wm)):
        latencies = [ms for ms, _ in samples]
        size = statistics.median(size for _, size in samples)
        rows.append((label, f"median {statistics.median(latencies):.1f} ms",
                     f"p99 {percentile(latencies, 0.99):.1f} ms, {size / 1024:.0f} KiB"))

    print(f"sandbox benchmark: {args.dealers} dealers x {args.vehicles} vehicles per market "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; wall times include contention, "
          f"CPU times do not)")
    width = max(len(r[0]) for r in rows)
    for label, value, note in rows:
        print(f"  {label:<{width}}  {value:>16}  {note}")


if __name__ == "__main__":
    main()

"""Webhook receiver throughput and latency: signed notifications at a fixed concurrency.

    .venv/bin/python bench/receiver_bench.py [--requests 20000] [--concurrency 50] [--workers 1]
                                            [--pg-url postgresql+psycopg2://...]

Starts a throwaway PostgreSQL 15 (unless `--pg-url`), migrates a fresh database, starts the
receiver subprocess on loopback (`dealer_pipeline.webhooks.runner`) and sends full
`STOCK_UPDATE` notifications (the stock record of api/autotrader.md 1.6, about 4 KB, each a
new stockId, signed with HMAC-SHA256 as it is sent) over `--concurrency` keep-alive
connections. The load generator is a small asyncio HTTP/1.1 client (one process), so the
receiver, PostgreSQL and the generator share the machine's cores. Prints requests/s,
latency percentiles, errors, and acknowledged vs stored events (they must be equal).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import hmac
import json
import os
import statistics
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dealer_pipeline.store import migrate  # noqa: E402
from dealer_pipeline.store.engine import create_store_engine  # noqa: E402
from dealer_pipeline.webhooks.runner import start_receiver  # noqa: E402
from tests.events.records import notification, stock_record  # noqa: E402
from tests.support.postgres import throwaway_postgres  # noqa: E402

SECRET = "bench-notification-secret-0001"


def _sign(body: bytes) -> str:
    t = int(time.time())
    return f"t={t},v1={hmac.new(SECRET.encode(), str(t).encode() + b'.' + body, hashlib.sha256).hexdigest()}"


def _bodies(count: int, batch: str) -> list[bytes]:
    template = stock_record("x", 1)
    bodies = []
    for i in range(count):
        record = copy.deepcopy(template)
        record["metadata"]["stockId"] = f"{batch}{i:08d}"
        record["metadata"]["versionNumber"] = 1 + i % 7
        record["advertiser"]["advertiserId"] = str(10_000_000 + i % 500)
        bodies.append(json.dumps(notification(record), separators=(",", ":")).encode())
    return bodies


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def _worker(host: str, port: int, path: str, queue: asyncio.Queue, latencies: list[float],
                  statuses: dict[int, int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            try:
                body = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            request = (f"PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                       f"Autotrader-Signature: {_sign(body)}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
            started = time.perf_counter()
            writer.write(request)
            await writer.drain()
            try:
                status = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                status = -1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _load(url: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[float], dict[int, int]]:
    rest = url.removeprefix("http://")
    hostport, _, path = rest.partition("/")
    host, port = hostport.split(":")
    queue: asyncio.Queue = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    started = time.perf_counter()
    await asyncio.gather(*(_worker(host, int(port), "/" + path, queue, latencies, statuses)
                           for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, statuses


def _group_cpu_seconds(pgid: int) -> float:
    """User+system CPU of every process in the receiver's process group (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat: pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(pg_url: str, requests: int, concurrency: int, workers: int) -> dict:
    database = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {database}")
    admin.dispose()
    url = sa.make_url(pg_url).set(database=database).render_as_string(hide_password=False)
    engine = create_store_engine(url)
    migrate.upgrade(engine)
    batch = uuid.uuid4().hex[:8]
    bodies = _bodies(requests, batch)
    env = {"DEALER_PIPELINE_DATABASE_URL": url, "AUTOTRADER_WEBHOOK_SECRET": SECRET}
    with start_receiver(env=env, workers=workers) as receiver:
        asyncio.run(_load(receiver.url("autotrader"), bodies[: min(500, requests)], concurrency))  # warm-up
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM webhook_events")
        cpu_before = _group_cpu_seconds(receiver.pid)
        elapsed, latencies, statuses = asyncio.run(_load(receiver.url("autotrader"), bodies, concurrency))
        cpu = _group_cpu_seconds(receiver.pid) - cpu_before
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT COUNT(*) FROM webhook_events WHERE subject_id LIKE :p"),
                              {"p": f"{batch}%"}).scalar()
    engine.dispose()
    acknowledged = sum(n for status, n in statuses.items() if 200 <= status < 300)
    return {
        "requests": requests,
        "concurrency": concurrency,
        "workers": workers,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(requests / elapsed),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "receiver_cpu_ms_per_request": round(cpu * 1000 / requests, 3),
        "errors": requests - acknowledged,
        "acknowledged": acknowledged,
        "stored": stored,
        "body_bytes": len(bodies[0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="receiver worker processes; one row per value")
    parser.add_argument("--pg-url", default=None, help="an admin URL of a PostgreSQL server (default: throwaway)")
    args = parser.parse_args()
    with ExitStack() as stack:
        pg_url = args.pg_url or stack.enter_context(throwaway_postgres())
        rows = [run(pg_url, args.requests, args.concurrency, w) for w in args.workers]
    columns = list(rows[0])
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(row[c]) for c in columns))
    for row in rows:
        if row["errors"] or row["stored"] != row["acknowledged"]:
            raise SystemExit(f"FAILED: {row['errors']} errors, {row['stored']} stored vs {row['acknowledged']} acked")


if __name__ == "__main__":
    main()

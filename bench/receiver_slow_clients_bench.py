"""The receiver's memory and availability under slow clients (loopback only, bounded).

    .venv/bin/python bench/receiver_slow_clients_bench.py [--clients 300] [--body-clients 150]
                                                          [--hold 60]

Starts the receiver (one worker, its default limits: `webhooks/guard.py`) on a fresh SQLite
store, then in two rounds opens `--body-clients` connections that each send the headers of a
1 MiB request and ~1 MB of its body and stop, and `--clients` connections that send half a
request line and headers and stop. Every client waits (at most `--hold` seconds) for the
receiver to close its connection. Meanwhile one signed notification is sent every 0.5 s.
Prints, per round: the receiver's RSS before and at peak (from /proc), how long the slow
clients were held (median, max), how many were answered 408/503 or closed, and the signed
requests' statuses and latencies.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dealer_pipeline.store import migrate  # noqa: E402
from dealer_pipeline.store.engine import create_store_engine  # noqa: E402
from dealer_pipeline.webhooks.runner import ReceiverHandle, start_receiver  # noqa: E402

SECRET = "bench-notification-secret-0001"
MIB = 1024 * 1024


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _slow_client(port: int, payload: bytes, hold: float) -> tuple[float, str]:
    """Send `payload` and stop; (seconds until the receiver closed the connection, its status)."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(4096), timeout=hold)
        status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/1.1 ") else "closed"
    except asyncio.TimeoutError:
        status = "still open"
    except (ConnectionResetError, BrokenPipeError):
        status = "reset"
    finally:
        writer.close()
    return time.monotonic() - started, status


async def _signed_probe(port: int, stop: asyncio.Event) -> list[tuple[float, str]]:
    results = []
    while not stop.is_set():
        body = b'{"id":"%s","type":"STOCK_UPDATE","data":{"metadata":{"stockId":"%s","versionNumber":1}}}' % (
            (uuid.uuid4().hex.encode(),) * 2)
        t = int(time.time())
        signature = hmac.new(SECRET.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
        request = (b"PUT /webhooks/autotrader HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   b"Autotrader-Signature: t=%d,v1=%s\r\nContent-Length: %d\r\n\r\n" % (t, signature.encode(),
                                                                                        len(body))) + body
        started = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            answer = await asyncio.wait_for(reader.read(4096), timeout=30)
            writer.close()
            status = answer.split(b" ", 2)[1].decode() if answer else "closed"
        except (OSError, asyncio.TimeoutError) as exc:
            status = type(exc).__name__
        results.append((time.monotonic() - started, status))
        await asyncio.sleep(0.5)
    return results


async def _round(receiver: ReceiverHandle, name: str, payload: bytes, clients: int, hold: float) -> None:
    port = int(receiver.base_url.rsplit(":", 1)[1])
    before = _rss_kib(receiver.pid)
    peak = before
    stop = asyncio.Event()
    probe = asyncio.create_task(_signed_probe(port, stop))
    tasks = [asyncio.create_task(_slow_client(port, payload, hold)) for _ in range(clients)]
    while not all(task.done() for task in tasks):
        peak = max(peak, _rss_kib(receiver.pid))
        await asyncio.sleep(0.1)
    stop.set()
    probes = await probe
    held = sorted(task.result()[0] for task in tasks)
    statuses: dict[str, int] = {}
    for task in tasks:
        statuses[task.result()[1]] = statuses.get(task.result()[1], 0) + 1
    probe_statuses: dict[str, int] = {}
    for _, status in probes:
        probe_statuses[status] = probe_statuses.get(status, 0) + 1
    latencies = [seconds * 1000 for seconds, _ in probes]
    print(f"{name}: {clients} clients; receiver RSS {before / 1024:.0f} MiB before, {peak / 1024:.0f} MiB peak, "
          f"{_rss_kib(receiver.pid) / 1024:.0f} MiB after")
    print(f"  held: median {statistics.median(held):.1f} s, max {held[-1]:.1f} s; answers {statuses}")
    if latencies:
        print(f"  signed probes during the round: {probe_statuses}, latency median "
              f"{statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=300, help="clients with half-sent headers")
    parser.add_argument("--body-clients", type=int, default=150, help="clients with ~1 MB of an unfinished body")
    parser.add_argument("--hold", type=float, default=60, help="longest a client waits for the receiver")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/store.sqlite"
        engine = create_store_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        env = {"DEALER_PIPELINE_DATABASE_URL": url, "AUTOTRADER_WEBHOOK_SECRET": SECRET}
        with start_receiver(env=env) as receiver:
            body_head = (b"PUT /webhooks/autotrader HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % MIB)
            asyncio.run(_round(receiver, "unfinished bodies", body_head + b"x" * (MIB - 48 * 1024),
                               args.body_clients, args.hold))
            asyncio.run(_round(receiver, "half-sent headers", b"PUT /webhooks/autotrader HTTP/1.1\r\nHost: x\r\nX-A",
                               args.clients, args.hold))


if __name__ == "__main__":
    main()

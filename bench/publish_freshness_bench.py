"""Freshness of the classifieds under a real `dagster-daemon`: time from a change in the sandbox to
the change in `vehicles` and to the change on both classifieds (Autocosmos and Autochat).

    .venv/bin/python bench/publish_freshness_bench.py [--changes 30] [--items 4] [--pg-url ...]

Nothing but the sensors drives the pipeline: the sandbox delivers each change as a signed webhook
to the receiver (a subprocess on a throwaway PostgreSQL), the daemon's `webhook_events_sensor`
requests the run that applies it, and `publish_changes_sensor` requests the dealer's publish run.
Three kinds of change, on a sandbox dealer publishing to both classifieds:
* new: a stock item created (its notification) -> in `vehicles` -> listed on both;
* price: a new price -> in `vehicles` -> both classifieds show it (Autocosmos PATCH, Autochat PUT);
* sale: lifecycle SOLD -> `availability` sold -> archived on Autocosmos and deleted from Autochat.
The clock starts just before the sandbox is asked for the change and stops when a poller (every
0.2 s: one store query, two reads of the sandbox's state) first sees the outcome. Price changes are
spread at random (0 to 2 sensor intervals apart), at most one in flight per item.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import dagster as dg  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from dealer_pipeline.dealers_file import DealerEntry, load_dealers  # noqa: E402
from dealer_pipeline.defs.operations.publish_changes import SENSOR_INTERVAL_SECONDS  # noqa: E402
from dealer_pipeline.defs.publishing.partitions import published_dealers  # noqa: E402
from dealer_pipeline.sandbox.runner import SandboxHandle, start_sandbox  # noqa: E402
from dealer_pipeline.store import migrate  # noqa: E402
from dealer_pipeline.store.engine import create_store_engine  # noqa: E402
from dealer_pipeline.webhooks.runner import start_receiver  # noqa: E402
from freshness_bench import _database  # noqa: E402
from tests.certification.scenario import environment  # noqa: E402
from tests.support.classifieds import listing, new_stock_for_sale, stored  # noqa: E402
from tests.support.daemon import start_daemon  # noqa: E402
from tests.support.postgres import throwaway_postgres  # noqa: E402

TIMEOUT_S = 300


@dataclass
class Probe:
    """One awaited outcome: `check()` is polled until true; `seconds` is then the time since `started`."""

    name: str
    started: float
    check: Callable[[], bool]
    seconds: float | None = None


class Poller:
    def __init__(self) -> None:
        self.probes: list[Probe] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def add(self, *probes: Probe) -> None:
        with self.lock:
            self.probes.extend(probes)

    def pending(self, prefix: str = "") -> int:
        with self.lock:
            return sum(1 for p in self.probes if p.seconds is None and p.name.startswith(prefix))

    def _loop(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                waiting = [p for p in self.probes if p.seconds is None]
            for probe in waiting:
                try:
                    done = probe.check()
                except Exception:  # noqa: BLE001 - a read that failed now is tried again next poll
                    done = False
                if done:
                    probe.seconds = time.perf_counter() - probe.started
            time.sleep(0.2)

    def wait(self, prefix: str, timeout: float = TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while self.pending(prefix) and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.pending(prefix):
            raise TimeoutError(f"{self.pending(prefix)} '{prefix}' outcomes not seen within {timeout} s")

    def figures(self, prefix: str) -> list[float]:
        with self.lock:
            return [p.seconds for p in self.probes if p.name.startswith(prefix) and p.seconds is not None]


def _dealer(sandbox: SandboxHandle) -> tuple[DealerEntry, str]:
    """An Autotrader dealer on the stock integration that publishes to both classifieds (agency linked)."""
    world = sandbox.world()
    linked = {a["adminmail"].lower() for a in world["autocosmos_agencies"] if a["linked"]}
    entries = load_dealers().by_id()
    for advertiser in world["autotrader"]:
        entry = entries.get(advertiser["dealer_id"])
        if (advertiser["on_integration"] and advertiser["stock_sync"] and entry and entry.autochat_dealership_id
                and (entry.autocosmos_adminmail or "").lower() in linked):
            return entry, advertiser["advertiser_id"]
    raise LookupError("no sandbox dealer publishes to both classifieds")


class Bench:
    def __init__(self, sandbox: SandboxHandle, engine: sa.Engine, entry: DealerEntry, poller: Poller) -> None:
        self.sandbox, self.engine, self.entry, self.poller = sandbox, engine, entry, poller

    def in_store(self, vehicle_id: str, version: int) -> Callable[[], bool]:
        def check() -> bool:
            row = stored(self.engine, vehicle_id)
            return row is not None and (row["source_version"] or 0) >= version
        return check

    def listed_as_stored(self, vehicle_id: str, version: int) -> Callable[[], bool]:
        """Both classifieds show the price `vehicles` holds once it reached `version`."""
        def check() -> bool:
            row = stored(self.engine, vehicle_id)
            if row is None or (row["source_version"] or 0) < version:
                return False
            return listing(self.sandbox, self.entry, vehicle_id).shows_price(Decimal(str(row["price_amount"])))
        return check

    def gone(self, vehicle_id: str) -> Callable[[], bool]:
        return lambda: listing(self.sandbox, self.entry, vehicle_id).gone

    def sold(self, vehicle_id: str) -> Callable[[], bool]:
        def check() -> bool:
            row = stored(self.engine, vehicle_id)
            return row is not None and row["availability"] == "sold"
        return check

    def create(self, advertiser_id: str) -> tuple[str, str]:
        started = time.perf_counter()
        vehicle_id = new_stock_for_sale(self.sandbox, advertiser_id)
        stock_id = vehicle_id.split(":", 1)[1]
        self.poller.add(Probe(f"new/vehicles/{stock_id}", started, self.in_store(vehicle_id, 1)),
                        Probe(f"new/published/{stock_id}", started, self.listed_as_stored(vehicle_id, 1)))
        return stock_id, vehicle_id

    def change_price(self, stock_id: str, version: int, price: int, tag: str) -> None:
        vehicle_id = f"autotrader:{stock_id}"
        started = time.perf_counter()
        self.sandbox.change("autotrader", stock_id, price=price)
        self.poller.add(Probe(f"price/vehicles/{tag}", started, self.in_store(vehicle_id, version)),
                        Probe(f"price/published/{tag}", started, self.listed_as_stored(vehicle_id, version)))

    def sell(self, stock_id: str) -> None:
        vehicle_id = f"autotrader:{stock_id}"
        started = time.perf_counter()
        self.sandbox.change("autotrader", stock_id, lifecycle="SOLD")
        self.poller.add(Probe(f"sale/vehicles/{stock_id}", started, self.sold(vehicle_id)),
                        Probe(f"sale/published/{stock_id}", started, self.gone(vehicle_id)))


def _versions(sandbox: SandboxHandle, engine: sa.Engine, vehicle_id: str) -> int:
    row = stored(engine, vehicle_id)
    return int(row["source_version"]) if row is not None else 0


def _price_changes(bench: Bench, stock_ids: list[str], changes: int, seed: int) -> None:
    rng = random.Random(seed)
    versions = {sid: _versions(bench.sandbox, bench.engine, f"autotrader:{sid}") for sid in stock_ids}
    for i in range(changes):
        sid = stock_ids[i % len(stock_ids)]
        while bench.poller.pending(f"price/published/{sid}:"):
            time.sleep(0.1)  # one change in flight per item: its version is unambiguous
        versions[sid] += 1
        bench.change_price(sid, versions[sid], 12_000 + 37 * i, f"{sid}:{i}")
        time.sleep(rng.uniform(0, 2 * SENSOR_INTERVAL_SECONDS))
    bench.poller.wait("price/")


def run(pg_url: str, changes: int, items: int) -> list[dict]:
    url = _database(pg_url)
    engine = create_store_engine(url)
    migrate.upgrade(engine)
    poller = Poller()
    with ExitStack() as stack:
        sandbox = stack.enter_context(start_sandbox(seed=5, dealers=2, vehicles=4))
        env = {**sandbox.env(), "DEALER_PIPELINE_DATABASE_URL": url}
        receiver = stack.enter_context(start_receiver(env=env))
        sandbox.configure(receiver_url=receiver.base_url)
        stack.enter_context(environment(env))
        entry, advertiser_id = _dealer(sandbox)
        daemon = stack.enter_context(start_daemon(env))
        with daemon.instance() as instance:
            assert dg.materialize([published_dealers], instance=instance).success
        bench = Bench(sandbox, engine, entry, poller)
        try:
            created = [bench.create(advertiser_id) for _ in range(items)]
            poller.wait("new/")
            _price_changes(bench, [sid for sid, _ in created], changes, seed=7)
            for sid, _ in created:
                bench.sell(sid)
            poller.wait("sale/")
        except TimeoutError:
            print(daemon.log_tail(), file=sys.stderr)
            raise
        finally:
            poller.stop.set()
    engine.dispose()
    return [_row(poller, kind, stage) for kind in ("new", "price", "sale") for stage in ("vehicles", "published")]


def _row(poller: Poller, kind: str, stage: str) -> dict:
    seconds = sorted(poller.figures(f"{kind}/{stage}/"))
    return {"change": kind, "reaches": stage, "n": len(seconds), "p50_s": round(statistics.median(seconds), 1),
            "p95_s": round(seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))], 1),
            "max_s": round(seconds[-1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=30, help="price changes")
    parser.add_argument("--items", type=int, default=4, help="new stock items (each sold at the end)")
    parser.add_argument("--pg-url", default=None)
    args = parser.parse_args()
    with ExitStack() as stack:
        pg_url = args.pg_url or stack.enter_context(throwaway_postgres())
        rows = run(pg_url, args.changes, args.items)
    print(" | ".join(rows[0]))
    for row in rows:
        print(" | ".join(str(v) for v in row.values()))


if __name__ == "__main__":
    main()

"""Freshness: time from a change in the sandbox to the vehicle updated in `vehicles`, through
the webhook receiver and the events sensor.

    .venv/bin/python bench/freshness_bench.py [--changes 40] [--mode inprocess daemon]
                                              [--pg-url postgresql+psycopg2://...]

Each change is `POST /_sandbox/autotrader/stock/{id}/change` (a new price): the sandbox bumps
the version and PUTs the signed notification to the receiver (a subprocess on a throwaway
PostgreSQL); the sensor finds the event and a run applies it. The clock starts just before
the change request and stops when a poller (every 20 ms) sees the new version in `vehicles`.
Changes are spread at random over time, so they land anywhere in the sensor's interval.

Two ways of driving the sensor:
* `inprocess`: this process ticks the sensor every `minimum_interval_seconds` (2 s) and executes
  each requested run in process against a real Dagster instance (no run-launch overhead);
* `daemon`: a real `dagster-daemon run` on a temporary DAGSTER_HOME (the repo's
  dagster.yaml, tests/support/daemon.py) evaluates the sensor on each of its 5 s passes and
  launches every run as its own process, as production does; this adds the run launch (a new
  Python process importing the code). bench/publish_freshness_bench.py follows the change on
  to the classifieds.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dealer_pipeline.defs.operations.events import SENSOR_INTERVAL_SECONDS  # noqa: E402
from dealer_pipeline.sandbox.runner import SandboxHandle, start_sandbox  # noqa: E402
from dealer_pipeline.store import migrate  # noqa: E402
from dealer_pipeline.store.engine import create_store_engine  # noqa: E402
from dealer_pipeline.store.schema import vehicles  # noqa: E402
from dealer_pipeline.webhooks.runner import start_receiver  # noqa: E402
from tests.support.daemon import start_daemon  # noqa: E402
from tests.support.postgres import throwaway_postgres  # noqa: E402


def _database(pg_url: str) -> str:
    name = f"fresh_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return sa.make_url(pg_url).set(database=name).render_as_string(hide_password=False)


class Watcher:
    """Polls `vehicles` for awaited (vehicle_id, version) pairs; records when each appears."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.awaited: dict[str, tuple[int, float]] = {}
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def expect(self, vehicle_id: str, version: int, started: float) -> None:
        with self.lock:
            self.awaited[vehicle_id] = (version, started)

    def _loop(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                wanted = dict(self.awaited)
            if wanted:
                with self.engine.connect() as conn:
                    rows = conn.execute(sa.select(vehicles.c.vehicle_id, vehicles.c.source_version)
                                        .where(vehicles.c.vehicle_id.in_(list(wanted)))).all()
                now = time.perf_counter()
                with self.lock:
                    for vehicle_id, version in rows:
                        target = self.awaited.get(vehicle_id)
                        if target and version is not None and version >= target[0]:
                            self.seen[f"{vehicle_id}@{target[0]}"] = now - target[1]
                            del self.awaited[vehicle_id]
            time.sleep(0.02)

    def wait_all(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if not self.awaited:
                    return
            time.sleep(0.05)


def _stock_ids(sandbox: SandboxHandle, count: int) -> list[str]:
    """New stock items, each created by its notification (applied before measuring)."""
    advertiser = next(a for a in sandbox.world()["autotrader"] if a["on_integration"] and a["stock_sync"])
    return [sandbox.control("POST", f"/autotrader/advertisers/{advertiser['advertiser_id']}/stock", {})["stockId"]
            for _ in range(count)]


def _measure(sandbox: SandboxHandle, engine: sa.Engine, stock_ids: list[str], changes: int, spread: float,
             seed: int) -> list[float]:
    rng = random.Random(seed)
    watcher = Watcher(engine)
    versions = {sid: 1 for sid in stock_ids}
    try:
        # The items exist once their creating notifications are applied.
        for sid in stock_ids:
            watcher.expect(f"autotrader:{sid}", 1, time.perf_counter())
        watcher.wait_all(120)
        watcher.seen.clear()
        for i in range(changes):
            sid = stock_ids[i % len(stock_ids)]
            versions[sid] += 1
            started = time.perf_counter()
            watcher.expect(f"autotrader:{sid}", versions[sid], started)
            sandbox.change("autotrader", sid, price=10_000 + i)
            time.sleep(rng.uniform(0, spread))
            while f"autotrader:{stock_ids[(i + 1) % len(stock_ids)]}" in watcher.awaited:
                time.sleep(0.05)  # one change in flight per item: its version is unambiguous
        watcher.wait_all(120)
    finally:
        watcher.stop.set()
        watcher.thread.join()
    return list(watcher.seen.values())


def _inprocess(env: dict[str, str], measure) -> list[float]:  # type: ignore[no-untyped-def]
    os.environ.update(env)
    from dealer_pipeline.settings import get_settings

    get_settings.cache_clear()
    import dagster as dg

    from dealer_pipeline.runner.sensor import SensorDriver
    from dealer_pipeline.defs.resources import StoreResource

    with dg.instance_for_test() as instance:
        driver = SensorDriver(instance, StoreResource(database_url=env["DEALER_PIPELINE_DATABASE_URL"]))
        stop = threading.Event()

        def ticking() -> None:
            while not stop.is_set():
                started = time.monotonic()
                driver.tick()
                stop.wait(max(0.0, SENSOR_INTERVAL_SECONDS - (time.monotonic() - started)))

        thread = threading.Thread(target=ticking, daemon=True)
        thread.start()
        try:
            return measure()
        finally:
            stop.set()
            thread.join()


def _daemon(env: dict[str, str], measure) -> list[float]:  # type: ignore[no-untyped-def]
    with start_daemon(env, keep_home=bool(os.environ.get("FRESHNESS_KEEP_HOME"))):
        result = measure()
        time.sleep(2 * SENSOR_INTERVAL_SECONDS)  # let the last runs finish their follow-up step
        return result


def run(pg_url: str, mode: str, changes: int, items: int) -> dict:
    url = _database(pg_url)
    engine = create_store_engine(url)
    migrate.upgrade(engine)
    with ExitStack() as stack:
        sandbox = stack.enter_context(start_sandbox(seed=5, dealers=2, vehicles=10))
        env = {**sandbox.env(), "DEALER_PIPELINE_DATABASE_URL": url}
        receiver = stack.enter_context(start_receiver(env=env))
        sandbox.configure(receiver_url=receiver.base_url)

        def measure() -> list[float]:
            return _measure(sandbox, engine, _stock_ids(sandbox, items), changes,
                            spread=2 * SENSOR_INTERVAL_SECONDS / 2, seed=7)

        driver = _inprocess if mode == "inprocess" else _daemon
        seconds = driver(env, measure)
    engine.dispose()
    return {
        "mode": mode,
        "sensor_interval_s": SENSOR_INTERVAL_SECONDS,
        "changes": len(seconds),
        "p50_s": round(statistics.median(seconds), 2),
        "p95_s": round(sorted(seconds)[min(len(seconds) - 1, int(0.95 * len(seconds)))], 2),
        "min_s": round(min(seconds), 2),
        "max_s": round(max(seconds), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=40)
    parser.add_argument("--items", type=int, default=8, help="stock items the changes rotate over")
    parser.add_argument("--mode", nargs="+", choices=["inprocess", "daemon"], default=["inprocess", "daemon"])
    parser.add_argument("--pg-url", default=None)
    args = parser.parse_args()
    with ExitStack() as stack:
        pg_url = args.pg_url or stack.enter_context(throwaway_postgres())
        rows = [run(pg_url, mode, args.changes, args.items) for mode in args.mode]
    columns = list(rows[0])
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(row[c]) for c in columns))


if __name__ == "__main__":
    main()

"""Benchmark: the data-quality checks over 100k vehicles in PostgreSQL.

    .venv/bin/python bench/checks_bench.py                  # starts a throwaway PostgreSQL 15
    .venv/bin/python bench/checks_bench.py --pg-url postgresql+psycopg2://user:pw@host:5432/postgres

Creates a scratch database, migrates it, loads synthetic stock for both markets (about 2% of it
broken in every way the rules know, some with `other` vocabulary), then times each check on its
own (including its read from PostgreSQL), the Great Expectations import and validation, the
publishing gate for one dealer, and the whole suite run through Dagster. Prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import secrets
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from dealer_pipeline.quality import dealer_health, findings, rules  # noqa: E402
from dealer_pipeline.quality.frame import load_vehicles  # noqa: E402
from dealer_pipeline.quality.publishable import publishable_vehicle_ids  # noqa: E402
from dealer_pipeline.store import migrate  # noqa: E402
from dealer_pipeline.store.engine import create_store_engine, transaction  # noqa: E402
from dealer_pipeline.store.repository import insert_many  # noqa: E402
from dealer_pipeline.store.schema import sync_runs, vehicles  # noqa: E402
from dealer_pipeline.store.types import utcnow  # noqa: E402

UK_MODELS = [("Ford", "Focus", "petrol", "manual", 999), ("BMW", "3 Series", "diesel", "automatic", 1995),
             ("Tesla", "Model 3", "electric", "automatic", 0), ("Toyota", "Yaris", "hybrid", "automatic", 1490)]
BR_MODELS = [("Honda", "Civic", "flex", "automatic", 1997), ("Volkswagen", "Gol", "flex", "manual", 999),
             ("Fiat", "Toro", "diesel", "automatic", 1956)]
SABOTAGE: list[Callable[[dict[str, Any]], None]] = [
    lambda r: r.update(make=None), lambda r: r.update(images=[]), lambda r: r.update(price_amount=Decimal("12")),
    lambda r: r.update(model_year=1931), lambda r: r.update(mileage_km=2_000_000), lambda r: r.update(doors=11),
    lambda r: r.update(seats=0), lambda r: r.update(power_kw=Decimal("99999")), lambda r: r.update(engine_cc=40_000),
    lambda r: r.update(vin="1M8GDM9A1KP042788"), lambda r: r.update(vin="SHORTVIN"),
    lambda r: r.update(lifecycle_state="SOLD") if r["source"] == "autotrader" else r.update(lifecycle_state="Vendido"),
    lambda r: r.update(registration="NOT A PLATE") if r["source"] == "autotrader" else r.update(price_currency="USD"),
]


def synthetic_rows(count: int, dealers: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    now = utcnow()
    rows = []
    for n in range(count):
        dealer = n % dealers
        uk = dealer % 2 == 0
        source = "autotrader" if uk else "webmotors"
        source_id = f"{n:032x}" if uk else str(50_000_000 + n)
        make, model, fuel, gearbox, cc = rng.choice(UK_MODELS if uk else BR_MODELS)
        plate_final = str(rng.randrange(10))
        row: dict[str, Any] = {
            "vehicle_id": f"{source}:{source_id}", "source": source, "source_vehicle_id": source_id,
            "dealer_id": f"autotrader:{10_000_000 + dealer}" if uk else f"webmotors:{dealer:014d}",
            "vin": f"WF0NXXGCHN{rng.choice('ABCDEFGH')}{n % 1_000_000:06d}" if uk else None,
            "registration": f"{rng.choice('ABCDEFGH')}{rng.choice('ABCDEFGH')}{rng.randrange(10, 75)}"
                            f"{rng.choice('XYZ')}{rng.choice('ABC')}{rng.choice('DEF')}" if uk else None,
            "make": make, "model": model, "fuel_type": fuel, "source_fuel_type": fuel.title(),
            "transmission": gearbox, "source_transmission": gearbox.title(), "doors": rng.choice([3, 5]),
            "seats": 5, "engine_cc": cc, "power_kw": Decimal(rng.randrange(50, 250)),
            "model_year": rng.randrange(2008, 2026), "mileage_km": rng.randrange(0, 200_000),
            "price_amount": Decimal(rng.randrange(3_000, 60_000) if uk else rng.randrange(25_000, 300_000)),
            "price_currency": "GBP" if uk else "BRL",
            "lifecycle_state": "FORECOURT" if uk else "Ativo", "reservation_status": None,
            "availability": "available",
            "images": [f"https://img.example.com/{source_id}/{k}.jpg" for k in range(rng.randrange(1, 12))],
            "first_seen_at": now - timedelta(days=30), "updated_at": now,
            "raw": {"id": source_id, "vehicle": {"plate_final": plate_final, "km": 1}, "status": "x"},
        }
        roll = rng.random()
        if roll < 0.02:
            rng.choice(SABOTAGE)(row)
        elif roll < 0.03:
            row.update(fuel_type="other", source_fuel_type=rng.choice(["Wood Gas", "Steam"]))
        elif roll < 0.10:
            row.update(availability="sold", lifecycle_state="SOLD" if uk else "Vendido")
        rows.append(row)
    return rows


@contextlib.contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    name = f"bench_checks_{secrets.token_hex(4)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def timed(label: str, results: list[tuple[str, float, float, str]], fn: Callable[[], Any], note: str = "") -> Any:
    """Run `fn`, record wall-clock and this process's CPU seconds (CPU time is what other load on the
    machine disturbs least; it excludes the PostgreSQL server's own work)."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    results.append((label, time.perf_counter() - wall, time.process_time() - cpu, note))
    return value


def _note(results: list[tuple[str, float, float, str]], note: str) -> None:
    results[-1] = (*results[-1][:3], note)


def run(url: str, count: int, dealers: int) -> None:
    engine = create_store_engine(url)
    migrate.upgrade(engine)
    setup: list[tuple[str, float, float, str]] = []
    rows = timed("generate synthetic rows", setup, lambda: synthetic_rows(count, dealers))
    timed("insert vehicles (setup)", setup, lambda: _insert(engine, rows))
    now = utcnow()
    runs = [{"source": d.split(":")[0], "dealer_id": d, "kind": "baseline", "started_at": now - timedelta(hours=h),
             "finished_at": now - timedelta(hours=h) + timedelta(minutes=2), "complete": True,
             "records": rec} for d in sorted({r["dealer_id"] for r in rows})
            for h, rec in ((50, 500), (30 if hash(d) % 7 == 0 else 3, 350 if hash(d) % 5 == 0 else 498))]
    with transaction(engine) as conn:
        insert_many(conn, sync_runs, runs)

    results: list[tuple[str, float, float, str]] = []
    with engine.connect() as conn:
        frame = timed("read: load_vehicles (whole table)", results, lambda: load_vehicles(conn))
    for rule in rules.BLOCKING_RULES:
        report = timed(f"rule {rule.name}", results,
                       lambda rule=rule: rules.evaluate_blocking_rules(frame, rules=(rule,)))
        _note(results, f"{len(report.findings)} failing")
    report = timed("all blocking rules (in memory)", results, lambda: rules.evaluate_blocking_rules(frame))
    _note(results, f"{len(report.failing_vehicle_ids())} vehicles held back")

    def write() -> int:
        with transaction(engine) as conn:
            return findings.replace_findings(conn, report.findings, check_names=report.rules)

    timed("write findings (replace)", results, write, f"{len(report.findings)} rows")

    def vehicle_rules_check() -> None:
        with engine.connect() as conn:
            table = load_vehicles(conn)
        again = rules.evaluate_blocking_rules(table)
        with transaction(engine) as conn:
            findings.replace_findings(conn, again.findings, check_names=again.rules)

    timed("check vehicle_rules (read + rules + write)", results, vehicle_rules_check)

    def unique_check() -> None:
        with engine.connect() as conn:
            table = load_vehicles(conn, columns=rules.IDENTITY_COLUMNS)
        rules.evaluate_blocking_rules(table, rules=rules.BLOCKING_RULES[:1])

    timed("check unique_vehicle_id (read identity columns + rule)", results, unique_check)
    with engine.connect() as conn:
        got = timed("check baseline_row_count", results, lambda: dealer_health.baseline_row_count(conn))
        _note(results, f"{len(got.warnings)} dealers warned")
        got = timed("check dealer_freshness", results,
                    lambda: dealer_health.dealer_freshness(conn, now=now, max_age_hours=26))
        _note(results, f"{len(got.warnings)} dealers warned")

    def other_check() -> dealer_health.OtherShare:
        with engine.connect() as conn:
            share = dealer_health.other_vocabulary_share(
                load_vehicles(conn, columns=dealer_health.OTHER_SHARE_COLUMNS))
        with transaction(engine) as conn:
            findings.replace_findings(conn, share.findings(), check_names=[dealer_health.OTHER_VOCABULARY])
        return share

    share = timed("check other_vocabulary_share (read + write)", results, other_check)
    _note(results, f"fuel other {share.shares['fuel_type']:.1%}")

    timed("import great_expectations (once per process)", results, lambda: __import__("great_expectations"))
    from dealer_pipeline.quality.expectations import SUITE_COLUMNS, validate_vehicles

    outcomes = timed("GX suite: validate (frame in memory)", results, lambda: validate_vehicles(frame))
    _note(results, f"{len(outcomes)} expectations, {sum(not o.success for o in outcomes)} failed")

    def ge_check() -> None:
        with engine.connect() as conn:
            validate_vehicles(load_vehicles(conn, columns=SUITE_COLUMNS))

    timed("check great_expectations_suite (read + validate)", results, ge_check)
    one_dealer = rows[0]["dealer_id"]
    with engine.connect() as conn:
        ids = timed(f"publishable_vehicle_ids (one dealer, ~{count // dealers} vehicles)", results,
                    lambda: publishable_vehicle_ids(conn, one_dealer))
        _note(results, f"{len(ids)} publishable")

    import dagster as dg

    from dealer_pipeline.defs.canonical.checks import CANONICAL_CHECKS
    from dealer_pipeline.defs.canonical.definitions import canonical_vehicles
    from dealer_pipeline.defs.resources import StoreResource

    def whole_suite() -> None:
        result = dg.materialize([canonical_vehicles, *CANONICAL_CHECKS], instance=dg.DagsterInstance.ephemeral(),
                                resources={"store": StoreResource(database_url=url)})
        assert result.success

    timed("WHOLE SUITE via Dagster (asset + 6 checks, in process)", results, whole_suite,
          "each check reads the table itself")
    engine.dispose()

    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"\n{count:,} vehicles, {dealers} dealers, PostgreSQL, {os.cpu_count()} CPUs, load average {load}; setup:")
    for label, seconds, _cpu, note in setup:
        print(f"  {label:<58} {seconds:8.2f} s  {note}")
    print(f"\n  {'step':<58} {'wall s':>8} {'cpu s':>8}    note")
    print("  " + "-" * 110)
    for label, seconds, cpu, note in results:
        print(f"  {label:<58} {seconds:8.3f} {cpu:8.3f}    {note}")


def _insert(engine: sa.Engine, rows: list[dict[str, Any]]) -> None:
    with transaction(engine) as conn:
        insert_many(conn, vehicles, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", help="admin URL of a PostgreSQL server (a scratch database is created)")
    parser.add_argument("--vehicles", type=int, default=100_000)
    parser.add_argument("--dealers", type=int, default=200)
    args = parser.parse_args()
    if args.pg_url:
        with scratch_database(args.pg_url) as url:
            run(url, args.vehicles, args.dealers)
        return
    from tests.support.postgres import throwaway_postgres

    with throwaway_postgres() as admin_url, scratch_database(admin_url) as url:
        run(url, args.vehicles, args.dealers)


if __name__ == "__main__":
    main()

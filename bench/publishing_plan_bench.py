"""Benchmark: the publishing core's planning for one large dealer (no HTTP).

    .venv/bin/python bench/publishing_plan_bench.py [--vehicles 5000] [--url sqlite:////tmp/plan.sqlite]

Loads N synthetic available vehicles for one dealer into a scratch SQLite store (or the given URL,
which must be an empty database), then times: the first plan (every vehicle a create), recording
every outcome, the re-plan of unchanged stock (every vehicle `nothing`: what a scheduled run costs
before any request), and the re-plan after 10% of prices changed. Prints a table.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from dealer_pipeline.publishing import core  # noqa: E402
from dealer_pipeline.store import migrate  # noqa: E402
from dealer_pipeline.store.engine import create_store_engine, transaction  # noqa: E402
from dealer_pipeline.store.repository import insert_many  # noqa: E402
from dealer_pipeline.store.schema import vehicles  # noqa: E402
from dealer_pipeline.store.types import utcnow  # noqa: E402

DEALER = "autotrader:10012345"
MODELS = [("Ford", "Focus", "petrol", "manual", 999), ("BMW", "3 Series", "diesel", "automatic", 1995),
          ("Kia", "Picanto", "petrol", "manual", 998), ("Tesla", "Model 3", "electric", "automatic", 0)]


def _rows(n: int, rng: random.Random) -> list[dict]:
    now = utcnow()
    rows = []
    for i in range(n):
        make, model, fuel, gearbox, cc = MODELS[i % len(MODELS)]
        stock_id = f"{rng.getrandbits(128):032x}"
        rows.append({
            "vehicle_id": f"autotrader:{stock_id}", "source": "autotrader", "source_vehicle_id": stock_id,
            "dealer_id": DEALER, "make": make, "model": model, "fuel_type": fuel, "transmission": gearbox,
            "engine_cc": cc, "model_year": 2018 + i % 7, "mileage_km": 10_000 + i, "colour": "Grey",
            "price_amount": Decimal(8_000 + i % 20_000), "price_currency": "GBP", "availability": "available",
            "lifecycle_state": "FORECOURT", "shown_on_dealer_site": True, "doors": 5, "seats": 5,
            "images": [f"https://img.example.com/{stock_id}/{k}.jpg" for k in range(8)],
            "first_seen_at": now - timedelta(days=3), "updated_at": now, "raw": {"n": i},
        })
    return rows


def _draft(intent: core.Intent) -> core.Draft:
    v = intent.vehicle or {}
    return core.Draft({"ExternalId": intent.external_id, "Marca": v["make"], "Modelo": v["model"],
                       "VersionYear": v["model_year"], "Kilometraje": v["mileage_km"], "Color": v["colour"],
                       "Precio": {"Moneda": v["price_currency"], "Monto": float(v["price_amount"])},
                       "Fotos": v["images"], "Activa": True})


def _plan(engine: sa.Engine) -> tuple[list[core.Change], float]:
    started = time.perf_counter()
    with engine.connect() as conn:
        intents = core.desired_states(conn, "autocosmos", DEALER, "admin@example.com", reusable_after_removal=False)
    changes = core.plan(intents, _draft, price_keys=("Precio",), ignore_keys=("Activa",))
    return changes, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vehicles", type=int, default=5000)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    scratch = None
    url = args.url
    if url is None:
        scratch = tempfile.mkdtemp(prefix="plan-bench-")
        url = f"sqlite:///{os.path.join(scratch, 'store.sqlite')}"
    engine = create_store_engine(url)
    migrate.upgrade(engine)
    rng = random.Random(3)
    rows = _rows(args.vehicles, rng)
    with transaction(engine) as conn:
        insert_many(conn, vehicles, rows)

    figures: list[tuple[str, float, str]] = []
    changes, seconds = _plan(engine)
    figures.append(("first plan", seconds, str(core.summarize(changes)["create"]) + " create"))
    started = time.perf_counter()
    with transaction(engine) as conn:
        for change in changes:
            core.record_success(conn, change, status=201)
    figures.append(("record every outcome", time.perf_counter() - started, f"{len(changes)} rows"))
    changes, seconds = _plan(engine)
    figures.append(("re-plan unchanged", seconds, str(core.summarize(changes)["nothing"]) + " nothing"))
    with transaction(engine) as conn:
        for row in rows[:: 10]:
            conn.execute(sa.update(vehicles).where(vehicles.c.vehicle_id == row["vehicle_id"])
                         .values(price_amount=row["price_amount"] - 100))
    changes, seconds = _plan(engine)
    figures.append(("re-plan, 10% repriced", seconds, str(core.summarize(changes)["price"]) + " price"))

    print(f"publishing core, one dealer with {args.vehicles} vehicles, {engine.dialect.name}")
    print(f"{'step':<24}{'seconds':>10}{'per vehicle (ms)':>18}  result")
    for name, seconds, result in figures:
        print(f"{name:<24}{seconds:>10.3f}{seconds / args.vehicles * 1000:>18.3f}  {result}")
    engine.dispose()


if __name__ == "__main__":
    main()

"""Normalizing and applying 100k Autotrader stock records: throughput on SQLite and PostgreSQL.

    .venv/bin/python bench/normalize_bench.py [--records 100000] [--pg-url postgresql+psycopg2://...]

Records vary the complete stock item of api/autotrader.md 1.6 (the sections a baseline
requests: vehicle, advertiser, adverts, metadata, features, media, highlights). Without
`--pg-url` a throwaway PostgreSQL 15 is started. Passes applied to each store, each in
one transaction: insert all; re-apply with 10% changed (new version, price and mileage);
re-apply unchanged (all duplicates). Also timed: `pandas.json_normalize` on the same
records, the flattening step a vectorised normalizer would need before any conversion.
"""

from __future__ import annotations

import argparse
import copy
import gc
import os
import random
import secrets
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dealer_pipeline.canonical import apply_vehicles, autotrader  # noqa: E402
from dealer_pipeline.store import migrate  # noqa: E402
from dealer_pipeline.store.engine import create_store_engine, transaction  # noqa: E402
from dealer_pipeline.store.schema import vehicle_changes, vehicles  # noqa: E402

MAKES = {
    "Hyundai": ["Tucson", "i30", "Kona"], "Ford": ["Focus", "Fiesta", "Kuga"], "BMW": ["3 Series", "X1", "i4"],
    "Volkswagen": ["Golf", "Polo", "ID.3"], "Toyota": ["Yaris", "Corolla", "RAV4"], "Kia": ["Niro", "Sportage"],
}
FUELS = ["Petrol", "Diesel", "Electric", "Petrol Hybrid", "Petrol Plug-in Hybrid", "Diesel Hybrid", "Bi Fuel"]
LIFECYCLES = ["FORECOURT"] * 8 + ["DUE_IN", "SALE_IN_PROGRESS", "SOLD", "WASTEBIN"]
TEMPLATE: dict[str, Any] = {
    "vehicle": {
        "ownershipCondition": "Used", "registration": "EK18FUT", "vin": "TMAJ3815GJJ000000", "make": "Hyundai",
        "model": "Tucson", "generation": "SUV (2015 - 2018)",
        "derivative": "1.6 GDi Blue Drive SE Nav SUV 5dr Petrol Manual Euro 6 (s/s) (132 ps)",
        "derivativeId": "35eef09b60b1422b8d4902aa22f841cd", "vehicleType": "Car", "trim": "SE Nav",
        "bodyType": "SUV", "fuelType": "Petrol", "cabType": None, "transmissionType": "Manual",
        "wheelbaseType": None, "drivetrain": "Front Wheel Drive", "seats": 5, "doors": 5, "cylinders": 4,
        "valves": 16, "engineTorqueNM": 161, "co2EmissionGPKM": 147, "topSpeedMPH": 113,
        "zeroToSixtyMPHSeconds": 11.1, "badgeEngineSizeLitres": 1.6, "engineCapacityCC": 1591,
        "enginePowerBHP": 130, "enginePowerPS": 132, "fuelCapacityLitres": 62.0, "emissionClass": "Euro 6",
        "fuelEconomyNEDCCombinedMPG": 44.8, "fuelEconomyWLTPCombinedMPG": None, "insuranceGroup": "14E",
        "owners": 2, "firstRegistrationDate": "2018-03-29", "yearOfManufacture": 2018, "plate": "18",
        "colour": "Grey", "odometerReadingMiles": 45000, "motExpiryDate": "2026-03-28",
        "serviceHistory": "Full service history", "warrantyMonthsOnPurchase": 3, "origin": "UK",
        "lengthMM": 4475, "widthMM": 1850, "heightMM": 1645, "bootSpaceSeatsUpLitres": 513.0,
    },
    "advertiser": {
        "advertiserId": "10012345", "name": "Example Motors Ltd", "segment": "Independent",
        "website": "https://www.examplemotors.co.uk", "phone": "0161 555 0123", "advertStrapline": "Family run",
        "location": {"addressLineOne": "1 Example Road", "town": "Manchester", "county": None,
                     "region": "North West", "postCode": "M1 1AA", "latitude": 53.4808, "longitude": -2.2426},
    },
    "adverts": {
        "forecourtPrice": {"amountGBP": 10995}, "forecourtPriceVatStatus": "No VAT", "vatScheme": "Marginal",
        "reservationStatus": None, "soldDate": None, "dueDate": None, "manufacturerApproved": False,
        "twelveMonthsMot": False,
        "retailAdverts": {
            "suppliedPrice": {"amountGBP": 10995}, "totalPrice": {"amountGBP": 11194},
            "adminFee": {"amountGBP": 199}, "manufacturerRRP": {"amountGBP": None}, "vatStatus": "No VAT",
            "priceOnApplication": False, "attentionGrabber": "Full service history",
            "description": "Great-value family SUV with sat nav, reversing camera and full service history.",
            "description2": "Finance available. Part exchange welcome.", "priceIndicatorRating": "GOOD",
            "displayOptions": {"excludePreviousOwners": False, "excludeStrapline": False, "excludeMot": False,
                               "excludeWarranty": False, "excludeInteriorDetails": False,
                               "excludeTyreCondition": False, "excludeBodyCondition": False},
            "autotraderAdvert": {"status": "PUBLISHED"}, "advertiserAdvert": {"status": "PUBLISHED"},
            "locatorAdvert": {"status": "NOT_PUBLISHED"}, "exportAdvert": {"status": "NOT_PUBLISHED"},
            "profileAdvert": {"status": "PUBLISHED"},
        },
        "tradeAdverts": {"dealerAuctionAdvert": {"status": "NOT_PUBLISHED"}},
    },
    "metadata": {
        "stockId": "", "searchId": "", "externalStockId": "", "externalStockReference": "", "versionNumber": 1,
        "lifecycleState": "FORECOURT", "dateOnForecourt": "2026-05-30", "lastUpdated": "2026-06-02T09:14:03.120Z",
        "lastUpdatedByAdvertiser": "2026-06-02T09:14:03.120Z",
    },
    "features": [
        {"name": "Reversing camera", "genericName": "Reversing camera", "type": "Standard",
         "category": "Drivers Assistance", "basicPrice": 0, "vatPrice": 0, "factoryFitted": True,
         "rarityRating": None, "valueRating": None},
        {"name": "Panoramic sunroof", "genericName": "Sunroof", "type": "Optional", "category": "Exterior",
         "basicPrice": 750, "vatPrice": 900, "factoryFitted": True, "rarityRating": None, "valueRating": None},
    ],
    "highlights": [{"name": "Low mileage"}],
    "media": {
        "images": [],
        "video": {"href": "https://www.youtube.com/watch?v=XXXXXXXXXXX"},
        "spin": {"href": None},
    },
    "warnings": [],
}


def make_records(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """`count` varied records over 500 advertisers (200 vehicles each at 100k)."""
    rng = random.Random(seed)
    records = []
    for n in range(count):
        record = copy.deepcopy(TEMPLATE)
        vehicle, meta = record["vehicle"], record["metadata"]
        make = rng.choice(list(MAKES))
        vehicle.update(
            make=make, model=rng.choice(MAKES[make]), fuelType=rng.choice(FUELS),
            transmissionType=rng.choice(["Manual", "Automatic"]), odometerReadingMiles=rng.randint(0, 150_000),
            enginePowerPS=rng.choice([None, rng.randint(60, 400)]), yearOfManufacture=rng.randint(2008, 2026),
            registration=f"EK{rng.randint(10, 75)}{rng.choice('ABCDEFGH')}{rng.choice('JKLMNP')}T",
            derivativeId=f"{rng.getrandbits(128):032x}",
        )
        record["advertiser"]["advertiserId"] = str(10_000_000 + n % 500)
        retail = record["adverts"]["retailAdverts"]
        price = rng.randint(2_000, 80_000)
        retail["suppliedPrice"] = {"amountGBP": price}
        retail["totalPrice"] = {"amountGBP": price + 199}
        record["adverts"]["reservationStatus"] = "Reserved" if rng.random() < 0.05 else None
        meta.update(
            stockId=f"{n:032x}", searchId=str(202605300000000 + n), externalStockId=f"DMS-{n:06d}",
            externalStockReference=f"STK{n}", versionNumber=rng.randint(1, 40),
            lifecycleState=rng.choice(LIFECYCLES),
        )
        record["media"]["images"] = [
            {"imageId": f"{n:028x}{i:04x}", "href": f"https://m.atcdn.co.uk/a/media/{{resize}}/{n:028x}{i:04x}.jpg"}
            for i in range(rng.randint(1, 12))
        ]
        records.append(record)
    return records


def changed_copy(records: list[dict[str, Any]], share: float, seed: int = 11) -> list[dict[str, Any]]:
    """The same records with `share` of them at a new version with a new price and mileage."""
    rng = random.Random(seed)
    out = []
    for record in records:
        if rng.random() < share:
            record = copy.deepcopy(record)
            record["metadata"]["versionNumber"] += 1
            retail = record["adverts"]["retailAdverts"]
            retail["totalPrice"] = {"amountGBP": retail["totalPrice"]["amountGBP"] - 250}
            record["vehicle"]["odometerReadingMiles"] += 120
        out.append(record)
    return out


def timed(fn):  # type: ignore[no-untyped-def]
    gc.collect()
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def _server_cpu(pid: int | None) -> float:
    """CPU seconds of a local PostgreSQL backend (utime + stime from /proc); 0 when unreadable."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_store(label: str, url: str, passes: list[tuple[str, list[dict[str, Any]]]]) -> list[tuple]:
    """Each pass in one transaction: wall seconds, our CPU seconds, the PostgreSQL backend's CPU seconds."""
    engine = create_store_engine(url)
    migrate.upgrade(engine)
    rows_out = []
    now = datetime(2026, 6, 3, 12, tzinfo=timezone.utc)
    try:
        for name, rows in passes:
            now += timedelta(hours=1)
            gc.collect()
            with transaction(engine) as conn:
                pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() if label == "postgresql" else None
                server_before, cpu_before, start = _server_cpu(pid), time.process_time(), time.perf_counter()
                result = apply_vehicles(conn, rows, cause="baseline", now=now, seen_in_baseline=True)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_before
            rows_out.append((label, name, len(rows), seconds, cpu, _server_cpu(pid) - server_before, result))
        with engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(vehicles)).scalar()
            changes = conn.execute(sa.select(sa.func.count()).select_from(vehicle_changes)).scalar()
        print(f"  {label}: {total} vehicles, {changes} change rows stored", flush=True)
    finally:
        engine.dispose()
    return rows_out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--pg-url", help="admin URL of a PostgreSQL server (a scratch database is created)")
    parser.add_argument("--skip-pandas", action="store_true")
    args = parser.parse_args()

    print(f"generating {args.records:,} records ...", flush=True)
    records = make_records(args.records)
    received = datetime(2026, 6, 3, 12, tzinfo=timezone.utc)

    cpu = time.process_time()
    batch, seconds = timed(lambda: autotrader.normalize_stock(records, received_at=received))
    cpu = time.process_time() - cpu
    print(f"\nnormalize_stock (per-record walk): {len(batch.rows):,} rows in {seconds:.2f} s wall, {cpu:.2f} s CPU "
          f"= {len(batch.rows) / seconds:,.0f} records/s; rejected {len(batch.rejected)}, "
          f"unknown values {sum(batch.unknown_values.values())}")
    if not args.skip_pandas:
        import pandas as pd

        frame, flat_seconds = timed(lambda: pd.json_normalize(records, max_level=3))
        print(f"pandas.json_normalize alone (flattening only, before any conversion): {flat_seconds:.2f} s "
              f"= {len(records) / flat_seconds:,.0f} records/s, {frame.shape[1]} columns")
        del frame

    changed = autotrader.normalize_stock(changed_copy(records, 0.10), received_at=received).rows
    passes = [("insert", batch.rows), ("10% changed", changed), ("unchanged", changed)]

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results += bench_store("sqlite", f"sqlite:///{Path(tmp) / 'bench.sqlite'}", passes)
    with ExitStack() as stack:
        admin_url = args.pg_url
        if admin_url is None:
            from tests.support.postgres import throwaway_postgres

            admin_url = stack.enter_context(throwaway_postgres())
        name = f"bench_{secrets.token_hex(4)}"
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        try:
            url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
            results += bench_store("postgresql", url, passes)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.dispose()

    print(f"\n{'store':<11} {'pass':<12} {'rows':>8} {'wall s':>7} {'rows/s':>7} {'our cpu':>7} {'pg cpu':>7} "
          f"{'created':>8} {'updated':>8} {'unchanged':>9} {'stale':>7} {'changes':>8}")
    for label, name, count, seconds, cpu, server, r in results:
        print(f"{label:<11} {name:<12} {count:>8,} {seconds:>7.2f} {count / seconds:>7,.0f} {cpu:>7.2f} "
              f"{server:>7.2f} {r.created:>8,} {r.updated:>8,} {r.unchanged:>9,} {r.stale:>7,} {r.changes:>8,}")
    print(f"\n{os.cpu_count()} cores; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(wall time grows with other work on the machine; CPU columns do not)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

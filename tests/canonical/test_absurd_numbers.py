"""Absurd numbers from a vendor (or a validly signed notification) never reach an integer or
numeric column: out of range or not in ASCII digits, they are flagged and left out, and the
vehicle is stored with the rest of its fields."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from dealer_pipeline.canonical import autotrader
from dealer_pipeline.canonical.apply import apply_vehicles
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.schema import vehicles
from tests.canonical.records import autotrader_record, variant

RECEIVED = datetime(2026, 6, 3, 12, 0, tzinfo=timezone.utc)
ABSURD = {
    "vehicle.doors": 2**70,
    "vehicle.seats": "١٢",  # Arabic-Indic digits: float() would take them
    "vehicle.engineCapacityCC": "1e30",
    "vehicle.co2EmissionGPKM": -(2**40),
    "vehicle.odometerReadingMiles": 1e300,
    "vehicle.enginePowerPS": 1e9,
    "adverts.retailAdverts.suppliedPrice.amountGBP": 2**70,
    "adverts.retailAdverts.totalPrice.amountGBP": "١٢٣٤٥",
    "metadata.versionNumber": 2**70,
}
COLUMNS = ("doors", "seats", "engine_cc", "co2_g_km", "mileage_km", "power_kw", "supplied_price_amount",
           "source_version")


def test_absurd_numbers_are_flagged_and_the_vehicle_is_stored(store: sa.Engine) -> None:
    record = autotrader_record()
    for path, value in ABSURD.items():
        record = variant(record, path, value)
    batch = autotrader.normalize_stock([record], received_at=RECEIVED)
    assert batch.rejected == []
    (row,) = batch.rows
    assert {column: row[column] for column in COLUMNS} == dict.fromkeys(COLUMNS)
    assert row["price_amount"] is None or row["price_amount"] < 10**12  # another advert price may stand in
    flagged = {name for name, _value in batch.unknown_values}
    assert {"doors", "seats", "engine_cc", "co2_g_km", "mileage_km", "power_kw", "price_amount",
            "source_version"} <= flagged
    with transaction(store) as conn:
        apply_vehicles(conn, batch.rows, cause="baseline", now=RECEIVED)
    with store.connect() as conn:
        stored = conn.execute(sa.select(vehicles)).mappings().one()
    assert stored["make"] == "Hyundai" and all(stored[column] is None for column in COLUMNS)


def test_the_largest_sensible_values_are_kept() -> None:
    record = autotrader_record()
    for path, value in {"vehicle.doors": 5, "vehicle.odometerReadingMiles": 999_999,
                        "adverts.retailAdverts.suppliedPrice.amountGBP": 999_999_999.99,
                        "metadata.versionNumber": 2**62}.items():
        record = variant(record, path, value)
    (row,) = autotrader.normalize_stock([record], received_at=RECEIVED).rows
    assert (row["doors"], row["mileage_km"], row["source_version"]) == (5, 1_609_342, 2**62)
    assert str(row["supplied_price_amount"]) == "999999999.99"

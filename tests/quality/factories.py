"""Realistic canonical rows for both markets, inserted straight into the store.

UK rows look like what the Autotrader normalizer writes (GBP, VIN and registration, lifecycle
states); Brazilian rows like the Webmotors one (BRL, Flex, `plate_final` only in the raw hit).
"""

from __future__ import annotations

import copy
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterable

import pandas as pd
import sqlalchemy as sa

from dealer_pipeline.paths import project_root
from dealer_pipeline.quality.identifiers import vin_check_digits
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.repository import insert_many
from dealer_pipeline.store.schema import dealers, sync_runs, vehicles

NOW = datetime(2026, 6, 2, 12, 0, tzinfo=timezone.utc)
UK_DEALER = "autotrader:10012345"
UK_DEALER_2 = "autotrader:10099887"
BR_DEALER = "webmotors:03347828000109"

_UK_MODELS = [
    ("Hyundai", "Tucson", "SE Nav", "TMAJ3815GJ", "EK18FUT", 2018, 72420, "10995", "petrol", "manual", 1591, 97.1),
    ("Ford", "Focus", "Titanium", "WF0NXXGCHN", "AB19CDE", 2019, 41200, "12495", "petrol", "manual", 999, 92.0),
    ("BMW", "X5", "xDrive30d M Sport", "5UXCR6C5XL", "LN70XYZ", 2020, 38800, "41950", "diesel", "automatic", 2993,
     210.0),
    ("Tesla", "Model 3", "Long Range", "5YJ3E7EB2M", "YH21TSL", 2021, 30500, "27990", "electric", "automatic", 0,
     324.0),
    ("Volkswagen", "Golf", "Life", "WVWZZZCDZM", "GF71VWG", 2021, 22000, "18750", "petrol", "manual", 1498, 96.0),
]
_BR_MODELS = [
    ("Honda", "Civic", "2.0 16V FLEXONE EXL 4P CVT", 2020, 2019, 45200, "89900.00", "flex", "automatic", "7"),
    ("Volkswagen", "Gol", "1.0 MPI", 2019, 2018, 61000, "42500.00", "flex", "manual", "3"),
    ("Toyota", "Corolla", "2.0 XEI 16V FLEX 4P AUTOMÁTICO", 2021, 2021, 30100, "119900.00", "flex", "automatic",
     "0"),
    ("Fiat", "Toro", "2.0 16V TURBO DIESEL VOLCANO 4WD AT9", 2022, 2021, 52000, "159900.00", "diesel", "automatic",
     "5"),
]
_VIN_SERIALS = "ABCDEFGHJK"


def _vin(prefix: str, index: int) -> str:
    """A 17-character VIN from a 10-character head; North-American heads (1-5) get a valid check digit."""
    body = prefix + _VIN_SERIALS[index % 10] + f"{100000 + index:06d}"
    if body[0] in "12345L":
        digit = vin_check_digits(pd.Series([body]))[0]
        body = body[:8] + digit + body[9:]
    return body


def uk_vehicle(index: int, dealer_id: str = UK_DEALER, **overrides: Any) -> dict[str, Any]:
    make, model, trim, vin_head, plate, year, km, price, fuel, gearbox, cc, kw = _UK_MODELS[index % len(_UK_MODELS)]
    stock_id = f"8a46844d9e4aa706019e7a88f05f{index:04x}"
    vin = _vin(vin_head, index)
    raw = {
        "vehicle": {"make": make, "model": model, "trim": trim, "vin": vin, "registration": plate,
                    "odometerReadingMiles": round(km / 1.609344), "fuelType": fuel.title()},
        "adverts": {"reservationStatus": None, "retailAdverts": {"totalPrice": {"amountGBP": int(price)}}},
        "metadata": {"stockId": stock_id, "lifecycleState": "FORECOURT", "versionNumber": 3},
        "media": {"images": [{"href": f"https://m.atcdn.co.uk/a/media/{{resize}}/{stock_id}-1.jpg"}]},
    }
    row = {
        "vehicle_id": f"autotrader:{stock_id}", "source": "autotrader", "source_vehicle_id": stock_id,
        "dealer_id": dealer_id, "search_id": f"2026053098{index:05d}", "vin": vin, "registration": plate,
        "make": make, "model": model, "trim": trim, "body_type": "Hatchback", "fuel_type": fuel,
        "source_fuel_type": fuel.title(), "transmission": gearbox, "source_transmission": gearbox.title(),
        "doors": 5, "seats": 5, "engine_cc": cc, "power_kw": Decimal(str(kw)), "co2_g_km": 0 if cc == 0 else 130,
        "colour": "Grey", "model_year": year, "mileage_km": km, "price_amount": Decimal(price),
        "price_currency": "GBP", "supplied_price_amount": Decimal(price), "admin_fee_amount": Decimal("0"),
        "vat_status": "No VAT", "lifecycle_state": "FORECOURT", "reservation_status": None,
        "availability": "available", "shown_on_dealer_site": True,
        "images": [f"https://m.atcdn.co.uk/a/media/w800/{stock_id}-{n}.jpg" for n in (1, 2, 3)],
        "features": [{"name": "Reversing camera", "type": "Standard"}], "source_version": 3,
        "source_updated_at": NOW - timedelta(days=1), "first_seen_at": NOW - timedelta(days=30),
        "updated_at": NOW - timedelta(days=1), "raw": raw,
    }
    row.update(overrides)
    return row


def br_vehicle(index: int, dealer_id: str = BR_DEALER, plate_final: str | None = None, **overrides: Any
               ) -> dict[str, Any]:
    make, model, version, year, made, km, price, fuel, gearbox, final = _BR_MODELS[index % len(_BR_MODELS)]
    ad_id = str(51234567 + index)
    hit = {
        "id": int(ad_id), "price": price, "photos": [f"https://img.example.com/{ad_id}/1.jpg"],
        "details": "Único dono, revisões na concessionária.",
        "vehicle": {"brand": {"name": make.upper()}, "model": {"name": model.upper()}, "version": {"name": version},
                    "year_manufacture": made, "year_model": year, "km": km, "color": {"name": "Prata"},
                    "plate_final": plate_final if plate_final is not None else final,
                    "acessories": {"name": ["Air bag", "Ar-condicionado"]},
                    "fuel": {"name": "Flex" if fuel == "flex" else "Diesel"},
                    "transmission": {"name": "CVT" if gearbox == "automatic" else "Manual"}, "doors": 4},
        "status": "Ativo", "updated_at": "2026-06-01T14:32:10Z",
    }
    row = {
        "vehicle_id": f"webmotors:{ad_id}", "source": "webmotors", "source_vehicle_id": ad_id, "dealer_id": dealer_id,
        "registration": None, "make": make, "model": model, "derivative": version, "fuel_type": fuel,
        "source_fuel_type": hit["vehicle"]["fuel"]["name"], "transmission": gearbox,
        "source_transmission": hit["vehicle"]["transmission"]["name"], "doors": 4, "colour": "Prata",
        "model_year": year, "manufacture_year": made, "mileage_km": km, "price_amount": Decimal(price),
        "price_currency": "BRL", "lifecycle_state": "Ativo", "availability": "available",
        "images": hit["photos"], "features": [{"name": "Air bag"}, {"name": "Ar-condicionado"}],
        "source_updated_at": NOW - timedelta(days=1), "first_seen_at": NOW - timedelta(days=20),
        "updated_at": NOW - timedelta(days=1), "raw": hit,
    }
    row.update(overrides)
    return row


def with_raw(row: dict[str, Any], path: Iterable[str], value: Any) -> dict[str, Any]:
    """A copy of `row` whose raw record has `value` at `path`."""
    row = dict(row, raw=copy.deepcopy(row["raw"]))
    *parents, leaf = list(path)
    node = row["raw"]
    for key in parents:
        node = node[key]
    node[leaf] = value
    return row


def insert_vehicles(engine: sa.Engine, rows: list[dict[str, Any]]) -> None:
    columns = sorted({key for row in rows for key in row})
    with transaction(engine) as conn:
        insert_many(conn, vehicles, [{c: row.get(c) for c in columns} for row in rows])


def insert_dealers(engine: sa.Engine, *entries: tuple[str, str]) -> None:
    with transaction(engine) as conn:
        insert_many(conn, dealers, [
            {"dealer_id": dealer_id, "source": dealer_id.split(":")[0], "source_dealer_id": dealer_id.split(":")[1],
             "name": name, "status": "active", "first_seen_at": NOW - timedelta(days=90), "updated_at": NOW,
             "raw": {"name": name}}
            for dealer_id, name in entries
        ])


def baseline(dealer_id: str, started: datetime, records: int | None, *, complete: bool = True,
             error: str | None = None) -> dict[str, Any]:
    return {
        "source": dealer_id.split(":")[0], "dealer_id": dealer_id, "kind": "baseline", "run_id": None,
        "started_at": started, "finished_at": started + timedelta(minutes=3) if complete else None,
        "complete": complete, "pages": 1 + (records or 0) // 100, "records": records, "created": 0, "updated": 0,
        "removed": 0, "error": error,
    }


def insert_baselines(engine: sa.Engine, runs: list[dict[str, Any]]) -> None:
    with transaction(engine) as conn:
        insert_many(conn, sync_runs, runs)


def documented_queries() -> list[str]:
    """The SQL blocks of the README's example questions (section "Asking the store questions in SQL")."""
    text = (project_root() / "README.md").read_text().split("## Asking the store questions in SQL", 1)[1].split("\n## ", 1)[0]
    return [block.strip().rstrip(";") for block in re.findall(r"```sql\n(.*?)```", text, re.DOTALL)]

"""Upserts round-trip on both dialects: JSON, unicode, Decimal money, aware timestamps."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from dealer_pipeline.store import repository
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.schema import dealers, vehicles

SAO_PAULO = timezone(timedelta(hours=-3))


def _vehicle(**overrides) -> dict:
    row = {
        "vehicle_id": "webmotors:51234567",
        "source": "webmotors",
        "source_vehicle_id": "51234567",
        "dealer_id": "webmotors:03347828000109",
        "make": "Citroën",
        "model": "C4 Cactus",
        "description": "Único dono, revisões na concessionária. Ação: ¿Sigue disponible? — año 2020",
        "price_amount": Decimal("89900.10"),
        "price_currency": "BRL",
        "first_registration_date": date(2019, 3, 29),
        "availability": "available",
        "shown_on_dealer_site": True,
        "images": ["https://img.example.com/1.jpg", "https://img.example.com/2.jpg"],
        "features": [{"name": "Ar-condicionado", "type": "Standard"}, {"name": "Direção elétrica"}],
        "raw": {"id": 51234567, "price": "89900.10", "vehicle": {"brand": {"name": "CITROËN"}}, "nested": [1, None]},
        "source_version": 3,
        "source_updated_at": datetime(2026, 1, 5, 14, 32, 10, tzinfo=SAO_PAULO),
        "first_seen_at": datetime(2026, 1, 5, 17, 0, tzinfo=timezone.utc),
        "updated_at": datetime(2026, 1, 5, 17, 0, tzinfo=timezone.utc),
    }
    row.update(overrides)
    return row


def _read(engine: sa.Engine, vehicle_id: str) -> sa.RowMapping:
    with engine.connect() as conn:
        row = repository.get_one(conn, vehicles, vehicle_id=vehicle_id)
    assert row is not None
    return row


def test_upsert_with_no_update_columns_keeps_existing_rows(store: sa.Engine) -> None:
    """An empty `update_columns` means insert-or-keep, never "update every column"."""
    with transaction(store) as conn:
        repository.upsert(conn, vehicles, [_vehicle()])
        repository.upsert(conn, vehicles, [_vehicle(make="Peugeot"), _vehicle(vehicle_id="webmotors:2",
                                                                              source_vehicle_id="2")],
                          update_columns=[])
    assert _read(store, "webmotors:51234567")["make"] == "Citroën"
    assert _read(store, "webmotors:2")["make"] == "Citroën"


def test_round_trip_preserves_types(store: sa.Engine) -> None:
    with transaction(store) as conn:
        assert repository.upsert(conn, vehicles, [_vehicle()]) == 1
    row = _read(store, "webmotors:51234567")
    assert row["make"] == "Citroën"
    assert row["description"].startswith("Único dono") and "¿Sigue disponible?" in row["description"]
    assert row["price_amount"] == Decimal("89900.10") and isinstance(row["price_amount"], Decimal)
    assert row["first_registration_date"] == date(2019, 3, 29)
    assert row["images"][1] == "https://img.example.com/2.jpg"
    assert row["features"][0] == {"name": "Ar-condicionado", "type": "Standard"}
    assert row["raw"]["vehicle"]["brand"]["name"] == "CITROËN" and row["raw"]["nested"] == [1, None]
    stamp = row["source_updated_at"]
    assert stamp.tzinfo is not None and stamp.utcoffset() == timedelta(0)
    assert stamp == datetime(2026, 1, 5, 17, 32, 10, tzinfo=timezone.utc)
    assert row["shown_on_dealer_site"] is True


def test_re_upsert_is_idempotent_and_conflict_updates_in_place(store: sa.Engine) -> None:
    with transaction(store) as conn:
        repository.upsert(conn, vehicles, [_vehicle()])
        repository.upsert(conn, vehicles, [_vehicle()])
    with transaction(store) as conn:
        repository.upsert(conn, vehicles, [_vehicle(price_amount=Decimal("87500.00"), model="C4 Cactus Shine")])
    with store.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(vehicles)).scalar_one()
    assert count == 1
    row = _read(store, "webmotors:51234567")
    assert row["price_amount"] == Decimal("87500.00")
    assert row["model"] == "C4 Cactus Shine"
    assert row["make"] == "Citroën"  # untouched columns keep their value


def test_conditional_upsert_keeps_the_newer_version(store: sa.Engine) -> None:
    newer_only = lambda new: vehicles.c.source_version < new.source_version  # noqa: E731
    with transaction(store) as conn:
        repository.upsert(conn, vehicles, [_vehicle(source_version=7, mileage_km=1000)], only_if=newer_only)
        repository.upsert(conn, vehicles, [_vehicle(source_version=5, mileage_km=500)], only_if=newer_only)
    assert _read(store, "webmotors:51234567")["mileage_km"] == 1000
    with transaction(store) as conn:
        repository.upsert(conn, vehicles, [_vehicle(source_version=8, mileage_km=1500)], only_if=newer_only)
    assert _read(store, "webmotors:51234567")["mileage_km"] == 1500


def test_batch_upsert_of_many_rows_and_reads_by_key(store: sa.Engine) -> None:
    rows = [_vehicle(vehicle_id=f"webmotors:{n}", source_vehicle_id=str(n), price_amount=Decimal(n) / 100)
            for n in range(1, 5001)]
    with transaction(store) as conn:
        repository.upsert(conn, vehicles, rows)
    with store.connect() as conn:
        found = repository.get_by_keys(conn, vehicles, ["webmotors:1", "webmotors:4999", "webmotors:nope"])
    assert set(found) == {"webmotors:1", "webmotors:4999"}
    assert found["webmotors:4999"]["price_amount"] == Decimal("49.99")


def test_naive_timestamps_are_refused(store: sa.Engine) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        with transaction(store) as conn:
            repository.upsert(conn, vehicles, [_vehicle(updated_at=datetime(2026, 1, 1))])


def test_transaction_rolls_back_on_error(store: sa.Engine) -> None:
    now = datetime.now(timezone.utc)
    dealer = {"dealer_id": "autotrader:1", "source": "autotrader", "source_dealer_id": "1", "status": "active",
              "first_seen_at": now, "updated_at": now}
    with pytest.raises(RuntimeError):
        with transaction(store) as conn:
            repository.upsert(conn, dealers, [dealer])
            raise RuntimeError("boom")
    with store.connect() as conn:
        assert repository.get_one(conn, dealers, dealer_id="autotrader:1") is None


def test_insert_ignore_reports_duplicates(store: sa.Engine) -> None:
    now = datetime.now(timezone.utc)
    dealer = {"dealer_id": "autotrader:2", "source": "autotrader", "source_dealer_id": "2", "status": "active",
              "first_seen_at": now, "updated_at": now}
    with transaction(store) as conn:
        assert repository.insert_ignore(conn, dealers, dealer, ["dealer_id"]) is True
        assert repository.insert_ignore(conn, dealers, dealer, ["dealer_id"]) is False


def test_sqlite_runs_in_wal_mode(store: sa.Engine, backend: str) -> None:
    with store.connect() as conn:
        if backend == "sqlite":
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
        else:
            assert conn.exec_driver_sql("SHOW server_encoding").scalar() == "UTF8"

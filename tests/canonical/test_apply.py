"""Applying canonical rows to the store, on SQLite and PostgreSQL: change rows, ordering, removal."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Iterator

import pytest
import sqlalchemy as sa

from dealer_pipeline.canonical import apply as apply_module
from dealer_pipeline.canonical import apply_vehicles, autotrader, bulk, mark_missing_removed, upsert_dealers, webmotors
from dealer_pipeline.store import repository
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.schema import dealers, vehicle_changes, vehicles
from tests.canonical.records import autotrader_advertiser, autotrader_record, variant, webmotors_hit

T0 = datetime(2026, 6, 3, 12, 0, tzinfo=timezone.utc)
STOCK_ID = "8a46844d9e4aa706019e7a88f05f4808"
VID = f"autotrader:{STOCK_ID}"


#: Both stores through `repository.upsert`, and PostgreSQL once more through COPY from the first row.
WRITE_PATHS = pytest.mark.parametrize(
    ("backend", "write_path"), [("sqlite", "statement"), ("postgresql", "statement"), ("postgresql", "copy")]
)


@pytest.fixture
def writes(write_path: str, backend: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Forces the write path under test, and checks afterwards that COPY ran exactly when intended."""
    monkeypatch.setattr(apply_module, "COPY_MIN_ROWS", 1 if write_path == "copy" else 10**9)
    copies: list[int] = []
    real_copy = bulk.copy_upsert

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        copies.append(1)
        return real_copy(*args, **kwargs)

    monkeypatch.setattr(bulk, "copy_upsert", counted)
    yield write_path
    assert bool(copies) == (write_path == "copy"), f"COPY used {len(copies)} times on the {write_path} path"


def _rows(*records: dict) -> list[dict]:
    batch = autotrader.normalize_stock(list(records), received_at=T0)
    assert not batch.rejected
    return batch.rows


def _apply(store: sa.Engine, rows: list[dict], *, cause: str = "baseline", now: datetime = T0, **kwargs):
    with transaction(store) as conn:
        return apply_vehicles(conn, rows, cause=cause, now=now, **kwargs)


def _vehicle(store: sa.Engine, vehicle_id: str = VID) -> sa.RowMapping:
    with store.connect() as conn:
        row = repository.get_one(conn, vehicles, vehicle_id=vehicle_id)
    assert row is not None
    return row


def _changes(store: sa.Engine) -> list[sa.RowMapping]:
    with store.connect() as conn:
        return list(conn.execute(sa.select(vehicle_changes).order_by(vehicle_changes.c.id)).mappings())


@WRITE_PATHS
def test_insert_creates_the_vehicle_with_every_column(store: sa.Engine, writes: str) -> None:
    record = autotrader_record()
    result = _apply(store, _rows(record), seen_in_baseline=True)
    assert (result.created, result.updated, result.unchanged, result.stale, result.changes) == (1, 0, 0, 0, 0)
    assert result.created_ids == {VID} and result.outcomes == ["created"]
    assert {"derivative_id", "features", "price_amount"} <= result.changed_fields[VID]
    stored = _vehicle(store)
    assert stored["price_amount"] == Decimal("11194.00") and stored["power_kw"] == Decimal("97.1")
    assert stored["mileage_km"] == 72420 and stored["shown_on_dealer_site"] is True
    assert stored["images"][0].endswith("/w800/6f1d2c3b4a5e4d6f8a9b0c1d2e3f4a5b.jpg")
    assert stored["features"][1]["genericName"] == "Sunroof" and stored["raw"] == record
    assert stored["first_seen_at"] == T0 == stored["updated_at"] == stored["last_seen_in_baseline_at"]
    assert stored["source_version"] == 7
    assert _changes(store) == []


@WRITE_PATHS
def test_at_upd_change_writes_one_row_per_changed_field(store: sa.Engine, writes: str) -> None:
    _apply(store, _rows(autotrader_record()))
    changed = autotrader_record(versionNumber=8)
    changed["adverts"]["retailAdverts"]["totalPrice"] = {"amountGBP": 10795}
    changed["vehicle"]["odometerReadingMiles"] = 45100
    changed["adverts"]["retailAdverts"]["attentionGrabber"] = "Price drop"
    changed["features"][0]["rarityRating"] = 3
    later = T0 + timedelta(hours=1)
    result = _apply(store, _rows(changed), cause="notification", now=later)
    assert (result.created, result.updated, result.unchanged, result.stale) == (0, 1, 0, 0)
    assert result.changed_fields == {VID: {"price_amount", "mileage_km", "attention_grabber", "features"}}
    rows = {row["field"]: row for row in _changes(store)}
    assert set(rows) == {"price_amount", "mileage_km", "attention_grabber", "features"} and result.changes == 4
    assert (rows["price_amount"]["old_value"], rows["price_amount"]["new_value"]) == ("11194.00", "10795.00")
    assert (rows["mileage_km"]["old_value"], rows["mileage_km"]["new_value"]) == ("72420", "72581")
    assert json.loads(rows["attention_grabber"]["new_value"]) == "Price drop"
    assert json.loads(rows["features"]["new_value"])[0]["rarityRating"] == 3
    assert json.loads(rows["features"]["old_value"])[0]["rarityRating"] is None
    for row in rows.values():
        assert row["cause"] == "notification" and row["source_version"] == 8 and row["changed_at"] == later
    stored = _vehicle(store)
    assert stored["price_amount"] == Decimal("10795.00") and stored["source_version"] == 8
    assert stored["updated_at"] == later and stored["first_seen_at"] == T0
    assert stored["raw"]["metadata"]["versionNumber"] == 8


def test_reapplying_the_same_rows_is_idempotent(store: sa.Engine) -> None:
    records = [autotrader_record(), webmotors_hit()]
    at_rows = _rows(records[0])
    wm_rows = webmotors.normalize_stock([records[1]], dealer_id="webmotors:03347828000109", received_at=T0).rows
    first = _apply(store, at_rows + wm_rows)
    assert first.created == 2
    again = _apply(store, at_rows + wm_rows, now=T0 + timedelta(hours=1))
    assert again.changes == 0 and again.created == 0 and again.updated == 0
    assert again.outcomes == ["stale", "unchanged"]  # equal version = duplicate; Webmotors content unchanged
    assert again.duplicates == 1
    assert _changes(store) == []
    assert _vehicle(store, "webmotors:51234567")["updated_at"] == T0


def test_stale_version_is_ignored_and_counted(store: sa.Engine) -> None:
    _apply(store, _rows(autotrader_record(versionNumber=7)))
    older = variant(autotrader_record(versionNumber=5), "adverts.retailAdverts.totalPrice", {"amountGBP": 1})
    result = _apply(store, _rows(older))
    assert (result.stale, result.duplicates, result.updated, result.changes) == (1, 0, 0, 0)
    assert result.outcomes == ["stale"]
    assert _vehicle(store)["price_amount"] == Decimal("11194.00")


def test_equal_version_with_other_content_is_a_duplicate(store: sa.Engine) -> None:
    _apply(store, _rows(autotrader_record(versionNumber=7)))
    same_version = variant(autotrader_record(versionNumber=7), "vehicle.colour", "Red")
    result = _apply(store, _rows(same_version))
    assert (result.stale, result.duplicates, result.changes) == (1, 1, 0)
    assert _vehicle(store)["colour"] == "Grey"


@WRITE_PATHS
def test_out_of_order_v7_v5_v8(store: sa.Engine, writes: str) -> None:
    def priced(version: int, price: int) -> dict:
        return variant(autotrader_record(versionNumber=version), "adverts.retailAdverts.totalPrice",
                       {"amountGBP": price})

    outcomes = []
    for version, price in ((7, 11000), (5, 9000), (8, 12000)):
        outcomes += _apply(store, _rows(priced(version, price)), cause="notification").outcomes
    assert outcomes == ["created", "stale", "updated"]
    assert [(c["old_value"], c["new_value"], c["source_version"]) for c in _changes(store)] == [
        ("11000.00", "12000.00", 8)
    ]
    assert _vehicle(store)["source_version"] == 8


@WRITE_PATHS
def test_several_versions_in_one_call_apply_in_order(store: sa.Engine, writes: str) -> None:
    rows = _rows(
        variant(autotrader_record(versionNumber=7), "vehicle.colour", "Grey"),
        variant(autotrader_record(versionNumber=9), "vehicle.colour", "Blue"),
        variant(autotrader_record(versionNumber=8), "vehicle.colour", "Red"),
        variant(autotrader_record(versionNumber=10), "vehicle.colour", "Black"),
    )
    result = _apply(store, rows, cause="notification")
    assert result.outcomes == ["created", "updated", "stale", "updated"]
    assert [(c["old_value"], c["new_value"]) for c in _changes(store)] == [
        ('"Grey"', '"Blue"'), ('"Blue"', '"Black"')
    ]
    assert _vehicle(store)["colour"] == "Black"


def test_at_avail_2_lifecycle_changes_availability(store: sa.Engine) -> None:
    _apply(store, _rows(autotrader_record()))
    reserved = variant(autotrader_record(versionNumber=8), "adverts.reservationStatus", "Reserved")
    _apply(store, _rows(reserved), cause="notification")
    _apply(store, _rows(autotrader_record(versionNumber=9, lifecycleState="SOLD")), cause="notification")
    history = [(c["field"], c["new_value"]) for c in _changes(store) if c["field"] == "availability"]
    assert history == [("availability", '"reserved"'), ("availability", '"sold"')]
    assert _vehicle(store)["availability"] == "sold" and _vehicle(store)["lifecycle_state"] == "SOLD"


def test_refined_rows_leave_absent_sections_alone(store: sa.Engine) -> None:
    _apply(store, _rows(autotrader_record()))
    refined = autotrader_record(versionNumber=8)
    for section in ("media", "features", "highlights"):
        del refined[section]
    result = _apply(store, _rows(refined))
    assert result.changes == 0 and result.outcomes == ["unchanged"]
    stored = _vehicle(store)
    assert len(stored["images"]) == 1 and len(stored["features"]) == 2 and stored["source_version"] == 8


@WRITE_PATHS
def test_webmotors_older_updated_at_never_overwrites(store: sa.Engine, writes: str) -> None:
    dealer = "webmotors:03347828000109"

    def rows(updated_at: str, price: str) -> list[dict]:
        return webmotors.normalize_stock([webmotors_hit(updated_at=updated_at, price=price)], dealer_id=dealer,
                                         received_at=T0).rows

    assert _apply(store, rows("2026-01-05T14:32:10Z", "89900.00")).created == 1
    assert _apply(store, rows("2026-01-04T10:00:00Z", "80000.00")).outcomes == ["stale"]
    assert _apply(store, rows("2026-01-05T14:32:10Z", "88900.00")).outcomes == ["updated"]  # same second: applies
    assert _apply(store, rows("2026-01-06T08:00:00Z", "87900.00")).outcomes == ["updated"]
    assert [c["new_value"] for c in _changes(store)] == ["88900.00", "87900.00"]
    assert _vehicle(store, "webmotors:51234567")["price_amount"] == Decimal("87900.00")


@WRITE_PATHS
def test_mark_missing_removed_and_revival(store: sa.Engine, writes: str) -> None:
    ids = [f"{n:032x}" for n in range(1, 5)]
    records = [autotrader_record(stockId=stock_id) for stock_id in ids]
    records[3] = autotrader_record(stockId=ids[3], lifecycleState="DELETED")
    other_dealer = variant(autotrader_record(stockId="f" * 32), "advertiser.advertiserId", "999")
    _apply(store, _rows(*records, other_dealer))
    later = T0 + timedelta(days=1)
    with transaction(store) as conn:
        removed = mark_missing_removed(
            conn, dealer_id="autotrader:10012345", source="autotrader",
            present_vehicle_ids={autotrader.vehicle_id(ids[0])}, cause="baseline", now=later,
        )
    assert removed == 2  # ids[1], ids[2]; ids[3] is already removed, the other dealer untouched
    assert [_vehicle(store, autotrader.vehicle_id(i))["availability"] for i in ids] == [
        "available", "removed", "removed", "removed"]
    assert _vehicle(store, autotrader.vehicle_id("f" * 32))["availability"] == "available"
    changes = _changes(store)
    assert sorted(c["vehicle_id"] for c in changes) == sorted(autotrader.vehicle_id(i) for i in ids[1:3])
    assert {(c["field"], c["old_value"], c["new_value"], c["cause"], c["source_version"]) for c in changes} == {
        ("availability", '"available"', '"removed"', "baseline", 7)}
    # listed again at the same version: the vendor still has it, so it comes back
    result = _apply(store, _rows(records[1]), now=later + timedelta(days=1))
    assert result.outcomes == ["updated"]
    assert _vehicle(store, autotrader.vehicle_id(ids[1]))["availability"] == "available"


def test_seen_in_baseline_stamps_unchanged_and_stale_rows(store: sa.Engine) -> None:
    _apply(store, _rows(autotrader_record()), seen_in_baseline=True)
    later = T0 + timedelta(hours=6)
    result = _apply(store, _rows(autotrader_record()), now=later, seen_in_baseline=True)
    assert result.outcomes == ["stale"]
    stored = _vehicle(store)
    assert stored["last_seen_in_baseline_at"] == later and stored["updated_at"] == T0


def test_rows_that_are_not_vehicle_rows_are_refused(store: sa.Engine) -> None:
    row = _rows(autotrader_record())[0]
    for bad in ({**row, "colour_name": "Grey"}, {k: v for k, v in row.items() if k != "dealer_id"}):
        try:
            _apply(store, [bad])
        except ValueError as exc:
            assert VID in str(exc)
        else:
            raise AssertionError("a malformed row was accepted")
    with store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(vehicles)).scalar() == 0


def test_at_advn_3_dealers_upsert_honours_source_time(store: sa.Engine) -> None:
    record = autotrader_advertiser()
    listed = autotrader.normalize_advertiser(record, received_at=T0)
    renamed = autotrader.normalize_advertiser({**record, "name": "Example Motors Group"}, received_at=T0,
                                              source_updated_at=T0 + timedelta(minutes=5))
    late_old = autotrader.normalize_advertiser({**record, "name": "Old Name"}, received_at=T0,
                                               source_updated_at=T0 - timedelta(minutes=5))
    later = T0 + timedelta(hours=1)
    with transaction(store) as conn:
        assert upsert_dealers(conn, [listed], now=T0) == 1
    with transaction(store) as conn:
        assert upsert_dealers(conn, [renamed, late_old], now=later) == 1
    with transaction(store) as conn:
        assert upsert_dealers(conn, [renamed], now=later) == 0  # same time: a duplicate
    with store.connect() as conn:
        stored = repository.get_one(conn, dealers, dealer_id="autotrader:10012345")
    assert stored["name"] == "Example Motors Group" and stored["status"] == "active"
    assert stored["first_seen_at"] == T0 and stored["updated_at"] == later
    assert stored["source_updated_at"] == T0 + timedelta(minutes=5)
    assert stored["raw"]["name"] == "Example Motors Group"


@WRITE_PATHS
def test_awkward_values_round_trip(store: sa.Engine, writes: str) -> None:
    """Tabs, newlines, backslashes, quotes and accents survive both write paths unchanged."""
    text = 'Tab\there, line\nbreak, CR\r, back\\slash \\N, "quoted", Único dono — ¿sí?'
    record = autotrader_record()
    retail = record["adverts"]["retailAdverts"]
    retail["description"] = text
    retail["attentionGrabber"] = "\\N"
    record["features"][0]["name"] = text
    record["vehicle"]["trim"] = ""
    _apply(store, _rows(record))
    stored = _vehicle(store)
    assert stored["description"] == text and stored["attention_grabber"] == "\\N"
    assert stored["features"][0]["name"] == text and stored["raw"] == record
    assert stored["trim"] is None and stored["description2"] == "Finance available. Part exchange welcome."
    assert stored["shown_on_dealer_site"] is True and stored["spin_url"] is None


@WRITE_PATHS
def test_sql_guard_keeps_the_newer_row_against_a_late_writer(store: sa.Engine, writes: str) -> None:
    """The upsert's own condition stops an older version even when the Python diff was bypassed."""
    _apply(store, _rows(autotrader_record(versionNumber=9)))
    (late,) = _rows(variant(autotrader_record(versionNumber=4), "vehicle.colour", "Pink"))
    with transaction(store) as conn:
        full = {**apply_module._EMPTY_VEHICLE, **late, "first_seen_at": T0, "updated_at": T0}
        apply_module._write(conn, [full])
    stored = _vehicle(store)
    assert stored["colour"] == "Grey" and stored["source_version"] == 9


@WRITE_PATHS
def test_duplicates_then_a_newer_version_in_one_call(store: sa.Engine, writes: str) -> None:
    _apply(store, _rows(autotrader_record(versionNumber=7)))
    rows = _rows(
        autotrader_record(versionNumber=7),
        variant(autotrader_record(versionNumber=6), "vehicle.colour", "Red"),
        variant(autotrader_record(versionNumber=8), "vehicle.colour", "Blue"),
        variant(autotrader_record(versionNumber=8), "vehicle.colour", "Green"),
    )
    result = _apply(store, rows, cause="notification")
    assert result.outcomes == ["stale", "stale", "updated", "stale"]
    assert (result.stale, result.duplicates, result.changes) == (3, 2, 1)
    assert _vehicle(store)["colour"] == "Blue"


def test_concurrent_writer_waits_for_the_row_lock_and_sees_the_newer_version(store: sa.Engine) -> None:
    """v9 and v8 applied at once from two connections: the v8 writer waits, then finds v9 and stays stale."""
    _apply(store, _rows(autotrader_record(versionNumber=7)))
    v9 = _rows(variant(autotrader_record(versionNumber=9), "vehicle.colour", "Blue"))
    v8 = _rows(variant(autotrader_record(versionNumber=8), "vehicle.colour", "Red"))
    v9_applied, results = threading.Event(), {}

    def late_writer() -> None:
        v9_applied.wait(10)
        results["v8"] = _apply(store, v8, cause="notification")

    thread = threading.Thread(target=late_writer)
    thread.start()
    with transaction(store) as conn:
        results["v9"] = apply_vehicles(conn, v9, cause="notification", now=T0)
        v9_applied.set()
        time.sleep(0.3)  # the late writer is now blocked on our row lock (PostgreSQL) or write lock (SQLite)
    thread.join(30)
    assert results["v9"].outcomes == ["updated"] and results["v8"].outcomes == ["stale"]
    assert [(c["new_value"], c["source_version"]) for c in _changes(store)] == [('"Blue"', 9)]
    assert _vehicle(store)["colour"] == "Blue"

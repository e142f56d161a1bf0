"""The Autotrader normalizer on the contract's complete stock item and variations of it."""

from __future__ import annotations

import copy
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from dealer_pipeline.canonical import autotrader
from dealer_pipeline.canonical.model import ROW_COLUMNS
from dealer_pipeline.canonical.vocabulary import FUEL_TYPES, TRANSMISSIONS
from tests.canonical.records import autotrader_advertiser, autotrader_record, variant

RECEIVED = datetime(2026, 6, 3, 12, 0, tzinfo=timezone.utc)


def _one(record: dict, **kwargs) -> dict:
    batch = autotrader.normalize_stock([record], received_at=RECEIVED, **kwargs)
    assert batch.rejected == []
    (row,) = batch.rows
    return row


def test_at_create_2_full_record_maps_every_field_group() -> None:
    record = autotrader_record()
    row = _one(record)
    assert set(row) <= set(ROW_COLUMNS)
    # identifiers (AT-CREATE-2, AT-BASE-3)
    assert row["vehicle_id"] == "autotrader:8a46844d9e4aa706019e7a88f05f4808"
    assert row["source_vehicle_id"] == "8a46844d9e4aa706019e7a88f05f4808"
    assert row["search_id"] == "202605309845233"
    assert row["dealer_id"] == "autotrader:10012345"
    assert (row["external_stock_id"], row["external_stock_reference"]) == ("DMS-000417", "STK417")
    # vehicle (AT-UPD-VEHICLE)
    assert (row["make"], row["model"], row["trim"]) == ("Hyundai", "Tucson", "SE Nav")
    assert row["derivative_id"] == "35eef09b60b1422b8d4902aa22f841cd"
    assert (row["vin"], row["registration"]) == ("TMAJ3815GJJ000000", "EK18FUT")
    assert (row["doors"], row["seats"], row["engine_cc"], row["co2_g_km"]) == (5, 5, 1591, 147)
    assert row["first_registration_date"] == date(2018, 3, 29)
    assert row["model_year"] == 2018 and row["colour"] == "Grey" and row["body_type"] == "SUV"
    assert (row["vehicle_type"], row["condition"]) == ("Car", "used")
    # unit conversions: 45,000 miles, 132 PS
    assert row["mileage_km"] == 72420
    assert row["power_kw"] == Decimal("97.1")
    # price (AT-UPD-PRICE): total price wins over the forecourt price
    assert row["price_amount"] == Decimal("11194") and row["price_currency"] == "GBP"
    assert row["supplied_price_amount"] == Decimal("10995") and row["admin_fee_amount"] == Decimal("199")
    assert row["vat_status"] == "No VAT"
    # advert (AT-UPD-ADVERT)
    assert row["attention_grabber"] == "Full service history"
    assert row["description"].startswith("Great-value family SUV")
    assert row["description2"] == "Finance available. Part exchange welcome."
    assert row["price_indicator_rating"] == "GOOD"
    # availability (AT-AVAIL-1/2)
    assert row["availability"] == "available" and row["lifecycle_state"] == "FORECOURT"
    assert row["shown_on_dealer_site"] is True
    # media (AT-UPD-MEDIA)
    assert row["images"] == ["https://m.atcdn.co.uk/a/media/w800/6f1d2c3b4a5e4d6f8a9b0c1d2e3f4a5b.jpg"]
    assert row["video_url"] == "https://www.youtube.com/watch?v=XXXXXXXXXXX" and row["spin_url"] is None
    # features and highlights (AT-UPD-FEATURES, AT-UPD-HIGHLIGHTS)
    assert [f["name"] for f in row["features"]] == ["Reversing camera", "Panoramic sunroof"]
    assert row["features"][1] == {
        "name": "Panoramic sunroof", "genericName": "Sunroof", "type": "Optional", "category": "Exterior",
        "basicPrice": 750, "vatPrice": 900, "factoryFitted": True, "rarityRating": None, "valueRating": None,
    }
    assert row["highlights"] == [{"name": "Low mileage"}]
    # ordering and provenance
    assert row["source_version"] == 7
    assert row["source_updated_at"] == datetime(2026, 6, 2, 9, 14, 3, 120000, tzinfo=timezone.utc)
    assert row["raw"] is record


def test_image_size_is_a_parameter() -> None:
    row = _one(autotrader_record(), image_size="w1024h768")
    assert row["images"] == ["https://m.atcdn.co.uk/a/media/w1024h768/6f1d2c3b4a5e4d6f8a9b0c1d2e3f4a5b.jpg"]


@pytest.mark.parametrize(
    ("miles", "km"), [(0, 0), (1, 2), (45000, 72420), (12345, 19867), (99999.6, 160934), ("1000", 1609)]
)
def test_miles_to_km(miles, km) -> None:
    assert _one(variant(autotrader_record(), "vehicle.odometerReadingMiles", miles))["mileage_km"] == km


def test_power_prefers_ps_then_bhp() -> None:
    record = autotrader_record()
    assert _one(record)["power_kw"] == Decimal("97.1")  # 132 PS * 0.73549875 = 97.0858
    no_ps = variant(record, "vehicle.enginePowerPS", None)
    assert _one(no_ps)["power_kw"] == Decimal("96.9")  # 130 BHP * 0.745699872 = 96.941
    neither = variant(no_ps, "vehicle.enginePowerBHP", None)
    assert _one(neither)["power_kw"] is None


def test_forecourt_price_when_no_retail_total() -> None:
    record = variant(autotrader_record(), "adverts.retailAdverts.totalPrice", {"amountGBP": None})
    row = _one(record)
    assert row["price_amount"] == Decimal("10995") and row["price_currency"] == "GBP"


@pytest.mark.parametrize(
    ("vendor", "canonical"),
    [
        ("Petrol", "petrol"), ("Diesel", "diesel"), ("Electric", "electric"),
        ("Petrol Hybrid", "hybrid"), ("Diesel Hybrid", "hybrid"),
        ("Petrol Plug-in Hybrid", "plugin_hybrid"), ("Diesel Plug-in Hybrid", "plugin_hybrid"),
        ("Elec/Pet Range Ext", "plugin_hybrid"), ("Bi Fuel", "lpg_cng"), ("Hydrogen", "hydrogen"),
        ("PETROL PLUG-IN HYBRID", "plugin_hybrid"),
    ],
)
def test_every_fuel_type(vendor: str, canonical: str) -> None:
    batch = autotrader.normalize_stock([variant(autotrader_record(), "vehicle.fuelType", vendor)], received_at=RECEIVED)
    assert batch.rows[0]["fuel_type"] == canonical and canonical in FUEL_TYPES
    assert batch.rows[0]["source_fuel_type"] == vendor
    assert not batch.unknown_values


@pytest.mark.parametrize(("vendor", "canonical"), [("Manual", "manual"), ("Automatic", "automatic")])
def test_every_transmission(vendor: str, canonical: str) -> None:
    row = _one(variant(autotrader_record(), "vehicle.transmissionType", vendor))
    assert row["transmission"] == canonical and canonical in TRANSMISSIONS


def test_unknown_enum_values_become_other_and_are_counted() -> None:
    records = [
        variant(autotrader_record(), "vehicle.fuelType", "Steam"),
        variant(variant(autotrader_record(stockId="b" * 32), "vehicle.fuelType", "Steam"),
                "vehicle.transmissionType", "Sequential"),
        autotrader_record(stockId="c" * 32, lifecycleState="IN_TRANSIT"),
    ]
    batch = autotrader.normalize_stock(records, received_at=RECEIVED)
    assert len(batch.rows) == 3 and batch.rejected == []
    steam, sequential, transit = batch.rows
    assert steam["fuel_type"] == "other" and steam["source_fuel_type"] == "Steam"
    assert sequential["transmission"] == "other" and sequential["source_transmission"] == "Sequential"
    # an unknown lifecycle state is kept as text; availability follows the other fields
    assert transit["lifecycle_state"] == "IN_TRANSIT" and transit["availability"] == "available"
    assert batch.unknown_values == {
        ("fuel_type", "Steam"): 2, ("transmission", "Sequential"): 1, ("lifecycle_state", "IN_TRANSIT"): 1,
    }


@pytest.mark.parametrize(
    ("lifecycle", "reservation", "availability"),
    [
        ("FORECOURT", None, "available"), ("DUE_IN", None, "available"), ("SALE_IN_PROGRESS", None, "available"),
        ("FORECOURT", "Reserved", "reserved"), ("SOLD", None, "sold"), ("SOLD", "Reserved", "sold"),
        ("WASTEBIN", None, "removed"), ("DELETED", "Reserved", "removed"),
    ],
)
def test_at_avail_2_availability_from_lifecycle_and_reservation(lifecycle, reservation, availability) -> None:
    record = variant(autotrader_record(lifecycleState=lifecycle), "adverts.reservationStatus", reservation)
    row = _one(record)
    assert row["availability"] == availability and row["lifecycle_state"] == lifecycle


@pytest.mark.parametrize(("status", "shown"), [("PUBLISHED", True), ("NOT_PUBLISHED", False), ("REJECTED", False)])
def test_at_avail_1_dealer_site_visibility(status: str, shown: bool) -> None:
    row = _one(variant(autotrader_record(), "adverts.retailAdverts.advertiserAdvert.status", status))
    assert row["shown_on_dealer_site"] is shown


def test_missing_advertiser_advert_gives_unknown_visibility() -> None:
    record = autotrader_record()
    del record["adverts"]["retailAdverts"]["advertiserAdvert"]
    assert _one(record)["shown_on_dealer_site"] is None


def test_refined_record_keeps_what_is_there_and_omits_the_rest() -> None:
    """Sections turned off by refinement flags leave their columns out (the stored values stand)."""
    record = autotrader_record()
    for section in ("advertiser", "adverts", "media", "features", "highlights", "history", "check",
                    "valuations", "responseMetrics", "links"):
        record.pop(section)
    row = _one(record, advertiser_id="10012345")
    assert row["dealer_id"] == "autotrader:10012345"
    assert row["make"] == "Hyundai" and row["mileage_km"] == 72420
    for absent in ("price_amount", "price_currency", "shown_on_dealer_site", "images", "video_url", "features",
                   "highlights", "description"):
        assert absent not in row
    assert row["availability"] == "available"


def test_missing_vehicle_section() -> None:
    record = autotrader_record()
    del record["vehicle"]
    row = _one(record)
    assert "make" not in row and "fuel_type" not in row
    assert row["price_amount"] == Decimal("11194")


def test_record_without_stock_id_is_rejected_with_a_reason() -> None:
    no_id = autotrader_record()
    del no_id["metadata"]["stockId"]
    no_metadata = autotrader_record()
    del no_metadata["metadata"]
    good = autotrader_record()
    batch = autotrader.normalize_stock([no_id, good, no_metadata, "not a record"], received_at=RECEIVED)
    assert [row["vehicle_id"] for row in batch.rows] == ["autotrader:8a46844d9e4aa706019e7a88f05f4808"]
    reasons = [reason for _, reason in batch.rejected]
    assert len(reasons) == 3
    assert "stockId" in reasons[0] and "stockId" in reasons[1] and "JSON object" in reasons[2]
    assert batch.rejected[0][0] is no_id


def test_no_advertiser_anywhere_is_rejected() -> None:
    record = autotrader_record()
    del record["advertiser"]
    batch = autotrader.normalize_stock([record], received_at=RECEIVED)
    assert batch.rows == [] and "advertiserId" in batch.rejected[0][1]


def test_malformed_fields_cost_only_that_field() -> None:
    record = autotrader_record()
    record["vehicle"]["doors"] = "five"
    record["vehicle"]["firstRegistrationDate"] = "29/03/2018"
    record["adverts"]["retailAdverts"]["totalPrice"] = {"amountGBP": "11,194"}
    record["adverts"]["retailAdverts"]["adminFee"] = {"amountGBP": -199}
    record["media"]["images"].append({"imageId": "x"})
    row = _one(record)
    assert row["doors"] is None and row["first_registration_date"] is None
    assert row["price_amount"] == Decimal("10995")  # falls back to the forecourt price
    assert len(row["images"]) == 1 and row["make"] == "Hyundai"
    batch = autotrader.normalize_stock([record], received_at=RECEIVED)
    assert batch.unknown_values[("doors", "five")] == 1
    assert batch.unknown_values[("first_registration_date", "29/03/2018")] == 1
    assert batch.unknown_values[("price_amount", "11,194")] == 1
    assert batch.unknown_values[("admin_fee_amount", "-199")] == 1 and row["admin_fee_amount"] is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-02T09:14:03Z", datetime(2026, 6, 2, 9, 14, 3, tzinfo=timezone.utc)),
        ("2026-06-02T09:14:03.1Z", datetime(2026, 6, 2, 9, 14, 3, 100000, tzinfo=timezone.utc)),
        ("2026-06-02T09:14:03.123456789Z", datetime(2026, 6, 2, 9, 14, 3, 123456, tzinfo=timezone.utc)),
        ("2026-06-02T10:14:03.5+01:00", datetime(2026, 6, 2, 9, 14, 3, 500000, tzinfo=timezone.utc)),
    ],
)
def test_last_updated_with_variable_fraction_digits(text: str, expected: datetime) -> None:
    assert _one(autotrader_record(lastUpdated=text))["source_updated_at"] == expected


def test_future_timestamp_is_clamped_and_flagged() -> None:
    batch = autotrader.normalize_stock([autotrader_record(lastUpdated="2099-01-01T00:00:00Z")], received_at=RECEIVED)
    assert batch.rows[0]["source_updated_at"] == RECEIVED
    assert batch.unknown_values[("source_updated_at", "2099-01-01T00:00:00Z")] == 1


def test_normalizing_does_not_modify_the_record() -> None:
    record = autotrader_record()
    before = copy.deepcopy(record)
    _one(record)
    assert record == before


def test_vehicle_id() -> None:
    assert autotrader.vehicle_id("abc") == "autotrader:abc"


def test_at_advn_3_advertiser_to_dealer_row() -> None:
    record = autotrader_advertiser()
    row = autotrader.normalize_advertiser(record, received_at=RECEIVED)
    assert row["dealer_id"] == "autotrader:10012345" and row["source_dealer_id"] == "10012345"
    assert (row["name"], row["status"], row["segment"], row["postcode"]) == (
        "Example Motors Ltd", "active", "Independent", "M1 1AA")
    assert row["source_updated_at"] == RECEIVED and row["raw"] is record
    at = datetime(2026, 6, 3, 11, 0, tzinfo=timezone.utc)
    notified = autotrader.normalize_advertiser(record, received_at=RECEIVED, source_updated_at=at)
    assert notified["source_updated_at"] == at
    with pytest.raises(ValueError, match="advertiserId"):
        autotrader.normalize_advertiser({"name": "No Id Motors"}, received_at=RECEIVED)


def test_null_sections_count_as_not_sent_but_empty_lists_clear() -> None:
    record = autotrader_record()
    record.update(features=None, highlights=None, media=None)
    row = _one(record)
    assert "features" not in row and "highlights" not in row and "images" not in row
    record.update(features=[], highlights=[], media={"images": []})
    row = _one(record)
    assert row["features"] == [] and row["highlights"] == [] and row["images"] == []
    assert row["video_url"] is None

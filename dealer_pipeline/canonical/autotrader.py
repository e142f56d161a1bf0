"""Autotrader Connect stock and advertiser records into canonical rows (api/autotrader.md 1.6, 1.7, 2.3).

One tight function per record: records are nested JSON, so flattening them is Python work
either way, and a direct walk beats `pandas.json_normalize` plus vectorised conversions
(`bench/normalize_bench.py` measures both). Sections may be absent (refinement flags, churn):
their columns are then left out of the row, so the stored values stand.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Sequence

from dealer_pipeline.canonical import convert
from dealer_pipeline.canonical.convert import Flag
from dealer_pipeline.canonical.model import NormalizedBatch
from dealer_pipeline.canonical.vocabulary import folded_map

SOURCE = "autotrader"
CURRENCY = "GBP"
DEFAULT_IMAGE_SIZE = "w800"
RESIZE_PLACEHOLDER = "{resize}"

MILES_TO_KM = 1.609344
PS_TO_KW = 0.73549875
BHP_TO_KW = 0.745699872

FUEL = folded_map({
    "Petrol": "petrol",
    "Diesel": "diesel",
    "Electric": "electric",
    "Petrol Hybrid": "hybrid",
    "Diesel Hybrid": "hybrid",
    "Petrol Plug-in Hybrid": "plugin_hybrid",
    "Diesel Plug-in Hybrid": "plugin_hybrid",
    "Elec/Pet Range Ext": "plugin_hybrid",
    "Bi Fuel": "lpg_cng",
    "Hydrogen": "hydrogen",
})
TRANSMISSION = folded_map({
    "Manual": "manual",
    "Automatic": "automatic",
    "Semi-Automatic": "automatic",
    "Semi-Auto": "automatic",
    "CVT": "automatic",
})
#: lifecycleState -> availability it forces (None: decided by reservationStatus).
LIFECYCLE = {
    "DUE_IN": None,
    "FORECOURT": None,
    "SALE_IN_PROGRESS": None,
    "SOLD": "sold",
    "WASTEBIN": "removed",
    "DELETED": "removed",
}
ADVERT_STATUSES = frozenset({"PUBLISHED", "NOT_PUBLISHED", "REJECTED", "CAPPED"})
CONDITIONS = {"new": "new", "used": "used"}
FEATURE_KEYS = (
    "name", "genericName", "type", "category", "basicPrice", "vatPrice", "factoryFitted", "rarityRating", "valueRating",
)


def vehicle_id(stock_id: str) -> str:
    """The canonical key of an Autotrader stock item."""
    return f"{SOURCE}:{stock_id}"


def dealer_id(advertiser_id: str) -> str:
    return f"{SOURCE}:{advertiser_id}"


def normalize_stock(
    records: Sequence[Mapping[str, Any]],
    *,
    received_at: datetime,
    image_size: str = DEFAULT_IMAGE_SIZE,
    advertiser_id: str | None = None,
) -> NormalizedBatch:
    """Stock records (from `/stock` pages or `STOCK_UPDATE` notifications) into `vehicles` rows.

    `image_size` replaces the `{resize}` placeholder of image URLs (e.g. `w800`, `w1024h768`).
    `advertiser_id` keys the dealer when the `advertiser` section was refined away (a baseline
    asks per advertiser, so it knows); the record's own advertiserId wins when present.
    `received_at` (aware) bounds vendor timestamps: one from the future is clamped and flagged.
    """
    batch = NormalizedBatch()
    unknown = batch.unknown_values

    def flag(name: str, value: Any) -> None:
        unknown[(name, str(value))] += 1

    for record in records:
        if convert.mapping(record) is None:
            batch.rejected.append((record, "record is not a JSON object"))
            continue
        try:
            outcome = _row(record, received_at, image_size, advertiser_id, flag)
        except (TypeError, ValueError, AttributeError) as exc:
            outcome = f"malformed record: {type(exc).__name__}: {exc}"
        if isinstance(outcome, str):
            batch.rejected.append((record, outcome))
        else:
            batch.rows.append(outcome)
    return batch


def _row(
    record: Mapping[str, Any], received_at: datetime, image_size: str, default_advertiser: str | None, flag: Flag
) -> dict[str, Any] | str:
    metadata = convert.mapping(record.get("metadata"))
    if metadata is None:
        return "no metadata section, so no stockId to key the vehicle"
    stock_id = convert.text(metadata.get("stockId"))
    if stock_id is None:
        return "metadata.stockId is missing or empty"
    advertiser = convert.mapping(record.get("advertiser"))
    advertiser_id = convert.text(advertiser.get("advertiserId")) if advertiser else None
    advertiser_id = advertiser_id or default_advertiser
    if advertiser_id is None:
        return "no advertiserId: the advertiser section is absent and the caller gave none"

    lifecycle = convert.text(metadata.get("lifecycleState"))
    forced = None
    if lifecycle is not None:
        if lifecycle in LIFECYCLE:
            forced = LIFECYCLE[lifecycle]
        else:
            flag("lifecycle_state", lifecycle)
    row: dict[str, Any] = {
        "vehicle_id": vehicle_id(stock_id),
        "source": SOURCE,
        "source_vehicle_id": stock_id,
        "dealer_id": dealer_id(advertiser_id),
        "search_id": convert.text(metadata.get("searchId")),
        "external_stock_id": convert.text(metadata.get("externalStockId")),
        "external_stock_reference": convert.text(metadata.get("externalStockReference")),
        "lifecycle_state": lifecycle,
        "source_version": convert.integer(metadata.get("versionNumber"), "source_version", flag,
                                          limit=convert.MAX_INT64),
        "source_updated_at": convert.timestamp(
            metadata.get("lastUpdated"), "source_updated_at", flag, received_at=received_at
        ),
        "raw": record,
    }

    vehicle = convert.mapping(record.get("vehicle"))
    if vehicle is not None:
        _vehicle_columns(vehicle, row, flag)

    adverts = convert.mapping(record.get("adverts"))
    reserved = False
    if adverts is not None:
        reserved = _advert_columns(adverts, row, flag)
    row["availability"] = forced or ("reserved" if reserved else "available")

    media = convert.mapping(record.get("media"))
    if media is not None:
        row["images"] = _images(media.get("images"), image_size, flag)
        row["video_url"] = _href(media.get("video"))
        row["spin_url"] = _href(media.get("spin"))

    # A section that is absent or null is "not sent": its columns stay out of the row.
    features = record.get("features")
    if features is not None:
        row["features"] = _features(features, flag)
    highlights = record.get("highlights")
    if highlights is not None:
        if isinstance(highlights, list):
            row["highlights"] = highlights
        else:
            flag("highlights", type(highlights).__name__)
    return row


def _vehicle_columns(vehicle: Mapping[str, Any], row: dict[str, Any], flag: Flag) -> None:
    text = convert.text
    row["vin"] = convert.compact_upper(vehicle.get("vin"))
    row["registration"] = convert.compact_upper(vehicle.get("registration"))
    row["make"] = text(vehicle.get("make"))
    row["model"] = text(vehicle.get("model"))
    row["trim"] = text(vehicle.get("trim"))
    row["derivative"] = text(vehicle.get("derivative"))
    row["derivative_id"] = text(vehicle.get("derivativeId"))
    row["vehicle_type"] = text(vehicle.get("vehicleType"))
    row["body_type"] = text(vehicle.get("bodyType"))
    row["colour"] = text(vehicle.get("colour"))

    condition = text(vehicle.get("ownershipCondition"))
    if condition is not None:
        mapped = CONDITIONS.get(condition.casefold())
        if mapped is None:
            flag("condition", condition)
        condition = mapped or condition
    row["condition"] = condition

    fuel = text(vehicle.get("fuelType"))
    row["source_fuel_type"] = fuel
    row["fuel_type"] = convert.lookup(FUEL, fuel, "fuel_type", flag)
    transmission = text(vehicle.get("transmissionType"))
    row["source_transmission"] = transmission
    row["transmission"] = convert.lookup(TRANSMISSION, transmission, "transmission", flag)

    row["doors"] = convert.integer(vehicle.get("doors"), "doors", flag)
    row["seats"] = convert.integer(vehicle.get("seats"), "seats", flag)
    row["engine_cc"] = convert.integer(vehicle.get("engineCapacityCC"), "engine_cc", flag)
    row["co2_g_km"] = convert.integer(vehicle.get("co2EmissionGPKM"), "co2_g_km", flag)
    year = convert.integer(vehicle.get("yearOfManufacture"), "model_year", flag)
    row["model_year"] = year
    row["manufacture_year"] = year
    row["first_registration_date"] = convert.day(
        vehicle.get("firstRegistrationDate"), "first_registration_date", flag
    )

    miles = convert.number(vehicle.get("odometerReadingMiles"), "mileage_km", flag)
    row["mileage_km"] = None if miles is None else convert.integer(miles * MILES_TO_KM, "mileage_km", flag)

    ps = convert.number(vehicle.get("enginePowerPS"), "power_kw", flag)
    bhp = convert.number(vehicle.get("enginePowerBHP"), "power_kw", flag) if ps is None else None
    kw = ps * PS_TO_KW if ps is not None else (bhp * BHP_TO_KW if bhp is not None else None)
    if kw is not None and not abs(kw) < 10**6:  # NUMERIC(7, 1)
        flag("power_kw", kw)
        kw = None
    row["power_kw"] = None if kw is None else convert.round_tenths(kw)


def _advert_columns(adverts: Mapping[str, Any], row: dict[str, Any], flag: Flag) -> bool:
    """Fills price and advert columns; returns whether the vehicle is reserved."""
    retail = convert.mapping(adverts.get("retailAdverts")) or {}
    total = _gbp(retail.get("totalPrice"), "price_amount", flag)
    forecourt = _gbp(adverts.get("forecourtPrice"), "price_amount", flag)
    row["price_amount"] = total if total is not None else forecourt
    row["supplied_price_amount"] = _gbp(retail.get("suppliedPrice"), "supplied_price_amount", flag)
    row["admin_fee_amount"] = _gbp(retail.get("adminFee"), "admin_fee_amount", flag)
    has_money = (
        row["price_amount"] is not None or row["supplied_price_amount"] is not None
        or row["admin_fee_amount"] is not None
    )
    row["price_currency"] = CURRENCY if has_money else None
    row["vat_status"] = convert.text(retail.get("vatStatus")) or convert.text(adverts.get("forecourtPriceVatStatus"))
    row["price_indicator_rating"] = convert.text(retail.get("priceIndicatorRating"))
    row["attention_grabber"] = convert.text(retail.get("attentionGrabber"))
    row["description"] = convert.text(retail.get("description"))
    row["description2"] = convert.text(retail.get("description2"))

    advert = convert.mapping(retail.get("advertiserAdvert"))
    status = convert.text(advert.get("status")) if advert else None
    if status is not None and status not in ADVERT_STATUSES:
        flag("advertiser_advert_status", status)
    row["shown_on_dealer_site"] = None if status is None else status == "PUBLISHED"

    reservation = convert.text(adverts.get("reservationStatus"))
    row["reservation_status"] = reservation
    if reservation is None:
        return False
    if reservation.casefold() != "reserved":
        flag("reservation_status", reservation)
        return False
    return True



def _gbp(value: Any, name: str, flag: Flag) -> Any:
    if value is None:
        return None
    price = convert.mapping(value)
    if price is None:
        flag(name, value)
        return None
    return convert.money(price.get("amountGBP"), name, flag)


def _href(value: Any) -> str | None:
    item = convert.mapping(value)
    return convert.text(item.get("href")) if item else None


def _images(items: Any, size: str, flag: Flag) -> list[str]:
    if items is None:
        return []
    if not isinstance(items, list):
        flag("images", type(items).__name__)
        return []
    hrefs = []
    for item in items:
        href = _href(item)
        if href is None:
            flag("images", "image without href")
            continue
        hrefs.append(href.replace(RESIZE_PLACEHOLDER, size))
    return hrefs


def _features(items: Any, flag: Flag) -> list[dict[str, Any]] | None:
    if not isinstance(items, list):
        flag("features", type(items).__name__)
        return None
    kept = []
    for item in items:
        if convert.mapping(item) is None or convert.text(item.get("name")) is None:
            flag("features", "feature without name")
            continue
        kept.append({key: item.get(key) for key in FEATURE_KEYS})
    return kept


def normalize_advertiser(
    record: Mapping[str, Any], *, received_at: datetime, source_updated_at: datetime | None = None
) -> dict[str, Any]:
    """An advertiser (from `/advertisers` or an `ADVERTISER` notification) into a `dealers` row.

    `source_updated_at` orders updates (`upsert_dealers` never lets an older one win): give the
    notification's `time`; for a list call it defaults to `received_at`, when the list was read.
    Raises ValueError when the record has no advertiserId (nothing to key it by).
    """
    if not isinstance(record, Mapping):
        raise ValueError("advertiser record is not a JSON object")
    advertiser_id = convert.text(record.get("advertiserId"))
    if advertiser_id is None:
        raise ValueError(f"advertiser record without advertiserId (name {record.get('name')!r})")
    location = convert.mapping(record.get("location")) or {}
    status = convert.text(record.get("status"))
    return {
        "dealer_id": dealer_id(advertiser_id),
        "source": SOURCE,
        "source_dealer_id": advertiser_id,
        "name": convert.text(record.get("name")),
        "status": status.strip().casefold().replace(" ", "_") if status else "active",
        "segment": convert.text(record.get("segment")),
        "postcode": convert.text(location.get("postCode")),
        "source_updated_at": source_updated_at or received_at,
        "raw": record,
    }

"""Autotrader-shaped UK advertisers and stock records, generated from a `random.Random`.

Records have exactly the sections of api/autotrader.md 2.3 (the 1.6 example's fields),
`warnings: []`, whole-GBP prices and realistic proportions of lifecycle states, reservations
and advert statuses. Every random choice comes from the generator passed in, so the same seed
gives the same bytes.
"""

from __future__ import annotations

import random
import string
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable, Sequence

from dealer_pipeline.sandbox import media
from dealer_pipeline.sandbox.reference import REFERENCE_YEAR, UK_DERIVATIVES, UkDerivative, UkModel

#: Generated dates lie before this day (vehicles are dated relative to it, not to the clock).
REFERENCE_DATE = date(REFERENCE_YEAR, 10, 1)

SECTIONS = ("vehicle", "advertiser", "adverts", "metadata", "features", "media", "history", "check",
            "highlights", "valuations", "responseMetrics")

LIFECYCLE_WEIGHTS = (("FORECOURT", 80), ("DUE_IN", 6), ("SALE_IN_PROGRESS", 6), ("SOLD", 4), ("WASTEBIN", 2),
                     ("DELETED", 2))
ADVERTISABLE = frozenset({"DUE_IN", "FORECOURT", "SALE_IN_PROGRESS"})

TOWNS = (
    ("Manchester", None, "North West", "M", "0161", 53.4808, -2.2426),
    ("Leeds", "West Yorkshire", "Yorkshire and the Humber", "LS", "0113", 53.8008, -1.5491),
    ("Birmingham", "West Midlands", "West Midlands", "B", "0121", 52.4862, -1.8904),
    ("Bristol", None, "South West", "BS", "0117", 51.4545, -2.5879),
    ("Reading", "Berkshire", "South East", "RG", "0118", 51.4543, -0.9781),
    ("Norwich", "Norfolk", "East of England", "NR", "01603", 52.6309, 1.2974),
    ("Glasgow", None, "Scotland", "G", "0141", 55.8642, -4.2518),
    ("Cardiff", None, "Wales", "CF", "029", 51.4816, -3.1791),
    ("Newcastle upon Tyne", "Tyne and Wear", "North East", "NE", "0191", 54.9783, -1.6178),
    ("Nottingham", "Nottinghamshire", "East Midlands", "NG", "0115", 52.9548, -1.1581),
    ("Exeter", "Devon", "South West", "EX", "01392", 50.7184, -3.5339),
    ("Milton Keynes", "Buckinghamshire", "South East", "MK", "01908", 52.0406, -0.7594),
    ("Sheffield", "South Yorkshire", "Yorkshire and the Humber", "S", "0114", 53.3811, -1.4701),
    ("Belfast", "County Antrim", "Northern Ireland", "BT", "028", 54.5973, -5.9301),
    ("Croydon", "Greater London", "London", "CR", "020", 51.3762, -0.0982),
    ("Edinburgh", None, "Scotland", "EH", "0131", 55.9533, -3.1883),
)
NAME_STEMS = ("Parkside", "Riverside", "Northgate", "Oakwood", "Kingsway", "Elmfield", "Westfield", "Highfield",
              "Abbey", "Victoria", "Crown", "Station Road", "Meadow", "Bridgewater", "Castle", "Priory")
NAME_WORDS = ("Motors", "Car Sales", "Autos", "Motor Company", "Cars", "Vehicle Centre")
STREETS = ("Road", "Street", "Lane", "Way", "Avenue", "Trading Estate")
STRAPLINES = ("Family run since 1985", "Quality used cars at honest prices", "Finance arranged in minutes",
              "Every car HPI checked", "Part exchange welcome", "Award-winning customer service")
COLOURS = ("Grey", "Black", "White", "Silver", "Blue", "Red", "Green", "Orange", "Bronze", "Yellow")
COLOUR_WEIGHTS = (22, 20, 18, 12, 12, 8, 3, 2, 2, 1)
MEMORY_TAGS = ("EK", "LD", "MA", "YB", "BD", "CP", "DA", "FH", "GX", "HN", "KM", "LF", "NX", "OU", "PJ", "RV",
               "SK", "VU", "WR", "YT")
PLATE_LETTERS = "ABCDEFGHJKLMNOPRSTUVWXY"
POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
WMI = {"Ford": "WF0", "Vauxhall": "W0L", "Volkswagen": "WVW", "BMW": "WBA", "Audi": "WAU", "Mercedes-Benz": "WDD",
       "Toyota": "SB1", "Nissan": "SJN", "Kia": "U5Y", "Hyundai": "TMA", "Tesla": "LRW", "Peugeot": "VF3",
       "Renault": "VF1", "Skoda": "TMB", "MG": "LSJ"}

STANDARD_FEATURES = (
    ("Reversing camera", "Reversing camera", "Drivers Assistance"),
    ("Parking sensors - rear", "Parking sensors", "Drivers Assistance"),
    ("Adaptive cruise control", "Cruise control", "Drivers Assistance"),
    ("Lane keep assist", "Lane assist", "Safety"),
    ("Blind spot monitoring", "Blind spot monitor", "Safety"),
    ("Autonomous emergency braking", "Emergency braking", "Safety"),
    ("Apple CarPlay", "Apple CarPlay", "Entertainment"),
    ("Android Auto", "Android Auto", "Entertainment"),
    ("DAB radio", "DAB radio", "Entertainment"),
    ("Satellite navigation", "Sat nav", "Entertainment"),
    ("Bluetooth connectivity", "Bluetooth", "Entertainment"),
    ("Dual-zone climate control", "Climate control", "Interior"),
    ("Heated front seats", "Heated seats", "Interior"),
    ("Leather upholstery", "Leather seats", "Interior"),
    ("Keyless entry", "Keyless entry", "Security"),
    ("Thatcham alarm", "Alarm", "Security"),
    ("LED headlights", "LED headlights", "Exterior"),
    ("17in alloy wheels", "Alloy wheels", "Wheels"),
    ("Privacy glass", "Privacy glass", "Exterior"),
    ("Electric tailgate", "Electric tailgate", "Exterior"),
)
OPTIONAL_FEATURES = (
    ("Panoramic sunroof", "Sunroof", "Exterior", 750),
    ("Metallic paint", "Metallic paint", "Paint", 595),
    ("Head-up display", "Head-up display", "Drivers Assistance", 600),
    ("Premium sound system", "Premium audio", "Entertainment", 650),
    ("Detachable tow bar", "Tow bar", "Exterior", 800),
    ("Winter pack", "Winter pack", "Interior", 400),
    ("360 degree camera", "Surround view camera", "Drivers Assistance", 500),
    ("19in alloy wheels", "Alloy wheels", "Wheels", 900),
    ("Heat pump", "Heat pump", "Performance", 900),
)
HIGHLIGHTS = ("Low mileage", "Full service history", "One owner", "Manufacturer warranty", "ULEZ compliant",
              "Nearly new", "Great spec", "Long MOT")
ATTENTION_GRABBERS = ("Full service history", "Low mileage example", "One owner from new", "Finance available",
                      "Warranty included", "Great spec", "Just arrived", "Ready to drive away")
DESCRIPTIONS = (
    "Great-value {model} with {feature}, {feature2} and a full service history.",
    "Beautiful {colour} {model} {trim}, supplied with a fresh service and MOT.",
    "This {model} has covered {miles} miles and comes with {feature}.",
    "A superb example of the {make} {model}, very well looked after by its previous owner.",
)
DESCRIPTIONS2 = ("Finance available. Part exchange welcome.", "Nationwide delivery available.",
                 "12 months warranty included.", None)


def _c(r: Callable[[], float], seq: Sequence[Any]) -> Any:
    """`rng.choice` at a third of the cost (generation draws a few hundred values per record)."""
    return seq[int(r() * len(seq))]


def _i(r: Callable[[], float], low: int, high: int) -> int:
    """`rng.randint(low, high)`, inclusive."""
    return low + int(r() * (high - low + 1))


def _n(r: Callable[[], float], stop: int) -> int:
    return int(r() * stop)


def _w(r: Callable[[], float], values: Sequence[Any], weights: Sequence[int]) -> Any:
    """A weighted choice."""
    point = r() * sum(weights)
    for value, weight in zip(values, weights, strict=True):
        point -= weight
        if point < 0:
            return value
    return values[-1]


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    return _w(rng.random, [p[0] for p in pairs], [p[1] for p in pairs])


def iso_millis(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def advertiser_fields(rng: random.Random, index: int) -> dict[str, Any]:
    """Descriptive fields of one UK advertiser (ids and access flags are the world's)."""
    r = rng.random
    town, county, region, pc, area, lat, lon = TOWNS[_n(r, len(TOWNS))]
    stem = NAME_STEMS[_n(r, len(NAME_STEMS))]
    word = NAME_WORDS[_n(r, len(NAME_WORDS))]
    name = f"{town} {stem} {word} Ltd" if r() < 0.5 else f"{stem} {word} Ltd"
    slug = "".join(c for c in f"{stem}{word}{index}".lower() if c.isalnum())
    number = _i(r, 1, 240)
    return {
        "name": name,
        "slug": slug,
        "status": "Active",
        "segment": "Franchise" if r() < 0.3 else "Independent",
        "website": f"https://www.{slug}.co.uk",
        "phone": f"{area} {_i(r, 200, 999)} {_i(r, 0, 9999):04d}",
        "strapline": STRAPLINES[_n(r, len(STRAPLINES))],
        "location": {
            "addressLineOne": f"{number} {stem} {STREETS[_n(r, len(STREETS))]}",
            "town": town, "county": county, "region": region,
            "postCode": f"{pc}{_i(r, 1, 20)} {_i(r, 1, 9)}{_c(r, POSTCODE_LETTERS)}"
                        f"{_c(r, POSTCODE_LETTERS)}",
            "latitude": round(lat + rng.uniform(-0.05, 0.05), 4),
            "longitude": round(lon + rng.uniform(-0.05, 0.05), 4),
        },
    }


def _plate(rng: random.Random, first_registration: date) -> str:
    r = rng.random
    year, month = first_registration.year, first_registration.month
    if month >= 9:
        age = year % 100 + 50
    elif month >= 3:
        age = year % 100
    else:
        age = (year - 1) % 100 + 50
    tail = "".join(_c(r, PLATE_LETTERS) for _ in range(3))
    return f"{_c(r, MEMORY_TAGS)}{age:02d}{tail}"


_VIN_VALUES = {**{str(d): d for d in range(10)}, **dict(zip("ABCDEFGH", range(1, 9))),
               **dict(zip("JKLMN", range(1, 6))), "P": 7, "R": 9, **dict(zip("STUVWXYZ", range(2, 10)))}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def _with_check_digit(vin: str) -> str:
    """Position 9 as manufacturers must set it where it is mandatory (North America, China)."""
    if vin[0] not in "12345L":
        return vin  # elsewhere position 9 is the manufacturer's own
    remainder = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS)) % 11
    return vin[:8] + ("X" if remainder == 10 else str(remainder)) + vin[9:]


def _vin(rng: random.Random, make: str, year: int) -> str:
    r = rng.random
    year_code = "ABCDEFGHJKLMNPRSTVWXY123456789"[(year - 2010) % 30]
    body = "".join(_c(r, VIN_CHARS) for _ in range(5))
    serial = "".join(_c(r, "0123456789") for _ in range(6))
    return _with_check_digit(f"{WMI[make]}{body}{_c(r, '0123456789X')}{year_code}{_c(r, VIN_CHARS)}{serial}")


def _features(rng: random.Random, derivative: UkDerivative) -> list[dict[str, Any]]:
    r = rng.random
    chosen = rng.sample(STANDARD_FEATURES, _i(r, 4, 10))
    out = []
    for name, generic, category in chosen:
        out.append({"name": name, "genericName": generic, "type": "Standard", "category": category,
                    "basicPrice": 0, "vatPrice": 0, "factoryFitted": True,
                    "rarityRating": _c(r, (None, None, 1, 2, 3)), "valueRating": _c(r, (None, None, 1, 2))})
    optional = [f for f in OPTIONAL_FEATURES if f[0] != "Heat pump" or derivative.fuel_type == "Electric"]
    for name, generic, category, price in rng.sample(optional, _i(r, 0, 3)):
        out.append({"name": name, "genericName": generic, "type": "Optional", "category": category,
                    "basicPrice": price, "vatPrice": round(price * 1.2), "factoryFitted": r() < 0.9,
                    "rarityRating": _i(r, 1, 5), "valueRating": _i(r, 1, 5)})
    return out


def taxonomy_features(derivative_id: str, record_features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every feature the derivative can have (the stock features endpoint, api/autotrader.md 2.4):
    a fixed set per derivative plus whatever the record lists."""
    rng = random.Random(f"taxonomy:{derivative_id}")
    r = rng.random
    features = {f["name"]: dict(f) for f in record_features}
    for name, generic, category in rng.sample(STANDARD_FEATURES, 12):
        features.setdefault(name, {"name": name, "genericName": generic, "type": "Standard", "category": category,
                                   "basicPrice": 0, "vatPrice": 0, "factoryFitted": True,
                                   "rarityRating": _c(r, (None, 1, 2, 3)), "valueRating": _c(r, (None, 1, 2))})
    for name, generic, category, price in OPTIONAL_FEATURES:
        features.setdefault(name, {"name": name, "genericName": generic, "type": "Optional", "category": category,
                                   "basicPrice": price, "vatPrice": round(price * 1.2), "factoryFitted": True,
                                   "rarityRating": _i(r, 1, 5), "valueRating": _i(r, 1, 5)})
    return sorted(features.values(), key=lambda f: (f["type"] != "Standard", f["category"], f["name"]))


def charge_times(derivative: UkDerivative) -> list[dict[str, Any]]:
    """Charge times of api/autotrader.md 2.5 from the battery size; [] unless pluggable."""
    if not derivative.pluggable or not derivative.battery_kwh:
        return []
    kwh = derivative.battery_kwh
    times = [{"chargerType": "Home wallbox (AC)", "chargerPowerKW": 7.4, "fromPercent": 0, "toPercent": 100,
              "durationMinutes": round(kwh / 7.4 * 60 * 1.1)}]
    if derivative.fuel_type == "Electric":
        times.append({"chargerType": "Rapid (DC)", "chargerPowerKW": 50.0, "fromPercent": 10, "toPercent": 80,
                      "durationMinutes": round(kwh * 0.7 / 45 * 60)})
    else:
        times.append({"chargerType": "Domestic socket (AC)", "chargerPowerKW": 2.3, "fromPercent": 0,
                      "toPercent": 100, "durationMinutes": round(kwh / 2.3 * 60 * 1.1)})
    return times


def _images(rng: random.Random, media_base: str) -> list[dict[str, str]]:
    r = rng.random
    roll = r()
    if roll < 0.01:
        return []
    count = _i(r, 3, 12)
    images = []
    for _ in range(count):
        if roll < 0.03:
            kind = "small"  # every photo of this vehicle is too small
        else:
            p = r()
            kind = "missing" if p < 0.015 else "small" if p < 0.045 else "normal"
        image_id = media.image_id(f"{rng.getrandbits(120):030x}", kind, _n(r, 256))
        images.append({"imageId": image_id, "href": f"{media_base}/media/{{resize}}/{image_id}.jpg"})
    return images


def _price(rng: random.Random, derivative: UkDerivative, age: float, miles: int) -> int:
    new_price = 9000 + derivative.power_ps * 95
    if derivative.fuel_type == "Electric":
        new_price += 8000
    elif derivative.pluggable:
        new_price += 5000
    value = new_price * (0.85 ** age) * max(0.35, 1 - miles / 250_000) * rng.uniform(0.92, 1.08)
    return max(995, int(round(value / 500.0)) * 500 - 5)


def stock_record(rng: random.Random, *, stock_id: str, advertiser: dict[str, Any], media_base: str,
                 serial: int, derivative_index: int | None = None) -> dict[str, Any]:
    """One stock item with every section of api/autotrader.md 2.3."""
    r = rng.random
    model, derivative = UK_DERIVATIVES[_n(r, len(UK_DERIVATIVES)) if derivative_index is None
                                       else derivative_index]
    last_year = min(derivative.year_to or REFERENCE_YEAR, REFERENCE_YEAR)
    year = _i(r, derivative.year_from, last_year)
    first_reg = date(year, _i(r, 1, 12), _i(r, 1, 28))
    if first_reg >= REFERENCE_DATE:
        first_reg = REFERENCE_DATE - timedelta(days=_i(r, 20, 200))
        year = first_reg.year
    age = max(0.05, (REFERENCE_DATE - first_reg).days / 365.25)
    is_new = age < 0.3 and r() < 0.4
    miles = 5 if is_new else max(50, int(age * rng.gauss(8500, 2500)))
    lifecycle = _weighted(rng, LIFECYCLE_WEIGHTS)
    advertisable = lifecycle in ADVERTISABLE
    on_forecourt = REFERENCE_DATE - timedelta(days=_i(r, 3, 150))
    last_updated = datetime.combine(on_forecourt, time(8), timezone.utc) + timedelta(
        seconds=_i(r, 0, (REFERENCE_DATE - on_forecourt).days * 86400 - 1),
        microseconds=_n(r, 1000) * 1000)
    colour = _w(r, COLOURS, COLOUR_WEIGHTS)
    owners = 0 if is_new else min(6, 1 + int(age // 3) + _i(r, 0, 1))
    price = _price(rng, derivative, age, miles)
    admin_fee = _c(r, (0, 0, 99, 149, 199, 299))
    vat_qualifying = r() < 0.12
    vat_status = "Inc VAT" if vat_qualifying else "No VAT"
    reserved = advertisable and (r() < (0.5 if lifecycle == "SALE_IN_PROGRESS" else 0.06))
    std_feature = STANDARD_FEATURES[_n(r, len(STANDARD_FEATURES))][0].lower()
    std_feature2 = STANDARD_FEATURES[_n(r, len(STANDARD_FEATURES))][0].lower()
    description = DESCRIPTIONS[_n(r, len(DESCRIPTIONS))].format(
        model=model.model, make=model.make, feature=std_feature, feature2=std_feature2, colour=colour.lower(),
        trim=derivative.trim, miles=f"{miles:,}")
    features = _features(rng, derivative)
    images = _images(rng, media_base)
    pluggable_or_ev = derivative.engine_cc is None
    retail_value = round(price * rng.uniform(0.95, 1.06))
    return {
        "vehicle": _vehicle(rng, model, derivative, year, first_reg, miles, colour, owners, is_new, pluggable_or_ev),
        "advertiser": {
            "advertiserId": advertiser["advertiserId"], "name": advertiser["name"], "segment": advertiser["segment"],
            "website": advertiser["website"], "phone": advertiser["phone"],
            "advertStrapline": advertiser.get("advertStrapline"), "location": advertiser["location"],
        },
        "adverts": {
            "forecourtPrice": {"amountGBP": price}, "forecourtPriceVatStatus": vat_status,
            "vatScheme": "VAT Qualifying" if vat_qualifying else "Marginal",
            "reservationStatus": "Reserved" if reserved else None,
            "soldDate": (on_forecourt + timedelta(days=_i(r, 1, 20))).isoformat() if lifecycle == "SOLD" else None,
            "dueDate": (REFERENCE_DATE + timedelta(days=_i(r, 3, 30))).isoformat() if lifecycle == "DUE_IN" else None,
            "manufacturerApproved": r() < 0.15, "twelveMonthsMot": r() < 0.5,
            "retailAdverts": {
                "suppliedPrice": {"amountGBP": price}, "totalPrice": {"amountGBP": price + admin_fee},
                "adminFee": {"amountGBP": admin_fee}, "manufacturerRRP": {"amountGBP": None},
                "vatStatus": vat_status, "priceOnApplication": False,
                "attentionGrabber": ATTENTION_GRABBERS[_n(r, len(ATTENTION_GRABBERS))],
                "description": description,
                "description2": DESCRIPTIONS2[_n(r, len(DESCRIPTIONS2))],
                "priceIndicatorRating": _w(r, ("GREAT", "GOOD", "FAIR", "HIGH", "LOW", "NOANALYSIS"),
                                                    (12, 30, 35, 10, 5, 8)),
                "displayOptions": {
                    "excludePreviousOwners": False, "excludeStrapline": False, "excludeMot": False,
                    "excludeWarranty": False, "excludeInteriorDetails": False,
                    "excludeTyreCondition": False, "excludeBodyCondition": False,
                },
                "autotraderAdvert": {"status": _advert_status(rng, advertisable, (85, 8, 4, 3))},
                "advertiserAdvert": {"status": "PUBLISHED" if advertisable and r() < 0.9 else "NOT_PUBLISHED"},
                "locatorAdvert": {"status": _advert_status(rng, advertisable, (30, 70, 0, 0))},
                "exportAdvert": {"status": _advert_status(rng, advertisable, (5, 95, 0, 0))},
                "profileAdvert": {"status": _advert_status(rng, advertisable, (70, 30, 0, 0))},
            },
            "tradeAdverts": {"dealerAuctionAdvert": {"status": _advert_status(rng, advertisable, (5, 95, 0, 0))}},
        },
        "metadata": {
            "stockId": stock_id,
            "searchId": f"{on_forecourt:%Y%m%d}{_n(r, 10**7):07d}",
            "externalStockId": f"DMS-{serial:06d}" if r() < 0.92 else None,
            "externalStockReference": f"STK{serial}" if r() < 0.9 else None,
            "versionNumber": _i(r, 1, 20),
            "lifecycleState": lifecycle,
            "dateOnForecourt": on_forecourt.isoformat(),
            "lastUpdated": iso_millis(last_updated),
            "lastUpdatedByAdvertiser": iso_millis(last_updated),
        },
        "features": features,
        "media": {
            "images": images,
            "video": {"href": f"https://www.youtube.com/watch?v={_video_id(rng)}" if r() < 0.3 else None},
            "spin": {"href": f"https://spins.example.co.uk/{stock_id}" if r() < 0.1 else None},
        },
        "history": {
            "scrapped": False, "stolen": False, "imported": False, "exported": False, "previousOwners": owners,
            "keeperChanges": [{"dateOfLastKeeper": (first_reg + timedelta(days=_i(r, 30, 900))).isoformat()}]
            if owners > 1 else [],
            "v5cs": [{"issuedDate": (first_reg + timedelta(days=_i(r, 5, 60))).isoformat()}],
        },
        "check": {
            "insuranceWriteoffCategory": None if r() > 0.02 else "S", "scrapped": False, "stolen": False,
            "imported": False, "exported": False, "privateFinance": False, "tradeFinance": r() < 0.1,
            "highRisk": False, "mileageDiscrepancy": False, "colourChanged": False, "registrationChanged": False,
            "previousOwners": owners,
        },
        "highlights": [{"name": h} for h in rng.sample(HIGHLIGHTS, _i(r, 0, 3))],
        "valuations": {
            "marketAverage": _valuation(retail_value, 1.0),
            "adjusted": _valuation(retail_value, rng.uniform(0.98, 1.04)),
        },
        "responseMetrics": {
            "performanceRating": {"score": _i(r, 5, 99),
                                  "rating": _c(r, ("LOW", "BELOW_AVERAGE", "AVERAGE", "ABOVE_AVERAGE", "EXCELLENT"))},
            "advertViewRating": {"rating": _c(r, ("BELOW_AVERAGE", "AVERAGE", "ABOVE_AVERAGE"))},
            "searchViewRating": {"rating": _c(r, ("BELOW_AVERAGE", "AVERAGE", "ABOVE_AVERAGE"))},
            "leadCountRating": {"rating": _c(r, ("BELOW_AVERAGE", "AVERAGE", "ABOVE_AVERAGE"))},
            "yesterday": {"advertViews": _i(r, 0, 80), "searchViews": _i(r, 0, 900)},
            "lastWeek": {"advertViews": _i(r, 0, 500), "searchViews": _i(r, 0, 6000)},
        },
        "warnings": [],
    }


def _vehicle(rng: random.Random, model: UkModel, derivative: UkDerivative, year: int, first_reg: date, miles: int,
             colour: str, owners: int, is_new: bool, electric: bool) -> dict[str, Any]:
    r = rng.random
    cc = derivative.engine_cc
    return {
        "ownershipCondition": "New" if is_new else "Used", "registration": _plate(rng, first_reg),
        "vin": _vin(rng, model.make, year) if r() < 0.95 else None,
        "make": model.make, "model": model.model, "generation": model.generation,
        "derivative": derivative.name, "derivativeId": derivative.derivative_id,
        "vehicleType": model.vehicle_type, "trim": derivative.trim, "bodyType": derivative.body_type,
        "fuelType": derivative.fuel_type, "cabType": None, "transmissionType": derivative.transmission,
        "wheelbaseType": None, "drivetrain": derivative.drivetrain, "seats": derivative.seats,
        "doors": derivative.doors, "cylinders": None if electric else (3 if cc and cc < 1200 else 4),
        "valves": None if electric else 16, "engineTorqueNM": round(derivative.power_ps * rng.uniform(1.4, 2.2)),
        "co2EmissionGPKM": derivative.co2_g_km, "topSpeedMPH": min(155, 90 + derivative.power_ps // 5),
        "zeroToSixtyMPHSeconds": round(max(3.1, 14 - derivative.power_ps / 40), 1),
        "badgeEngineSizeLitres": round(cc / 1000, 1) if cc else None, "engineCapacityCC": cc,
        "enginePowerBHP": derivative.power_bhp, "enginePowerPS": derivative.power_ps,
        "fuelCapacityLitres": None if electric else float(_c(r, (40, 45, 50, 55, 62, 70))),
        "emissionClass": None if electric else "Euro 6",
        "fuelEconomyNEDCCombinedMPG": None,
        "fuelEconomyWLTPCombinedMPG": None if electric else round(rng.uniform(38, 62), 1),
        "insuranceGroup": f"{min(50, max(1, derivative.power_ps // 8))}{_c(r, 'EAU')}",
        "owners": owners, "firstRegistrationDate": first_reg.isoformat(), "yearOfManufacture": year,
        "plate": _plate_code(first_reg), "colour": colour, "odometerReadingMiles": miles,
        "motExpiryDate": (REFERENCE_DATE + timedelta(days=_i(r, 10, 360))).isoformat()
        if (REFERENCE_DATE - first_reg).days > 3 * 365 else None,
        "serviceHistory": _c(r, ("Full service history", "Full dealership history", "Part service history")),
        "warrantyMonthsOnPurchase": _c(r, (3, 6, 12, 12, 24)), "origin": "UK",
        "lengthMM": _i(r, 3600, 4950), "widthMM": _i(r, 1650, 1950), "heightMM": _i(r, 1420, 1780),
        "bootSpaceSeatsUpLitres": float(_i(r, 250, 650)),
    }


def _plate_code(first_reg: date) -> str:
    year, month = first_reg.year, first_reg.month
    if month >= 9:
        return f"{year % 100 + 50:02d}"
    if month >= 3:
        return f"{year % 100:02d}"
    return f"{(year - 1) % 100 + 50:02d}"


def _advert_status(rng: random.Random, advertisable: bool, weights: tuple[int, int, int, int]) -> str:
    if not advertisable:
        return "NOT_PUBLISHED"
    return _w(rng.random, ("PUBLISHED", "NOT_PUBLISHED", "CAPPED", "REJECTED"), weights)


def _valuation(retail: int, factor: float) -> dict[str, dict[str, int]]:
    retail = round(retail * factor)
    return {"retail": {"amountGBP": retail}, "trade": {"amountGBP": round(retail * 0.78)},
            "partExchange": {"amountGBP": round(retail * 0.775)}, "private": {"amountGBP": round(retail * 0.958)}}


def _video_id(rng: random.Random) -> str:
    r = rng.random
    return "".join(_c(r, string.ascii_letters + string.digits + "-_") for _ in range(11))

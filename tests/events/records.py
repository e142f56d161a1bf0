"""Full Autotrader stock records and notification bodies (the shape of api/autotrader.md 1.6/2.6)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

EXAMPLE: dict[str, Any] = {
    "vehicle": {
        "ownershipCondition": "Used", "registration": "EK18FUT", "vin": "TMAJ3815GJJ000000",
        "make": "Hyundai", "model": "Tucson", "generation": "SUV (2015 - 2018)",
        "derivative": "1.6 GDi Blue Drive SE Nav SUV 5dr Petrol Manual Euro 6 (s/s) (132 ps)",
        "derivativeId": "35eef09b60b1422b8d4902aa22f841cd", "vehicleType": "Car", "trim": "SE Nav",
        "bodyType": "SUV", "fuelType": "Petrol", "transmissionType": "Manual", "seats": 5, "doors": 5,
        "co2EmissionGPKM": 147, "engineCapacityCC": 1591, "enginePowerBHP": 130, "enginePowerPS": 132,
        "firstRegistrationDate": "2018-03-29", "yearOfManufacture": 2018, "colour": "Grey",
        "odometerReadingMiles": 45000,
    },
    "advertiser": {"advertiserId": "10012345", "name": "Example Motors Ltd", "segment": "Independent"},
    "adverts": {
        "forecourtPrice": {"amountGBP": 10995}, "forecourtPriceVatStatus": "No VAT", "vatScheme": "Marginal",
        "reservationStatus": None,
        "retailAdverts": {
            "suppliedPrice": {"amountGBP": 10995}, "totalPrice": {"amountGBP": 11194},
            "adminFee": {"amountGBP": 199}, "vatStatus": "No VAT", "priceOnApplication": False,
            "attentionGrabber": "Full service history",
            "description": "Great-value family SUV with sat nav, reversing camera and full service history.",
            "description2": "Finance available. Part exchange welcome.",
            "priceIndicatorRating": "GOOD",
            "autotraderAdvert": {"status": "PUBLISHED"},
            "advertiserAdvert": {"status": "PUBLISHED"},
            "locatorAdvert": {"status": "NOT_PUBLISHED"},
            "exportAdvert": {"status": "NOT_PUBLISHED"},
            "profileAdvert": {"status": "PUBLISHED"},
        },
        "tradeAdverts": {"dealerAuctionAdvert": {"status": "NOT_PUBLISHED"}},
    },
    "metadata": {
        "stockId": "", "searchId": "202605309845233", "externalStockId": "DMS-000417",
        "externalStockReference": "STK417", "versionNumber": 1, "lifecycleState": "FORECOURT",
        "dateOnForecourt": "2026-05-30", "lastUpdated": "2026-06-02T09:14:03.120Z",
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
        "images": [{"imageId": "6f1d2c3b4a5e4d6f8a9b0c1d2e3f4a5b",
                    "href": "https://m.atcdn.co.uk/a/media/{resize}/6f1d2c3b4a5e4d6f8a9b0c1d2e3f4a5b.jpg"}],
        "video": {"href": "https://www.youtube.com/watch?v=XXXXXXXXXXX"},
        "spin": {"href": None},
    },
    "history": {"previousOwners": 2},
    "check": {"stolen": False},
    "valuations": {},
    "responseMetrics": {},
    "warnings": [],
}


def new_stock_id() -> str:
    return uuid.uuid4().hex


def stock_record(stock_id: str, version: int, *, advertiser_id: str = "10012345") -> dict[str, Any]:
    record = copy.deepcopy(EXAMPLE)
    record["metadata"]["stockId"] = stock_id
    record["metadata"]["versionNumber"] = version
    record["metadata"]["lastUpdated"] = f"2026-06-02T09:{version // 60 % 60:02d}:{version % 60:02d}.120Z"
    record["advertiser"]["advertiserId"] = advertiser_id
    return record


def notification(record: dict[str, Any]) -> dict[str, Any]:
    return {"id": record["metadata"]["stockId"], "time": record["metadata"]["lastUpdated"], "type": "STOCK_UPDATE",
            "data": record}


def advertiser_notification(advertiser_id: str, time: str, **fields: Any) -> dict[str, Any]:
    record = {"advertiserId": advertiser_id, "name": "Example Motors Ltd", "status": "Active",
              "segment": "Independent", "website": "https://www.examplemotors.co.uk", "phone": "0161 555 0123",
              "location": {"addressLineOne": "1 Example Road", "town": "Manchester", "county": None,
                           "region": "North West", "postCode": "M1 1AA", "latitude": 53.4808, "longitude": -2.2426},
              "capabilities": {"atConnect": ["Stock Sync", "Stock Updates"]}}
    record.update(fields)
    return {"id": advertiser_id, "time": time, "type": "ADVERTISER", "data": record}

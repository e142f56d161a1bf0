"""Autochat cars: schema validation and the per-client car store (api/autochat.md 1.4, 2.2-2.5).

Validation reports every field at once as `{"errors": {field: [messages]}}`. Fields
outside the documented schema are refused, so a client drifting from the schema is
caught here rather than silently ignored. Optional fields may be `null` (absent).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

REQUIRED_FIELDS = ("dealershipId", "internalId", "brand", "model", "images")
STRING_FIELDS = (
    "bodyColor", "bodyType", "dealershipId", "description", "fuelType", "internalId", "licensePlate",
    "brand", "model", "transmission", "version", "vin",
)
INTEGER_FIELDS = (
    "engineDisplacement", "engineEmission", "engineKw", "gears", "mileage", "numberOfDoors", "yearOfConstruction",
)
DECIMAL_FIELDS = ("salesPrice", "salesPriceExVat", "tradePrice", "taxAmount")
OTHER_FIELDS = ("currency", "dateOfFirstRegistration", "images", "isTaxDeductible", "options", "tags", "mileageUnit")
ALL_FIELDS = frozenset(STRING_FIELDS + INTEGER_FIELDS + DECIMAL_FIELDS + OTHER_FIELDS)
MILEAGE_UNITS = ("KM", "MI")
CURRENCY = re.compile(r"^[A-Z]{3}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CarError(Exception):
    """A refusal with its status and the vendor's JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def not_found() -> CarError:
    return CarError(404, {"message": "car not found"})


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def validate_car(
    body: Any, *, dealership_known: Callable[[str], bool], unknown_options: Callable[[list[Any]], list[str]]
) -> dict[str, list[str]]:
    """Every schema problem of a create/replace body, keyed by field; empty when valid."""
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if not isinstance(body, dict):
        return {"body": ["must be a JSON object"]}
    for name in body:
        if name not in ALL_FIELDS and name != "id":
            add(name, "unknown field")
    for name in REQUIRED_FIELDS:
        if body.get(name) is None:
            add(name, "required")

    for name in STRING_FIELDS:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            add(name, "must be a string")
    internal_id = body.get("internalId")
    if isinstance(internal_id, str) and not 1 <= len(internal_id) <= 100:
        add("internalId", "must be 1 to 100 characters")
    for name in ("brand", "model", "dealershipId"):
        value = body.get(name)
        if isinstance(value, str) and not value.strip():
            add(name, "must not be empty")
    for name in INTEGER_FIELDS:
        value = body.get(name)
        if value is not None and (not _is_int(value) or value < 0):
            add(name, "must be a non-negative integer")
    for name in DECIMAL_FIELDS:
        value = body.get(name)
        if value is not None and (not (_is_int(value) or isinstance(value, float)) or value < 0):
            add(name, "must be a non-negative number")

    currency = body.get("currency")
    if currency is not None and not (isinstance(currency, str) and CURRENCY.match(currency)):
        add("currency", "must be an ISO 4217 currency code")
    first_reg = body.get("dateOfFirstRegistration")
    if first_reg is not None and not _is_date(first_reg):
        add("dateOfFirstRegistration", "must be a date YYYY-MM-DD")
    unit = body.get("mileageUnit")
    if unit is not None and unit not in MILEAGE_UNITS:
        add("mileageUnit", "must be KM or MI")
    tax = body.get("isTaxDeductible")
    if tax is not None and not isinstance(tax, bool):
        add("isTaxDeductible", "must be a boolean")

    images = body.get("images")
    if images is not None:
        if not isinstance(images, list):
            add("images", "must be an array")
        else:
            for index, url in enumerate(images):
                if not _is_http_url(url):
                    add("images", f"item {index} must be an absolute http(s) URL")
    tags = body.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        add("tags", "must be an array of strings")
    options = body.get("options")
    if options is not None:
        if not isinstance(options, list):
            add("options", "must be an array of option names")
        else:
            for message in unknown_options(options):
                add("options", message)

    dealership = body.get("dealershipId")
    if isinstance(dealership, str) and dealership.strip() and not dealership_known(dealership):
        add("dealershipId", "unknown dealership")
    return errors


def _is_date(value: object) -> bool:
    if not isinstance(value, str) or not DATE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Dealership:
    dealership_id: str
    integration_enabled: bool


class CarStore:
    """Cars of every API client, keyed by (client_id, internalId): unique across dealerships."""

    def __init__(self) -> None:
        self._cars: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def create(self, client_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        key = (client_id, body["internalId"])
        with self._lock:
            if key in self._cars:
                raise CarError(409, {"message": f"car with internalId {body['internalId']} already exists"})
            car = _stored(str(uuid.uuid4()), body)
            self._cars[key] = car
            return dict(car)

    def replace(self, client_id: str, internal_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        key = (client_id, internal_id)
        with self._lock:
            current = self._cars.get(key)
            if current is None:
                raise not_found()
            car = _stored(current["id"], body)
            self._cars[key] = car
            return dict(car)

    def delete(self, client_id: str, internal_id: str) -> None:
        with self._lock:
            if self._cars.pop((client_id, internal_id), None) is None:
                raise not_found()

    def get(self, client_id: str, internal_id: str) -> dict[str, Any]:
        with self._lock:
            car = self._cars.get((client_id, internal_id))
        if car is None:
            raise not_found()
        return dict(car)

    def all(self, client_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(car) for (owner, _), car in self._cars.items() if client_id in (None, owner)]


def _stored(car_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The car as the vendor answers it: its id first, then every field as sent."""
    return {"id": car_id, **{k: v for k, v in body.items() if k in ALL_FIELDS and v is not None}}

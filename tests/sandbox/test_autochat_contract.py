"""Contract tests of the sandbox's Autochat (api/autochat.md Part 2), over real HTTP.

One sandbox subprocess for the module. Cars use unique internalIds so tests do not depend
on each other; dealership switches and option profiles are restored after the tests that
change them.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Iterator

import pytest
import requests

from dealer_pipeline.sandbox.runner import start_sandbox

CLIENT_ID, CLIENT_SECRET = "sandbox-ach-client", "sandbox-ach-secret"
AUDIENCE = "http://api.autochat.com/"
UNAUTHORIZED = {"message": "unauthorized"}


@pytest.fixture(scope="module")
def sb() -> Iterator[Any]:
    handle = start_sandbox(seed=5, dealers=3, vehicles=1)
    try:
        yield handle
    finally:
        handle.stop()


def control(sb: Any, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(method, sb.base_url + path, json=body, timeout=10)
    assert response.status_code < 500, response.text
    return response.json()


def token_request(sb: Any, **overrides: Any) -> requests.Response:
    body = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "audience": AUDIENCE,
            "grant_type": "client_credentials", **overrides}
    return requests.post(sb.base_url + "/autochat/oauth/token", json={k: v for k, v in body.items() if v is not None},
                         timeout=10)


@pytest.fixture(scope="module")
def token(sb: Any) -> str:
    response = token_request(sb)
    assert response.status_code == 200
    return response.json()["access_token"]


@pytest.fixture(scope="module")
def dealerships(sb: Any) -> dict[str, list[str]]:
    found = control(sb, "GET", "/_sandbox/world")["autochat_dealerships"]
    enabled = [d["dealership_id"] for d in found if d["integration_enabled"]]
    assert len(enabled) >= 2, "the world must have two Autochat dealerships with the integration on"
    return {"enabled": enabled}


class Api:
    def __init__(self, sb: Any, token: str) -> None:
        self.base = sb.base_url + "/autochat"
        self.headers = {"Authorization": f"Bearer {token}"}

    def __call__(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                 ) -> requests.Response:
        return requests.request(method, self.base + path, json=body,
                                headers=self.headers if headers is None else headers, timeout=10)


@pytest.fixture(scope="module")
def api(sb: Any, token: str) -> Api:
    return Api(sb, token)


def car(dealership: str, **changes: Any) -> dict[str, Any]:
    body = {
        "internalId": f"STK-{uuid.uuid4().hex[:10]}", "dealershipId": dealership, "brand": "bmw", "model": "x6",
        "version": "2.3 TDCI Diesel", "bodyColor": "white", "bodyType": "suv", "currency": "EUR",
        "dateOfFirstRegistration": "2022-09-16", "description": "A nice car", "engineDisplacement": 2137,
        "engineEmission": 191, "engineKw": 74, "fuelType": "diesel", "images": ["https://cdn.example.com/1.jpg"],
        "isTaxDeductible": True, "licensePlate": "XD9913", "options": ["ac", "abs"], "salesPrice": 15944.63,
        "salesPriceExVat": 15944.63, "tags": [], "taxAmount": 9873, "tradePrice": 159454.63,
        "transmission": "manual", "gears": 3, "mileage": 2137, "mileageUnit": "KM", "vin": "WAVWGBFH3AN026569",
        "numberOfDoors": 4, "yearOfConstruction": 2019,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


# -- 2.1 token -----------------------------------------------------------------------------------

def test_auth_token_shape_and_errors(sb: Any) -> None:
    before = control(sb, "GET", "/_sandbox/autochat/stats")["token_requests"]
    granted = token_request(sb)
    assert granted.status_code == 200
    body = granted.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 86400 and body["access_token"]

    denied = token_request(sb, client_secret="wrong")
    assert denied.status_code == 401
    assert denied.json() == {"error": "access_denied", "error_description": "Unauthorized"}
    for overrides in ({"client_secret": None}, {"audience": "http://other/"}, {"grant_type": "password"}):
        refused = token_request(sb, **overrides)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"
        assert refused.json()["error_description"]
    not_json = requests.post(sb.base_url + "/autochat/oauth/token", data="client_id=x", timeout=10,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert not_json.status_code == 400 and not_json.json()["error"] == "invalid_request"
    assert control(sb, "GET", "/_sandbox/autochat/stats")["token_requests"] == before + 6


def test_auth_token_requests_above_the_hourly_limit_get_429(sb: Any) -> None:
    used = control(sb, "GET", "/_sandbox/autochat/stats")["token_requests_last_hour"]
    control(sb, "POST", "/_sandbox/autochat/config", {"token_limit_per_hour": used + 1})
    try:
        assert token_request(sb).status_code == 200
        limited = token_request(sb)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    finally:
        control(sb, "POST", "/_sandbox/autochat/config", {"token_limit_per_hour": None})
    assert token_request(sb).status_code == 200


def test_auth_api_needs_a_live_bearer_token(sb: Any, api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"}):
        refused = api("GET", "/api/options", headers=headers)
        assert refused.status_code == 401 and refused.json() == UNAUTHORIZED
    control(sb, "POST", "/_sandbox/config", {"token_ttl": {"autochat": 1}})
    try:
        short = token_request(sb).json()
        assert short["expires_in"] == 1
        assert api("GET", "/api/options", headers={"Authorization": f"Bearer {short['access_token']}"}).status_code == 200
        time.sleep(1.1)
        expired = api("GET", "/api/options", headers={"Authorization": f"Bearer {short['access_token']}"})
        assert expired.status_code == 401 and expired.json() == UNAUTHORIZED
    finally:
        control(sb, "POST", "/_sandbox/config", {"token_ttl": {"autochat": 86400}})


def test_auth_expire_token_fault_meets_a_real_401(sb: Any) -> None:
    own = token_request(sb).json()["access_token"]
    headers = {"Authorization": f"Bearer {own}"}
    requests.post(sb.base_url + "/_sandbox/faults", json={"vendor": "autochat", "path": "/api/options",
                                                          "expire_token": True}, timeout=10).raise_for_status()
    expired = requests.get(sb.base_url + "/autochat/api/options", headers=headers, timeout=10)
    assert expired.status_code == 401 and expired.json() == UNAUTHORIZED


# -- 2.4 options ---------------------------------------------------------------------------------

def test_cars_options_are_a_plain_list_per_profile(sb: Any, api: Api) -> None:
    production = api("GET", "/api/options").json()
    assert isinstance(production, list) and production
    assert all(set(o) == {"esaco_identifier", "name", "prettyName", "uuid"} for o in production)
    names = [o["name"] for o in production]
    assert len(names) == len(set(names)) and "ac" in names
    control(sb, "POST", "/_sandbox/autochat/config", {"options_profile": "staging"})
    try:
        staging = [o["name"] for o in api("GET", "/api/options").json()]
    finally:
        control(sb, "POST", "/_sandbox/autochat/config", {"options_profile": "production"})
    assert set(staging) != set(names) and set(staging) & set(names)
    assert [o["name"] for o in api("GET", "/api/options").json()] == names


def test_cars_unknown_options_get_one_message_each_in_order(api: Api, dealerships) -> None:
    sent = car(dealerships["enabled"][0], options=["ac", "warp_drive", "abs", "flux_capacitor"])
    refused = api("POST", "/api/cars", sent)
    assert refused.status_code == 400
    assert refused.json() == {"errors": {"options": ["unknown option: warp_drive", "unknown option: flux_capacitor"]}}
    assert api("PUT", f"/api/cars/{sent['internalId']}", sent).status_code == 400


# -- 2.2 / 2.3 cars ------------------------------------------------------------------------------

def test_cars_create_replace_delete(sb: Any, api: Api, dealerships) -> None:
    sent = car(dealerships["enabled"][0])
    created = api("POST", "/api/cars", sent)
    assert created.status_code == 201, created.text
    stored = created.json()
    assert uuid.UUID(stored["id"]) and list(stored)[0] == "id"
    assert {k: stored[k] for k in sent} == sent

    duplicate = api("POST", "/api/cars", car(dealerships["enabled"][1], internalId=sent["internalId"]))
    assert duplicate.status_code == 409
    assert duplicate.json() == {"message": f"car with internalId {sent['internalId']} already exists"}

    replaced = api("PUT", f"/api/cars/{sent['internalId']}", {**sent, "mileage": 2500, "images": []})
    assert replaced.status_code == 200
    assert replaced.json()["id"] == stored["id"] and replaced.json()["mileage"] == 2500
    assert replaced.json()["images"] == []
    seen = control(sb, "GET", f"/_sandbox/autochat/cars/{sent['internalId']}")
    assert seen["mileage"] == 2500

    mismatch = api("PUT", f"/api/cars/{sent['internalId']}", {**sent, "internalId": "OTHER"})
    assert mismatch.status_code == 400 and "internalId" in mismatch.json()["errors"]

    assert api("DELETE", f"/api/cars/{sent['internalId']}").status_code == 204
    gone = api("DELETE", f"/api/cars/{sent['internalId']}")
    assert gone.status_code == 404 and gone.json() == {"message": "car not found"}


def test_cars_put_never_creates(sb: Any, api: Api, dealerships) -> None:
    sent = car(dealerships["enabled"][0])
    missing = api("PUT", f"/api/cars/{sent['internalId']}", sent)
    assert missing.status_code == 404 and missing.json() == {"message": "car not found"}
    assert requests.get(f"{sb.base_url}/_sandbox/autochat/cars/{sent['internalId']}", timeout=10).status_code == 404


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"images": ...}, "images", "required"),
        ({"brand": ...}, "brand", "required"),
        ({"internalId": ""}, "internalId", None),
        ({"internalId": "x" * 101}, "internalId", None),
        ({"mileageUnit": "KMS"}, "mileageUnit", None),
        ({"mileage": "2137"}, "mileage", None),
        ({"engineKw": 74.5}, "engineKw", None),
        ({"salesPrice": "15944.63"}, "salesPrice", None),
        ({"isTaxDeductible": "yes"}, "isTaxDeductible", None),
        ({"dateOfFirstRegistration": "16/09/2022"}, "dateOfFirstRegistration", None),
        ({"dateOfFirstRegistration": "2022-02-30"}, "dateOfFirstRegistration", None),
        ({"images": ["/relative.jpg"]}, "images", None),
        ({"images": "https://cdn.example.com/1.jpg"}, "images", None),
        ({"currency": "euro"}, "currency", None),
        ({"dealershipId": "dlr-nobody"}, "dealershipId", "unknown dealership"),
        ({"colour": "white"}, "colour", "unknown field"),
    ],
)
def test_cars_validation(api: Api, dealerships, changes, field: str, message: str | None) -> None:
    refused = api("POST", "/api/cars", car(dealerships["enabled"][0], **changes))
    assert refused.status_code == 400, refused.text
    errors = refused.json()["errors"]
    assert set(errors) == {field}
    if message is not None:
        assert errors[field] == [message]


def test_cars_integration_off_is_403(sb: Any, api: Api, dealerships) -> None:
    dealership = dealerships["enabled"][1]
    existing = car(dealership)
    assert api("POST", "/api/cars", existing).status_code == 201
    control(sb, "POST", f"/_sandbox/autochat/dealerships/{dealership}", {"integration_enabled": False})
    try:
        expected = {"message": "stock integration is not enabled for this dealership"}
        refused = api("POST", "/api/cars", car(dealership))
        assert refused.status_code == 403 and refused.json() == expected
        replaced = api("PUT", f"/api/cars/{existing['internalId']}", {**existing, "mileage": 1})
        assert replaced.status_code == 403 and replaced.json() == expected
        assert api("POST", "/api/cars", car(dealership, images=...)).status_code == 400  # 400 before 403
    finally:
        control(sb, "POST", f"/_sandbox/autochat/dealerships/{dealership}", {"integration_enabled": True})


def test_cars_calls_are_logged_with_a_hashed_token(sb: Any, api: Api, token: str, dealerships) -> None:
    since = max([c["seq"] for c in sb.calls()] or [0])
    assert api("POST", "/api/cars", car(dealerships["enabled"][0])).status_code == 201
    logged = [c for c in sb.calls(vendor="autochat") if c["seq"] > since]
    assert [(c["method"], c["path"], c["status"]) for c in logged] == [("POST", "/api/cars", 201)]
    assert logged[0]["token"] and token not in str(logged[0])

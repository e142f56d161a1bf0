"""The sandbox's Autotrader Connect against api/autotrader.md Part 2, over real HTTP."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

import pytest
import requests

from dealer_pipeline.sandbox.runner import SandboxHandle

CF_RAY = re.compile(r"^[0-9a-f]{16}-LHR$")
BODY_401 = {"warnings": [{"type": "ERROR", "message": "Access token is missing, invalid or expired"}]}
SECTIONS = ("vehicle", "advertiser", "adverts", "metadata", "features", "media", "history", "check", "highlights",
            "valuations", "responseMetrics")


def authenticate(sandbox: SandboxHandle) -> str:
    answer = requests.post(f"{sandbox.url('autotrader')}/authenticate",
                           data={"key": "sandbox-at-key", "secret": "sandbox-at-secret"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


@pytest.fixture(scope="module")
def token(sandbox: SandboxHandle) -> str:
    return authenticate(sandbox)


@pytest.fixture
def get(sandbox: SandboxHandle, token: str) -> Callable[..., requests.Response]:
    def call(path: str, *, auth: str | None = token, **params: Any) -> requests.Response:
        headers = {"Accept": "application/json"}
        if auth is not None:
            headers["Authorization"] = f"Bearer {auth}"
        response = requests.get(f"{sandbox.url('autotrader')}{path}", params=params, headers=headers, timeout=30)
        assert CF_RAY.match(response.headers.get("CF-RAY", "")), f"no CF-RAY on {path}: {response.headers}"
        return response
    return call


@pytest.fixture
def advertiser(sandbox: SandboxHandle) -> str:
    return sandbox.world()["autotrader"][0]["advertiser_id"]


@pytest.fixture
def access(sandbox: SandboxHandle) -> Iterator[Callable[..., None]]:
    """Change an advertiser's access flags for one test, restoring them afterwards."""
    changed: list[str] = []

    def set_access(advertiser_id: str, **flags: bool) -> None:
        changed.append(advertiser_id)
        sandbox.control("POST", f"/autotrader/advertisers/{advertiser_id}/access", flags)

    yield set_access
    for advertiser_id in changed:
        sandbox.control("POST", f"/autotrader/advertisers/{advertiser_id}/access",
                        {"on_integration": True, "stock_sync": True})


# -- 2.1 authentication ----------------------------------------------------------------------------
def test_authenticate_returns_token_and_expires_at_15_minutes_ahead(sandbox: SandboxHandle) -> None:
    before = datetime.now(timezone.utc)
    answer = requests.post(f"{sandbox.url('autotrader')}/authenticate",
                           data={"key": "sandbox-at-key", "secret": "sandbox-at-secret"}, timeout=10)
    assert answer.status_code == 200
    assert CF_RAY.match(answer.headers["CF-RAY"])
    body = answer.json()
    assert set(body) == {"access_token", "expires_at"}
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", body["expires_at"])
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert 895 <= (expires - before).total_seconds() <= 905
    assert len(body["access_token"]) >= 64


def test_authenticate_rejects_wrong_credentials_with_401(sandbox: SandboxHandle) -> None:
    answer = requests.post(f"{sandbox.url('autotrader')}/authenticate",
                           data={"key": "sandbox-at-key", "secret": "wrong"}, timeout=10)
    assert answer.status_code == 401
    assert answer.json() == BODY_401
    assert CF_RAY.match(answer.headers["CF-RAY"])


@pytest.mark.parametrize("send", [
    pytest.param(lambda url: requests.post(url, data={"key": "sandbox-at-key"}, timeout=10), id="missing-secret"),
    pytest.param(lambda url: requests.post(url, json={"key": "sandbox-at-key", "secret": "sandbox-at-secret"},
                                           timeout=10), id="json-body"),
    pytest.param(lambda url: requests.post(url, auth=("sandbox-at-key", "sandbox-at-secret"), timeout=10),
                 id="basic-auth"),
])
def test_authenticate_rejects_missing_fields_or_non_form_body_with_400(sandbox: SandboxHandle, send: Any) -> None:
    answer = send(f"{sandbox.url('autotrader')}/authenticate")
    assert answer.status_code == 400
    warning = answer.json()["warnings"][0]
    assert warning["type"] == "ERROR" and warning["feature"] in ("secret", "body", "key") and warning["message"]
    assert CF_RAY.match(answer.headers["CF-RAY"])


@pytest.mark.parametrize("auth", [None, "not-a-token"])
def test_calls_without_a_valid_token_get_401(get: Callable[..., requests.Response], advertiser: str,
                                             auth: str | None) -> None:
    for path, params in (("/advertisers", {"page": 1, "pageSize": 10}), ("/stock", {"advertiserId": advertiser})):
        answer = get(path, auth=auth, **params)
        assert answer.status_code == 401
        assert answer.json() == BODY_401


def test_token_expires_after_its_lifetime(fresh_sandbox: Callable[..., SandboxHandle]) -> None:
    sandbox = fresh_sandbox(dealers=1, vehicles=2, token_ttl_seconds=1)
    first = authenticate(sandbox)
    url = f"{sandbox.url('autotrader')}/advertisers"
    params = {"page": 1, "pageSize": 10}
    assert requests.get(url, params=params, headers={"Authorization": f"Bearer {first}"}, timeout=10).status_code == 200
    time.sleep(1.1)
    expired = requests.get(url, params=params, headers={"Authorization": f"Bearer {first}"}, timeout=10)
    assert expired.status_code == 401 and expired.json() == BODY_401
    second = authenticate(sandbox)
    assert second != first
    assert requests.get(url, params=params, headers={"Authorization": f"Bearer {second}"}, timeout=10).status_code == 200


# -- 2.2 advertisers ---------------------------------------------------------------------------------
def test_advertisers_records_have_the_contract_fields(get: Callable[..., requests.Response]) -> None:
    body = get("/advertisers", page=1, pageSize=100).json()
    assert set(body) == {"results", "totalResults"}
    assert body["totalResults"] == len(body["results"]) == 3
    for record in body["results"]:
        assert set(record) == {"advertiserId", "name", "status", "segment", "website", "phone", "location",
                               "capabilities"}
        assert record["advertiserId"].isdigit()
        assert set(record["location"]) == {"addressLineOne", "town", "county", "region", "postCode", "latitude",
                                           "longitude"}
        assert "Stock Sync" in record["capabilities"]["atConnect"]
    assert [r["advertiserId"] for r in body["results"]] == sorted(r["advertiserId"] for r in body["results"])


def test_advertisers_pagination_edges(get: Callable[..., requests.Response]) -> None:
    pages = [get("/advertisers", page=page, pageSize=1).json() for page in (1, 2, 3, 4)]
    assert [len(p["results"]) for p in pages] == [1, 1, 1, 0]
    assert all(p["totalResults"] == 3 for p in pages)
    assert len({p["results"][0]["advertiserId"] for p in pages[:3]}) == 3
    assert get("/advertisers", page=99, pageSize=100).json() == {"results": [], "totalResults": 3}


@pytest.mark.parametrize("params,feature", [
    ({"page": 1, "pageSize": 0}, "pageSize"), ({"page": 1, "pageSize": 101}, "pageSize"),
    ({"page": 0, "pageSize": 10}, "page"), ({"page": "x", "pageSize": 10}, "page"),
])
def test_advertisers_out_of_range_paging_is_400(get: Callable[..., requests.Response], params: dict, feature: str) -> None:
    answer = get("/advertisers", **params)
    assert answer.status_code == 400
    assert answer.json()["warnings"][0]["feature"] == feature


def test_advertiser_id_filter_tells_who_is_on_the_integration(get: Callable[..., requests.Response], advertiser: str,
                                                              access: Callable[..., None]) -> None:
    one = get("/advertisers", advertiserId=advertiser, page=1, pageSize=10).json()
    assert one["totalResults"] == 1 and one["results"][0]["advertiserId"] == advertiser
    assert get("/advertisers", advertiserId="99999999", page=1, pageSize=10).json() == {"results": [],
                                                                                        "totalResults": 0}
    access(advertiser, on_integration=False)
    assert get("/advertisers", advertiserId=advertiser, page=1, pageSize=10).json() == {"results": [],
                                                                                        "totalResults": 0}
    assert get("/advertisers", page=1, pageSize=10).json()["totalResults"] == 2


# -- 2.3 stock -----------------------------------------------------------------------------------------
def test_stock_without_advertiser_id_is_400(get: Callable[..., requests.Response]) -> None:
    answer = get("/stock", page=1, pageSize=10)
    assert answer.status_code == 400
    assert answer.json() == {"warnings": [{"type": "ERROR", "feature": "advertiserId",
                                           "message": "advertiserId is required"}]}


@pytest.mark.parametrize("params", [{"pageSize": 0}, {"pageSize": 201}, {"page": 0}, {"pageSize": "ten"}])
def test_stock_page_size_outside_1_to_200_is_400(get: Callable[..., requests.Response], advertiser: str,
                                                 params: dict) -> None:
    answer = get("/stock", advertiserId=advertiser, **{"page": 1, "pageSize": 10, **params})
    assert answer.status_code == 400
    assert answer.json()["warnings"][0]["type"] == "ERROR"


def test_stock_pages_at_exact_multiples_and_past_the_end(get: Callable[..., requests.Response], advertiser: str) -> None:
    whole = get("/stock", advertiserId=advertiser, page=1, pageSize=200).json()
    assert whole["totalResults"] == len(whole["results"]) == 25
    ids = [r["metadata"]["stockId"] for r in whole["results"]]
    assert ids == sorted(ids) and len(set(ids)) == 25
    pages = [get("/stock", advertiserId=advertiser, page=p, pageSize=5).json() for p in range(1, 7)]
    assert [len(p["results"]) for p in pages] == [5, 5, 5, 5, 5, 0]
    assert all(p["totalResults"] == 25 for p in pages)
    assert [r["metadata"]["stockId"] for p in pages for r in p["results"]] == ids
    uneven = [get("/stock", advertiserId=advertiser, page=p, pageSize=10).json()["results"] for p in (1, 2, 3, 4)]
    assert [len(r) for r in uneven] == [10, 10, 5, 0]
    assert get("/stock", advertiserId=advertiser, page=40, pageSize=200).json() == {"results": [], "totalResults": 25}


def test_stock_records_have_every_section_and_contract_types(get: Callable[..., requests.Response],
                                                             advertiser: str, sandbox: SandboxHandle) -> None:
    records = get("/stock", advertiserId=advertiser, page=1, pageSize=200).json()["results"]
    for record in records:
        assert list(record) == [*SECTIONS, "warnings"]
        assert record["warnings"] == []
        assert record["advertiser"]["advertiserId"] == advertiser
        assert re.match(r"^[0-9a-f]{32}$", record["metadata"]["stockId"])
        assert re.match(r"^\d{15}$", record["metadata"]["searchId"])
        assert isinstance(record["metadata"]["versionNumber"], int)
        assert record["metadata"]["lifecycleState"] in ("DUE_IN", "FORECOURT", "SALE_IN_PROGRESS", "SOLD",
                                                        "WASTEBIN", "DELETED")
        adverts = record["adverts"]
        for money in (adverts["forecourtPrice"], adverts["retailAdverts"]["suppliedPrice"],
                      adverts["retailAdverts"]["totalPrice"], adverts["retailAdverts"]["adminFee"]):
            assert isinstance(money["amountGBP"], int)
        assert adverts["retailAdverts"]["totalPrice"]["amountGBP"] == (
            adverts["retailAdverts"]["suppliedPrice"]["amountGBP"] + adverts["retailAdverts"]["adminFee"]["amountGBP"])
        assert adverts["reservationStatus"] in ("Reserved", None)
        assert adverts["retailAdverts"]["advertiserAdvert"]["status"] in ("PUBLISHED", "NOT_PUBLISHED")
        assert record["vehicle"]["fuelType"] in ("Petrol", "Diesel", "Electric", "Petrol Hybrid",
                                                 "Petrol Plug-in Hybrid", "Diesel Hybrid", "Diesel Plug-in Hybrid",
                                                 "Bi Fuel", "Hydrogen", "Elec/Pet Range Ext")
        assert record["vehicle"]["transmissionType"] in ("Manual", "Automatic")
        assert re.match(r"^[0-9a-f]{32}$", record["vehicle"]["derivativeId"])
        for image in record["media"]["images"]:
            assert image["href"] == f"{sandbox.base_url}/media/{{resize}}/{image['imageId']}.jpg"


@pytest.mark.parametrize("section", SECTIONS)
def test_refinement_flag_false_omits_exactly_that_section(get: Callable[..., requests.Response], advertiser: str,
                                                          section: str) -> None:
    record = get("/stock", advertiserId=advertiser, page=1, pageSize=1, **{section: "false"}).json()["results"][0]
    assert list(record) == [s for s in SECTIONS if s != section] + ["warnings"]


def test_several_refinement_flags_and_true_values(get: Callable[..., requests.Response], advertiser: str) -> None:
    record = get("/stock", advertiserId=advertiser, page=1, pageSize=1, valuations="false", responseMetrics="false",
                 check="false", history="false", features="true", media="true", unknownFlag="false"
                 ).json()["results"][0]
    assert list(record) == ["vehicle", "advertiser", "adverts", "metadata", "features", "media", "highlights",
                            "warnings"]


def test_every_lifecycle_state_stays_listed(fresh_sandbox: Callable[..., SandboxHandle]) -> None:
    sandbox = fresh_sandbox(dealers=1, vehicles=6)
    advertiser = sandbox.world()["autotrader"][0]["advertiser_id"]
    token = authenticate(sandbox)
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{sandbox.url('autotrader')}/stock"
    records = requests.get(url, params={"advertiserId": advertiser, "pageSize": 200}, headers=headers,
                           timeout=10).json()["results"]
    for record, state in zip(records, ("DUE_IN", "FORECOURT", "SALE_IN_PROGRESS", "SOLD", "WASTEBIN", "DELETED"),
                             strict=True):
        sandbox.change("autotrader", record["metadata"]["stockId"], lifecycle=state, deliver=False)
    listed = requests.get(url, params={"advertiserId": advertiser, "pageSize": 200}, headers=headers,
                          timeout=10).json()
    assert listed["totalResults"] == 6
    assert sorted(r["metadata"]["lifecycleState"] for r in listed["results"]) == sorted(
        ("DUE_IN", "FORECOURT", "SALE_IN_PROGRESS", "SOLD", "WASTEBIN", "DELETED"))


def test_403_kind_a_for_an_advertiser_not_on_the_integration(get: Callable[..., requests.Response], advertiser: str,
                                                             access: Callable[..., None]) -> None:
    access(advertiser, on_integration=False)
    expected = {"warnings": [{"type": "ERROR", "message": f"Advertiser {advertiser} is not on your integration"}]}
    answer = get("/stock", advertiserId=advertiser, page=1, pageSize=10)
    assert answer.status_code == 403 and answer.json() == expected
    stranger = get("/stock", advertiserId="12345678", page=1, pageSize=10)
    assert stranger.status_code == 403
    assert stranger.json()["warnings"][0]["message"] == "Advertiser 12345678 is not on your integration"


def test_403_kind_b_for_an_advertiser_without_stock_sync(get: Callable[..., requests.Response], advertiser: str,
                                                         access: Callable[..., None], sandbox: SandboxHandle) -> None:
    stock_id = get("/stock", advertiserId=advertiser, page=1, pageSize=1).json()["results"][0]["metadata"]["stockId"]
    access(advertiser, stock_sync=False)
    expected = {"warnings": [{"type": "ERROR",
                              "message": f"Advertiser {advertiser} does not have access to the Stock Sync product"}]}
    for path in ("/stock", f"/stock/{stock_id}/features", f"/stock/{stock_id}/charge-times"):
        answer = get(path, advertiserId=advertiser, page=1, pageSize=10)
        assert answer.status_code == 403 and answer.json() == expected, path
    listed = get("/advertisers", advertiserId=advertiser, page=1, pageSize=10).json()["results"][0]
    assert "Stock Sync" not in listed["capabilities"]["atConnect"]


def test_advertisers_configured_at_start_get_403_a_and_b(fresh_sandbox: Callable[..., SandboxHandle]) -> None:
    probe = fresh_sandbox(dealers=2, vehicles=1)
    first, second = (a["advertiser_id"] for a in probe.world()["autotrader"])
    probe.stop()
    sandbox = fresh_sandbox(dealers=2, vehicles=1,
                            extra_args=["--at-not-integrated", first, "--at-no-stock-sync", second])
    headers = {"Authorization": f"Bearer {authenticate(sandbox)}"}
    url = f"{sandbox.url('autotrader')}/stock"
    a = requests.get(url, params={"advertiserId": first}, headers=headers, timeout=10)
    b = requests.get(url, params={"advertiserId": second}, headers=headers, timeout=10)
    assert (a.status_code, b.status_code) == (403, 403)
    assert "is not on your integration" in a.json()["warnings"][0]["message"]
    assert "does not have access to the Stock Sync product" in b.json()["warnings"][0]["message"]


# -- 2.4 features, 2.5 charge times -------------------------------------------------------------------------
def _records(get: Callable[..., requests.Response], advertiser: str) -> list[dict[str, Any]]:
    return get("/stock", advertiserId=advertiser, page=1, pageSize=200).json()["results"]


def test_stock_features_list_every_possible_feature(get: Callable[..., requests.Response], advertiser: str) -> None:
    record = _records(get, advertiser)[0]
    answer = get(f"/stock/{record['metadata']['stockId']}/features", advertiserId=advertiser)
    assert answer.status_code == 200
    features = answer.json()["features"]
    assert {f["name"] for f in record["features"]} <= {f["name"] for f in features}
    assert len(features) > len(record["features"])
    for feature in features:
        assert set(feature) == {"name", "genericName", "type", "category", "basicPrice", "vatPrice", "factoryFitted",
                                "rarityRating", "valueRating"}
        assert feature["type"] in ("Standard", "Optional")
        assert feature["rarityRating"] is None or isinstance(feature["rarityRating"], int)


def test_features_and_charge_times_404_for_unknown_or_foreign_stock(get: Callable[..., requests.Response],
                                                                   sandbox: SandboxHandle, advertiser: str) -> None:
    other = sandbox.world()["autotrader"][1]["advertiser_id"]
    foreign = _records(get, other)[0]["metadata"]["stockId"]
    for stock_id in ("0" * 32, foreign):
        for tail in ("features", "charge-times"):
            answer = get(f"/stock/{stock_id}/{tail}", advertiserId=advertiser)
            assert answer.status_code == 404
            warning = answer.json()["warnings"][0]
            assert warning["type"] == "ERROR" and warning["message"] == f"Stock item {stock_id} of advertiser {advertiser} not found"
    assert get(f"/stock/{foreign}/features").status_code == 400  # advertiserId is required here too


def test_charge_times_only_for_pluggable_vehicles(get: Callable[..., requests.Response], sandbox: SandboxHandle) -> None:
    pluggable = {"Electric", "Petrol Plug-in Hybrid", "Diesel Plug-in Hybrid", "Elec/Pet Range Ext"}
    seen = {"pluggable": 0, "other": 0}
    for dealer in sandbox.world()["autotrader"]:
        for record in _records(get, dealer["advertiser_id"]):
            times = get(f"/stock/{record['metadata']['stockId']}/charge-times",
                        advertiserId=dealer["advertiser_id"]).json()
            assert set(times) == {"chargeTimes"}
            if record["vehicle"]["fuelType"] in pluggable:
                seen["pluggable"] += 1
                assert times["chargeTimes"], record["vehicle"]["derivative"]
                for entry in times["chargeTimes"]:
                    assert set(entry) == {"chargerType", "chargerPowerKW", "fromPercent", "toPercent",
                                          "durationMinutes"}
            else:
                seen["other"] += 1
                assert times["chargeTimes"] == []
    assert seen["pluggable"] > 0 and seen["other"] > 0


def test_unknown_paths_answer_404_with_warnings(get: Callable[..., requests.Response]) -> None:
    for path in ("/advertisers/10012345", "/nothing-here"):
        answer = get(path)
        assert answer.status_code == 404
        assert answer.json()["warnings"][0]["type"] == "ERROR"

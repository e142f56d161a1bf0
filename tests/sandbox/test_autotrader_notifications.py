"""Autotrader change endpoints and signed notifications (api/autotrader.md 2.6), verified here with
Python's `hmac` against the contract's worked vectors, delivered to a real HTTP receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, Iterator

import pytest
import requests

from dealer_pipeline.sandbox.runner import SandboxHandle, start_sandbox
from tests.sandbox.receiver_stub import ReceiverStub

SECRET = "sandbox-at-webhook-secret"
VECTOR_SECRET = "example-notification-secret-DO-NOT-USE"
VECTOR_2_BODY = (b'{"id":"8a46978d8b8505e8018b91d9483a332a","time":"2026-01-01T00:00:00.000Z","type":"STOCK_UPDATE",'
                 b'"data":{"metadata":{"stockId":"8a46978d8b8505e8018b91d9483a332a","versionNumber":18,'
                 b'"lifecycleState":"SALE_IN_PROGRESS"}}}')


def expected_v1(secret: str, t: int, raw: bytes) -> str:
    return hmac.new(secret.encode(), str(t).encode() + b"." + raw, hashlib.sha256).hexdigest()


def verify(header: str, raw: bytes, secret: str = SECRET, tolerance: int = 300) -> bool:
    pairs = [part.split("=", 1) for part in header.split(",")]
    t = int(next(value for key, value in pairs if key.strip() == "t"))
    signatures = [value for key, value in pairs if key.strip() == "v1"]
    good = any(hmac.compare_digest(expected_v1(secret, t, raw), v) for v in signatures)
    return good and abs(time.time() - t) <= tolerance


def test_test_hmac_reproduces_the_contract_vectors() -> None:
    assert len(VECTOR_2_BODY) == 219
    assert expected_v1(VECTOR_SECRET, 1623882082, b'{"id": "123"}') == \
        "7a1d3245a867692e70da76589e7ae27d3b2610e80dc66dd518760e02be0b4138"
    assert expected_v1(VECTOR_SECRET, 1767225600, VECTOR_2_BODY) == \
        "431f656d21a89092b1bfdff0c94b85ecce0529e39038705f442a4f94966de721"
    changed = expected_v1(VECTOR_SECRET, 1767225601, VECTOR_2_BODY)
    assert changed.startswith("ae6331eb") and changed.endswith("94e2062b")


def test_sandbox_signer_matches_the_contract_vectors() -> None:
    from dealer_pipeline.sandbox.autotrader import sign

    assert sign(VECTOR_SECRET, 1623882082, b'{"id": "123"}') == \
        "t=1623882082,v1=7a1d3245a867692e70da76589e7ae27d3b2610e80dc66dd518760e02be0b4138"
    assert sign(VECTOR_SECRET, 1767225600, VECTOR_2_BODY) == \
        "t=1767225600,v1=431f656d21a89092b1bfdff0c94b85ecce0529e39038705f442a4f94966de721"


@pytest.fixture(scope="module")
def notifying(stub: ReceiverStub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    with start_sandbox(dealers=2, vehicles=8, receiver_url=stub.url,
                       workdir=tmp_path_factory.mktemp("notifying")) as handle:
        yield handle


def _stock(sandbox: SandboxHandle, advertiser: str) -> list[dict[str, Any]]:
    token = requests.post(f"{sandbox.url('autotrader')}/authenticate",
                          data={"key": "sandbox-at-key", "secret": "sandbox-at-secret"}, timeout=10).json()["access_token"]
    return requests.get(f"{sandbox.url('autotrader')}/stock", params={"advertiserId": advertiser, "pageSize": 200},
                        headers={"Authorization": f"Bearer {token}"}, timeout=10).json()["results"]


def _advertiser(sandbox: SandboxHandle, index: int = 0) -> str:
    return sandbox.world()["autotrader"][index]["advertiser_id"]


def test_stock_change_delivers_a_signed_put_with_the_full_record(notifying: SandboxHandle,
                                                                 fresh_stub: ReceiverStub) -> None:
    advertiser = _advertiser(notifying)
    before = _stock(notifying, advertiser)[0]
    stock_id = before["metadata"]["stockId"]
    result = notifying.change("autotrader", stock_id, price=12345)
    assert [d["status"] for d in result["delivered"]] == [200]
    (received,) = fresh_stub.wait_for(1)
    assert received.method == "PUT" and received.path == "/webhooks/autotrader"
    assert received.headers["content-type"] == "application/json"
    assert verify(received.headers["autotrader-signature"], received.body)
    assert not verify(received.headers["autotrader-signature"], received.body + b" ")
    note = json.loads(received.body)
    assert list(note) == ["id", "time", "type", "data"]
    assert note["id"] == stock_id and note["type"] == "STOCK_UPDATE"
    data = note["data"]
    assert list(data) == ["vehicle", "advertiser", "adverts", "metadata", "features", "media", "history", "check",
                          "highlights", "valuations", "responseMetrics", "warnings"]
    assert data["metadata"]["versionNumber"] == before["metadata"]["versionNumber"] + 1
    assert data["metadata"]["lastUpdated"] > before["metadata"]["lastUpdated"]
    assert data["adverts"]["retailAdverts"]["suppliedPrice"] == {"amountGBP": 12345}
    listed = next(r for r in _stock(notifying, advertiser) if r["metadata"]["stockId"] == stock_id)
    assert listed == data


def test_every_change_group_lands_in_the_record(notifying: SandboxHandle) -> None:
    from dealer_pipeline.sandbox.reference import UK_DERIVATIVES

    advertiser = _advertiser(notifying, 1)
    record = _stock(notifying, advertiser)[1]
    target = next(d for _, d in UK_DERIVATIVES if d.derivative_id != record["vehicle"]["derivativeId"]
                  and d.fuel_type == "Electric")
    feature = record["features"][0]["name"]
    change = {
        "price": 9995, "admin_fee": 150, "vat_status": "Inc VAT", "mileage": 31000, "images": 2,
        "video": "https://www.youtube.com/watch?v=abcdefghijk", "spin": "https://spins.example.co.uk/x",
        "add_features": ["Heat pump"], "feature_ratings": {feature: {"rarityRating": 4, "valueRating": 5}},
        "highlights": ["Low mileage", "One owner"], "reservation": "Reserved", "lifecycle": "SALE_IN_PROGRESS",
        "advertiser_advert": "NOT_PUBLISHED", "derivative_id": target.derivative_id,
        "attention_grabber": "Just in", "description": "New text", "description2": "More text",
        "price_indicator_rating": "GREAT", "registration": "AB12CDE", "first_registration_date": "2019-04-01",
        "seats": 4, "doors": 3, "engine_cc": 1398, "co2": 99, "make": "Audi", "model": "A3",
        "set": {"vehicle.colour": "Purple"}, "deliver": False,
    }
    new = notifying.change("autotrader", record["metadata"]["stockId"], **change)["record"]
    retail = new["adverts"]["retailAdverts"]
    assert retail["suppliedPrice"] == {"amountGBP": 9995} and retail["adminFee"] == {"amountGBP": 150}
    assert retail["totalPrice"] == {"amountGBP": 10145} and new["adverts"]["forecourtPrice"] == {"amountGBP": 9995}
    assert retail["vatStatus"] == new["adverts"]["forecourtPriceVatStatus"] == "Inc VAT"
    assert new["vehicle"]["odometerReadingMiles"] == 31000
    assert len(new["media"]["images"]) == 2 and new["media"]["images"] != record["media"]["images"]
    assert new["media"]["video"]["href"].endswith("abcdefghijk") and new["media"]["spin"]["href"]
    assert "Heat pump" in {f["name"] for f in new["features"]}
    rated = next(f for f in new["features"] if f["name"] == feature)
    assert (rated["rarityRating"], rated["valueRating"]) == (4, 5)
    assert new["highlights"] == [{"name": "Low mileage"}, {"name": "One owner"}]
    assert new["adverts"]["reservationStatus"] == "Reserved"
    assert new["metadata"]["lifecycleState"] == "SALE_IN_PROGRESS"
    assert retail["advertiserAdvert"] == {"status": "NOT_PUBLISHED"}
    assert new["vehicle"]["derivativeId"] == target.derivative_id and new["vehicle"]["fuelType"] == "Electric"
    assert (retail["attentionGrabber"], retail["description"], retail["description2"],
            retail["priceIndicatorRating"]) == ("Just in", "New text", "More text", "GREAT")
    vehicle = new["vehicle"]
    assert (vehicle["registration"], vehicle["firstRegistrationDate"], vehicle["seats"], vehicle["doors"],
            vehicle["engineCapacityCC"], vehicle["co2EmissionGPKM"], vehicle["make"], vehicle["model"],
            vehicle["colour"]) == ("AB12CDE", "2019-04-01", 4, 3, 1398, 99, "Audi", "A3", "Purple")
    bad = requests.post(f"{notifying.base_url}/_sandbox/autotrader/stock/{record['metadata']['stockId']}/change",
                        json={"colour_of_sky": "blue"}, timeout=10)
    assert bad.status_code == 400 and "colour_of_sky" in bad.json()["error"]


def test_deliver_false_returns_the_signed_request(notifying: SandboxHandle, fresh_stub: ReceiverStub) -> None:
    stock_id = _stock(notifying, _advertiser(notifying))[2]["metadata"]["stockId"]
    result = notifying.change("autotrader", stock_id, mileage=1000, deliver=False)
    (request,) = result["requests"]
    assert request["method"] == "PUT" and request["url"].endswith("/webhooks/autotrader")
    assert verify(request["headers"]["Autotrader-Signature"], request["body"].encode())
    assert json.loads(request["body"])["data"]["vehicle"]["odometerReadingMiles"] == 1000
    notifying.settle()  # every delivery the sandbox had to make is done
    assert fresh_stub.received == []


def test_duplicate_and_out_of_order_delivery(notifying: SandboxHandle, fresh_stub: ReceiverStub) -> None:
    stock_id = _stock(notifying, _advertiser(notifying))[3]["metadata"]["stockId"]
    notifying.change("autotrader", stock_id, price=20000, duplicate=2)
    copies = fresh_stub.wait_for(3)
    assert len({(r.body, r.headers["autotrader-signature"]) for r in copies}) == 1
    version = json.loads(copies[0].body)["data"]["metadata"]["versionNumber"]
    with fresh_stub.lock:
        fresh_stub.received.clear()
    notifying.change("autotrader", stock_id, price=19000, out_of_order=True)
    newer, older = fresh_stub.wait_for(2)
    assert json.loads(newer.body)["data"]["metadata"]["versionNumber"] == version + 1
    assert json.loads(older.body)["data"]["metadata"]["versionNumber"] == version
    assert json.loads(older.body)["data"]["adverts"]["retailAdverts"]["suppliedPrice"]["amountGBP"] == 20000
    assert verify(older.headers["autotrader-signature"], older.body)


def test_new_stock_and_deletions_notify_and_show_in_the_list(notifying: SandboxHandle,
                                                            fresh_stub: ReceiverStub) -> None:
    advertiser = _advertiser(notifying)
    count = len(_stock(notifying, advertiser))
    created = notifying.control("POST", f"/autotrader/advertisers/{advertiser}/stock", {"price": 15995})
    stock_id = created["stockId"]
    assert created["versionNumber"] == 1 and created["record"]["metadata"]["lifecycleState"] == "FORECOURT"
    listed = _stock(notifying, advertiser)
    assert len(listed) == count + 1 and stock_id in {r["metadata"]["stockId"] for r in listed}
    assert [r["metadata"]["stockId"] for r in listed] == sorted(r["metadata"]["stockId"] for r in listed)
    deleted = notifying.control("POST", f"/autotrader/stock/{stock_id}/delete", {"state": "WASTEBIN"})
    assert deleted["lifecycleState"] == "WASTEBIN" and deleted["versionNumber"] == 2
    assert any(r["metadata"]["lifecycleState"] == "WASTEBIN" for r in _stock(notifying, advertiser)
               if r["metadata"]["stockId"] == stock_id)
    notifying.control("POST", f"/autotrader/stock/{stock_id}/delete", {"remove": True})
    assert stock_id not in {r["metadata"]["stockId"] for r in _stock(notifying, advertiser)}
    received = fresh_stub.wait_for(3)
    states = [json.loads(r.body)["data"]["metadata"]["lifecycleState"] for r in received]
    assert states == ["FORECOURT", "WASTEBIN", "DELETED"]
    assert all(verify(r.headers["autotrader-signature"], r.body) for r in received)


def test_advertiser_change_sends_an_advertiser_notification(notifying: SandboxHandle,
                                                            fresh_stub: ReceiverStub) -> None:
    advertiser = _advertiser(notifying, 1)
    result = notifying.control("POST", f"/autotrader/advertisers/{advertiser}/change",
                               {"name": "Renamed Motors Ltd", "location": {"town": "York"}})
    (received,) = fresh_stub.wait_for(1)
    note = json.loads(received.body)
    assert note["type"] == "ADVERTISER" and note["id"] == advertiser
    assert verify(received.headers["autotrader-signature"], received.body)
    token = requests.post(f"{notifying.url('autotrader')}/authenticate",
                          data={"key": "sandbox-at-key", "secret": "sandbox-at-secret"}, timeout=10).json()["access_token"]
    listed = requests.get(f"{notifying.url('autotrader')}/advertisers",
                          params={"advertiserId": advertiser, "page": 1, "pageSize": 10},
                          headers={"Authorization": f"Bearer {token}"}, timeout=10).json()["results"][0]
    assert note["data"] == listed == result["record"]
    assert listed["name"] == "Renamed Motors Ltd" and listed["location"]["town"] == "York"
    assert all(r["advertiser"]["name"] == "Renamed Motors Ltd" for r in _stock(notifying, advertiser))


def test_retries_on_non_2xx_when_enabled(notifying: SandboxHandle, fresh_stub: ReceiverStub) -> None:
    fresh_stub.statuses.extend([500, 503])
    notifying.configure(autotrader_notification_retries=3, autotrader_notification_retry_interval=0.1)
    try:
        stock_id = _stock(notifying, _advertiser(notifying))[4]["metadata"]["stockId"]
        first = notifying.change("autotrader", stock_id, mileage=777)["delivered"]
        assert [d["status"] for d in first] == [500]
        notifying.settle()
        received = fresh_stub.wait_for(3)
        assert len(received) == 3 and len({r.body for r in received}) == 1
        attempts = [d for d in notifying.deliveries(vendor="autotrader") if d["event"] == f"STOCK_UPDATE {stock_id}"]
        assert [(d["attempt"], d["status"]) for d in attempts][-3:] == [(1, 500), (2, 503), (3, 200)]
    finally:
        notifying.configure(autotrader_notification_retries=0)


def test_without_a_receiver_the_change_still_applies(notifying: SandboxHandle, stub: ReceiverStub) -> None:
    stock_id = _stock(notifying, _advertiser(notifying, 1))[0]["metadata"]["stockId"]
    notifying.configure(receiver_url=None)
    try:
        result = notifying.change("autotrader", stock_id, attention_grabber="Changed without receiver")
    finally:
        notifying.configure(receiver_url=stub.url)
    assert result["delivered"] == [] and "no receiver" in result["note"]
    assert notifying.control("GET", f"/autotrader/stock/{stock_id}")["adverts"]["retailAdverts"][
        "attentionGrabber"] == "Changed without receiver"

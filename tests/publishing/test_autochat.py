"""Autochat go-live checks (ACH-AUTH-1, ACH-CAR-1/2/3) through the real `publishing/autochat` asset,
against the sandbox over HTTP, judged from its call log, its stored cars and our store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from dealer_pipeline.defs.publishing.autochat import AUTOCHAT_KEY
from dealer_pipeline.http.tokens import derive_fernet
from dealer_pipeline.publishing.autochat import OptionIndex, car_body
from dealer_pipeline.sandbox.calllog import hash_token
from dealer_pipeline.settings import get_settings
from dealer_pipeline.store.schema import api_blocks, api_tokens, publications
from dealer_pipeline.vendors.autochat import AutochatClient
from tests.publishing.channels_fixtures import Channels
from tests.support.runs import metadata_of

CARS = "/api/cars"


def _ops(calls: list[dict]) -> Counter:
    return Counter(f"{c['method']} {c['status']}" for c in calls if c["path"].startswith(CARS))


def test_ach_car_1_cars_created_with_the_documented_schema_and_images(channels: Channels) -> None:
    """ACH-CAR-1: every car goes out as §1.4 says (the sandbox refuses unknown fields and a missing
    `images`), brand/model/enumerations lower-cased, mileage in KM, price with its currency."""
    br = channels.dealer(source="webmotors", autochat=True)
    uk = channels.dealer(source="autotrader", autochat=True)
    for entry in (br, uk):
        channels.sync(entry)
    channels.mark()
    for entry in (br, uk):
        result = channels.publish_autochat(entry.dealer_id)
        assert result.success
        assert metadata_of(result, AUTOCHAT_KEY)["succeeded"] > 0

    calls = channels.calls("autochat")
    posts = [c for c in calls if c["method"] == "POST" and c["path"] == CARS]
    assert posts and all(c["status"] == 201 for c in posts)
    assert _ops(calls) == Counter({"POST 201": len(posts)})
    assert len([c for c in calls if c["path"] == "/api/options"]) == 2  # once per run

    for entry in (br, uk):
        pubs = channels.publications("autochat", entry.dealer_id)
        active = {p["external_id"]: p for p in pubs.values() if p["state"] == "active"}
        cars = {c["internalId"]: c for c in channels.cars(entry.autochat_dealership_id)}
        assert set(cars) == set(active)
        with channels.engine.connect() as conn:
            vehicles = {r.vehicle_id: r for r in conn.execute(sa.text(
                "SELECT vehicle_id, make, price_amount, price_currency, mileage_km FROM vehicles WHERE dealer_id = :d"
            ), {"d": entry.dealer_id})}
        for pub in active.values():
            car, vehicle = cars[pub["external_id"]], vehicles[pub["vehicle_id"]]
            assert isinstance(car["images"], list) and car["images"]
            assert all(url.startswith("http") for url in car["images"])
            assert car["dealershipId"] == entry.autochat_dealership_id
            assert car["brand"] == vehicle.make.lower() and car["brand"] == car["brand"].lower()
            for key in ("model", "fuelType", "transmission", "bodyColor", "bodyType"):
                assert key not in car or car[key] == car[key].lower()
            assert car["mileage"] == vehicle.mileage_km and car["mileageUnit"] == "KM"
            assert Decimal(str(car["salesPrice"])) == Decimal(vehicle.price_amount).quantize(Decimal("0.01"))
            assert car["currency"] == vehicle.price_currency == ("BRL" if entry is br else "GBP")
            assert pub["payload"] == {k: v for k, v in car.items() if k != "id"}
        held = [p for p in pubs.values() if p["state"] != "active"]
        assert all(p["last_op"] == "hold" and p["last_error"] for p in held)
        assert not any(p["external_id"] in cars for p in held)

    channels.mark()
    again = channels.publish_autochat(br.dealer_id)
    assert again.success
    assert _ops(channels.calls("autochat")) == Counter()  # unchanged stock: nothing sent


def test_ach_car_1_images_key_is_sent_even_without_images() -> None:
    """ACH-CAR-1: `images` is present (`[]`) when a vehicle has none or none usable."""
    index = OptionIndex([{"name": "abs", "prettyName": "ABS"}])
    for images in (None, [], ["/relative.jpg", "ftp://x/y.jpg"]):
        body, flags = car_body({"make": "BMW", "model": "X6", "images": images, "features": None},
                               dealership_id="dlr-1", internal_id="at-1", options=index)
        assert body["images"] == []
        assert body["brand"] == "bmw" and body["model"] == "x6"
        if images and images[0] == "/relative.jpg":
            assert flags["dropped_images"] == images


def test_ach_car_2_features_map_to_option_names_of_the_current_list() -> None:
    """ACH-CAR-2: the table, then an option's own name or prettyName; a name missing from the list is
    reported as unknown and a feature with no option as unmapped, neither is sent."""
    index = OptionIndex([{"name": "rear_view_camera", "prettyName": "Rear view camera"},
                         {"name": "apple_carplay", "prettyName": "Apple CarPlay"},
                         {"name": "ac", "prettyName": "Air conditioning"}])
    features = [{"name": "Reversing camera", "genericName": "Reversing camera"},   # table
                {"name": "Apple CarPlay"},                                          # snake_case name
                "Ar-condicionado",                                                  # table, Portuguese
                {"name": "Privacy glass"},                                          # table -> not in the list
                {"name": "DAB radio", "genericName": "DAB radio"},                  # nothing
                {"name": "360 degree camera", "genericName": "Surround view camera"}]  # same option twice
    match = index.match(features)
    assert match.names == ("rear_view_camera", "apple_carplay", "ac")
    assert match.unknown == ("Privacy glass -> dark_tinted_glass",)
    assert match.unmapped == ("DAB radio",)
    assert OptionIndex([{"name": "x"}], {"dab radio": ["x"]}).match(features).names == ("x",)


def test_ach_car_2_options_sent_by_name_unknown_ones_dropped_and_flagged(channels: Channels) -> None:
    """ACH-CAR-2: options come from `GET /api/options` (once per run) and go out by `name`; a feature
    mapped to a name the list lacks, or with no mapping at all, is dropped and flagged, never sent."""
    entry = channels.dealer(source="webmotors", autochat=True)
    channels.sync(entry)
    removed = {"rear_view_camera", "cruise_control", "passenger_airbag", "alloy_wheels"}
    everything = _options(channels)
    listed = [o for o in everything if o not in removed]
    assert len(listed) == len(everything) - len(removed)
    channels.sandbox.control("POST", "/autochat/config", {"options": {"production": listed}})
    channels.mark()

    result = channels.publish_autochat(entry.dealer_id)
    assert result.success
    calls = channels.calls("autochat")
    assert [c["status"] for c in calls if c["path"] == "/api/options"] == [200]
    assert all(c["status"] == 201 for c in calls if c["path"] == CARS)  # no 400 for options
    cars = channels.cars(entry.autochat_dealership_id)
    sent = [name for car in cars for name in car.get("options", [])]
    assert sent and set(sent) <= set(listed) and not set(sent) & removed

    pubs = channels.publications("autochat", entry.dealer_id)
    unknown = [u for p in pubs.values() for u in (p["flags"] or {}).get("unknown_options", [])]
    unmapped = [u for p in pubs.values() for u in (p["flags"] or {}).get("unmapped_features", [])]
    assert unknown and all(u.split(" -> ")[1] not in listed for u in unknown)
    assert {u.split(" -> ")[1] for u in unknown} & removed
    assert unmapped  # e.g. "Desembaçador traseiro": no Autochat option at all
    metadata = metadata_of(result, AUTOCHAT_KEY)
    assert metadata["dropped_options"] == len(unknown) + len(unmapped)
    assert metadata["unknown_options"] and metadata["unmapped_features"]


def _options(channels: Channels) -> list[str]:
    client = AutochatClient.from_settings(engine=channels.engine)
    try:
        return [o["name"] for o in client.options()]
    finally:
        client.close()


def test_ach_car_3_changes_update_the_car_and_sold_cars_are_deleted_once(channels: Channels) -> None:
    """ACH-CAR-3: a changed vehicle is replaced (PUT), a sold one deleted (DELETE) once; then nothing."""
    entry = channels.dealer(source="webmotors", autochat=True)
    channels.sync(entry)
    assert channels.publish_autochat(entry.dealer_id).success
    active = sorted((p for p in channels.publications("autochat", entry.dealer_id).values()
                     if p["state"] == "active"), key=lambda p: p["vehicle_id"])
    changed, sold = active[0], active[1]
    changed_ad, sold_ad = changed["vehicle_id"].split(":")[1], sold["vehicle_id"].split(":")[1]
    new_price = Decimal(str(changed["payload"]["salesPrice"])) + 1000
    channels.sandbox.control("POST", f"/webmotors/stock/{changed_ad}/change", {"price": f"{new_price:.2f}"})
    channels.sandbox.control("POST", f"/webmotors/stock/{sold_ad}/change", {"status": "Vendido"})
    channels.sync(entry)
    channels.mark()

    assert channels.publish_autochat(entry.dealer_id).success
    calls = [c for c in channels.calls("autochat") if c["path"].startswith(CARS)]
    assert Counter((c["method"], c["path"], c["status"]) for c in calls) == Counter(
        [("PUT", f"{CARS}/{changed['external_id']}", 200), ("DELETE", f"{CARS}/{sold['external_id']}", 204)])
    car = channels.sandbox.control("GET", f"/autochat/cars/{changed['external_id']}")
    assert Decimal(str(car["salesPrice"])) == new_price
    channels.sandbox.control("GET", f"/autochat/cars/{sold['external_id']}", expect=(404,))
    pubs = channels.publications("autochat", entry.dealer_id)
    assert pubs[sold["vehicle_id"]]["state"] == "deleted" and pubs[changed["vehicle_id"]]["last_op"] == "price"

    channels.mark()
    assert channels.publish_autochat(entry.dealer_id).success
    assert _ops(channels.calls("autochat")) == Counter()  # the sold car is deleted once, never again


def test_ach_car_3_integration_off_stops_that_dealer_only(channels: Channels) -> None:
    """ACH-CAR-3: a 403 (stock integration off) is met once; nothing more is sent for that dealer
    (an `api_blocks` row says what to do) while another dealer's cars are created."""
    off = channels.dealer(source="webmotors", autochat=True)
    other = channels.dealer(source="autotrader", autochat=True)
    for entry in (off, other):
        channels.sync(entry)
    channels.sandbox.control("POST", f"/autochat/dealerships/{off.autochat_dealership_id}",
                             {"integration_enabled": False})
    channels.mark()

    result = channels.publish_autochat(off.dealer_id)
    assert result.success
    assert _ops(channels.calls("autochat")) == Counter({"POST 403": 1})
    metadata = metadata_of(result, AUTOCHAT_KEY)
    assert len(metadata["blocks"]) == 1 and metadata["not_sent"] > 0
    with channels.engine.connect() as conn:
        blocks = conn.execute(sa.select(api_blocks).where(api_blocks.c.vendor == "autochat")).mappings().all()
        errors = conn.execute(sa.select(publications.c.last_error).where(
            publications.c.target == "autochat", publications.c.dealer_id == off.dealer_id)).scalars().all()
    assert [(b["dealer_id"], b["reason"]) for b in blocks] == [(off.dealer_id, "403")]
    assert "dashboard" in blocks[0]["action"] and blocks[0]["resolved_at"] is None
    assert errors and all(e for e in errors)

    channels.mark()
    assert channels.publish_autochat(off.dealer_id).success
    assert channels.calls("autochat") == []  # not even the option list for a blocked dealer
    assert channels.publish_autochat(other.dealer_id).success
    ops = _ops(channels.calls("autochat"))
    assert ops["POST 201"] > 0 and set(ops) == {"POST 201"}
    assert channels.cars(off.autochat_dealership_id) == []


def test_autochat_field_errors_are_recorded_and_not_retried(channels: Channels) -> None:
    """A 400 is stored with its field map on the publication; that body is not sent again."""
    entry = channels.dealer(source="webmotors", autochat=True)
    channels.sync(entry)
    channels.sandbox.fault(vendor="autochat", method="POST", path=CARS, status=400, times=1,
                           body={"errors": {"images": ["required"], "options": ["unknown option: x"]}})
    channels.mark()
    assert channels.publish_autochat(entry.dealer_id).success
    ops = _ops(channels.calls("autochat"))
    assert ops["POST 400"] == 1 and ops["POST 201"] > 0
    refused = [p for p in channels.publications("autochat", entry.dealer_id).values() if p["last_status"] == 400]
    assert len(refused) == 1
    assert refused[0]["last_error"] == "400 images: required; options: unknown option: x"
    assert refused[0]["flags"]["field_errors"] == {"images": ["required"], "options": ["unknown option: x"]}
    assert refused[0]["state"] == "error"

    channels.mark()
    assert channels.publish_autochat(entry.dealer_id).success
    assert _ops(channels.calls("autochat")) == Counter()  # the refused body waits for the data to change


def test_autochat_lost_outcomes_are_reconciled_409_to_put_and_404_to_post(channels: Channels) -> None:
    """A create whose outcome was lost meets 409 and becomes a PUT; a replace of a car Autochat no
    longer has meets 404 and becomes a POST. No car is duplicated or left out."""
    entry = channels.dealer(source="webmotors", autochat=True)
    channels.sync(entry)
    assert channels.publish_autochat(entry.dealer_id).success
    cars_before = {c["internalId"] for c in channels.cars(entry.autochat_dealership_id)}
    with channels.engine.begin() as conn:
        conn.execute(sa.delete(publications).where(publications.c.target == "autochat"))
    channels.mark()
    assert channels.publish_autochat(entry.dealer_id).success
    ops = _ops(channels.calls("autochat"))
    assert ops == Counter({"POST 409": len(cars_before), "PUT 200": len(cars_before)})
    pubs = channels.publications("autochat", entry.dealer_id)
    assert {p["external_id"] for p in pubs.values() if p["state"] == "active"} == cars_before
    assert {p["last_op"] for p in pubs.values() if p["state"] == "active"} == {"replace"}

    gone = sorted(cars_before)[0]
    client = AutochatClient.from_settings(engine=channels.engine)
    try:
        assert client.delete(gone, dealer_id=entry.dealer_id).status == 204
    finally:
        client.close()
    pub = next(p for p in pubs.values() if p["external_id"] == gone)
    km = pub["payload"]["mileage"] + 1
    channels.sandbox.control("POST", f"/webmotors/stock/{pub['vehicle_id'].split(':')[1]}/change", {"km": km})
    channels.sync(entry)
    channels.mark()
    assert channels.publish_autochat(entry.dealer_id).success
    calls = [(c["method"], c["path"], c["status"]) for c in channels.calls("autochat") if c["path"].startswith(CARS)]
    assert calls == [("PUT", f"{CARS}/{gone}", 404), ("POST", CARS, 201)]
    assert channels.sandbox.control("GET", f"/autochat/cars/{gone}")["mileage"] == km


def test_ach_auth_1_expired_token_is_replaced_once_and_the_call_retried(channels: Channels) -> None:
    """ACH-AUTH-1 (401 rule): a token refused mid-run is replaced once and the call retried once."""
    entry = channels.dealer(source="webmotors", autochat=True)
    channels.sync(entry)
    assert channels.publish_autochat(entry.dealer_id).success  # first token
    first = _first_active(channels, entry.dealer_id)
    channels.sandbox.control("POST", f"/webmotors/stock/{first['vehicle_id'].split(':')[1]}/change",
                             {"km": first["payload"]["mileage"] + 1})
    channels.sync(entry)
    channels.sandbox.fault(vendor="autochat", method="PUT", path=CARS, expire_token=True, times=1)
    before = channels.token_requests()
    channels.mark()
    assert channels.publish_autochat(entry.dealer_id).success
    assert _ops(channels.calls("autochat")) == Counter({"PUT 401": 1, "PUT 200": 1})
    assert channels.token_requests() == before + 1


def _first_active(channels: Channels, dealer_id: str) -> dict:
    return min((p for p in channels.publications("autochat", dealer_id).values() if p["state"] == "active"),
               key=lambda p: p["vehicle_id"])


_RUN_ONE = """
import json, sys
import dagster as dg
from dealer_pipeline.defs.publishing.autochat import AutochatResource, publish_autochat
from dealer_pipeline.defs.publishing.partitions import PUBLISHED_DEALER
from dealer_pipeline.defs.resources import StoreResource
dealer = sys.argv[1]
with dg.DagsterInstance.ephemeral() as instance:
    instance.add_dynamic_partitions(PUBLISHED_DEALER.name, [dealer])
    result = dg.materialize([publish_autochat], instance=instance, partition_key=dealer, raise_on_error=False,
                            resources={"autochat": AutochatResource(), "store": StoreResource()})
print(json.dumps({"success": result.success}))
"""


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_ach_auth_1_one_token_across_processes(channels: Channels) -> None:
    """ACH-AUTH-1: two runs in two processes at once share one token (one token request in the sandbox's
    count), kept for its 24 h lifetime and stored encrypted."""
    dealers = [channels.dealer(source="webmotors", autochat=True), channels.dealer(source="autotrader", autochat=True)]
    for entry in dealers:
        channels.sync(entry)
    before = channels.token_requests()
    channels.mark()
    runs = [subprocess.Popen([sys.executable, "-c", _RUN_ONE, entry.dealer_id], env=dict(os.environ),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for entry in dealers]
    for run in runs:  # concurrently: the store's token lease lets only one of them ask
        out, err = run.communicate(timeout=180)
        assert run.returncode == 0, err[-2000:]
        assert json.loads(out.strip().splitlines()[-1]) == {"success": True}
    assert channels.token_requests() == before + 1
    calls = channels.calls("autochat")
    assert [c["path"] for c in calls if c["path"].endswith("/oauth/token")] == ["/oauth/token"]
    used = {c["token"] for c in calls if c["path"].startswith("/api/")}
    assert len(used) == 1 and None not in used
    assert all(any(p["state"] == "active" for p in channels.publications("autochat", d.dealer_id).values())
               for d in dealers)  # both runs published
    with channels.engine.connect() as conn:
        row = conn.execute(sa.select(api_tokens).where(api_tokens.c.vendor == "autochat")).mappings().one()
    assert row["expires_at"] - row["obtained_at"] == timedelta(seconds=86400)  # kept for its lifetime
    token = derive_fernet(get_settings().autochat_client_secret, row["token_key"]).decrypt(
        row["ciphertext"].encode()).decode()
    assert hash_token(token) in used and token not in row["ciphertext"]  # the one token, stored encrypted

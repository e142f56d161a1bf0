"""Autotrader STOCK_UPDATE notifications, delivered over HTTP to the receiver and applied.

Each test names the go-live check it proves. Notifications are signed here with `hmac`
(tests/webhooks/fixtures.py); the store is shared per module and backend, with a fresh
stockId per test.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from dealer_pipeline.events import apply_events
from dealer_pipeline.webhooks.runner import ReceiverHandle
from tests.events.helpers import changed_fields, deliver, deliver_and_apply, event, vehicle
from tests.events.records import new_stock_id, notification, stock_record


def _created(receiver: ReceiverHandle, engine: sa.Engine, stock_id: str, **kw) -> dict:
    record = stock_record(stock_id, 1, **kw)
    summary = deliver_and_apply(receiver, engine, notification(record))
    assert summary.applied == 1, summary.as_dict()
    return record


def _update(receiver: ReceiverHandle, engine: sa.Engine, record: dict, version: int, change) -> None:
    record["metadata"]["versionNumber"] = version
    change(record)
    summary = deliver_and_apply(receiver, engine, notification(record))
    assert (summary.applied, summary.failed, summary.ignored) == (1, 0, 0), summary.as_dict()


def test_at_notif_3_stock_update_is_recognised_and_applied(receiver: ReceiverHandle, module_engine: sa.Engine) -> None:
    stock_id = new_stock_id()
    event_id = deliver(receiver, notification(stock_record(stock_id, 4)))
    assert event(module_engine, event_id)["status"] == "pending"
    summary = apply_events(module_engine, event_ids=[event_id])
    assert summary.applied == 1 and summary.by_type == {"autotrader:STOCK_UPDATE": 1}
    stored = event(module_engine, event_id)
    assert (stored["status"], stored["attempts"], stored["error"]) == ("applied", 1, None)
    assert stored["processed_at"] is not None
    assert vehicle(module_engine, stock_id)["source_version"] == 4
    # Applying again changes nothing: the event is no longer pending.
    assert apply_events(module_engine, event_ids=[event_id]).processed == 0
    assert event(module_engine, event_id)["attempts"] == 1


def test_at_create_1_stock_created_from_its_notification(receiver: ReceiverHandle, module_engine: sa.Engine) -> None:
    stock_id = new_stock_id()
    _created(receiver, module_engine, stock_id)
    row = vehicle(module_engine, stock_id)
    assert (row["make"], row["model"], row["availability"]) == ("Hyundai", "Tucson", "available")
    assert row["raw"]["metadata"]["stockId"] == stock_id  # the vendor record kept beside the row
    assert row["first_seen_at"] is not None


def test_at_create_2_identifiers_are_stored(receiver: ReceiverHandle, module_engine: sa.Engine) -> None:
    stock_id = new_stock_id()
    _created(receiver, module_engine, stock_id, advertiser_id="10099887")
    row = vehicle(module_engine, stock_id)
    assert row["source_vehicle_id"] == stock_id
    assert row["search_id"] == "202605309845233"
    assert row["dealer_id"] == "autotrader:10099887"
    assert row["external_stock_reference"] == "STK417"
    assert row["external_stock_id"] == "DMS-000417"


def test_at_avail_1_dealer_site_visibility_follows_advertiser_advert(receiver: ReceiverHandle,
                                                                     module_engine: sa.Engine) -> None:
    stock_id = new_stock_id()
    record = _created(receiver, module_engine, stock_id)
    assert vehicle(module_engine, stock_id)["shown_on_dealer_site"] is True

    def hide(r: dict) -> None:
        r["adverts"]["retailAdverts"]["advertiserAdvert"]["status"] = "NOT_PUBLISHED"

    _update(receiver, module_engine, record, 2, hide)
    assert vehicle(module_engine, stock_id)["shown_on_dealer_site"] is False
    assert changed_fields(module_engine, stock_id)["shown_on_dealer_site"] == (True, False)


def test_at_avail_2_availability_follows_reservation_and_lifecycle(receiver: ReceiverHandle,
                                                                   module_engine: sa.Engine) -> None:
    steps = [
        (lambda r: r["adverts"].update(reservationStatus="Reserved"), "reserved"),
        (lambda r: r["adverts"].update(reservationStatus=None), "available"),
        (lambda r: r["metadata"].update(lifecycleState="SOLD"), "sold"),
    ]
    stock_id = new_stock_id()
    record = _created(receiver, module_engine, stock_id)
    for version, (change, expected) in enumerate(steps, start=2):
        _update(receiver, module_engine, record, version, change)
        assert vehicle(module_engine, stock_id)["availability"] == expected
    for state in ("WASTEBIN", "DELETED"):  # deletions arrive as STOCK_UPDATE lifecycle states
        other = new_stock_id()
        doomed = _created(receiver, module_engine, other)
        _update(receiver, module_engine, doomed, 2, lambda r: r["metadata"].update(lifecycleState=state))
        row = vehicle(module_engine, other)
        assert (row["availability"], row["lifecycle_state"]) == ("removed", state)


def test_at_upd_vehicle_fields_update(receiver: ReceiverHandle, module_engine: sa.Engine) -> None:
    stock_id = new_stock_id()
    record = _created(receiver, module_engine, stock_id)

    def change(r: dict) -> None:
        r["vehicle"].update(make="Kia", model="Sportage", odometerReadingMiles=46000, firstRegistrationDate="2018-04-02",
                            derivativeId="0123456789abcdef0123456789abcdef", seats=7, doors=3, engineCapacityCC=1999,
                            co2EmissionGPKM=160)

    _update(receiver, module_engine, record, 2, change)
    fields = changed_fields(module_engine, stock_id)
    assert fields["make"] == ("Hyundai", "Kia") and fields["model"] == ("Tucson", "Sportage")
    assert fields["mileage_km"] == (72420, 74030)  # miles converted to km
    assert fields["first_registration_date"] == ("2018-03-29", "2018-04-02")
    assert fields["derivative_id"][1] == "0123456789abcdef0123456789abcdef"
    assert (fields["seats"], fields["doors"]) == ((5, 7), (5, 3))
    assert (fields["engine_cc"], fields["co2_g_km"]) == ((1591, 1999), (147, 160))
    row = vehicle(module_engine, stock_id)
    assert (row["make"], row["mileage_km"], row["source_version"]) == ("Kia", 74030, 2)


def test_at_upd_media_fields_update(receiver: ReceiverHandle, module_engine: sa.Engine) -> None:
    stock_id = new_stock_id()
    record = _created(receiver, module_engine, stock_id)

    def change(r: dict) -> None:
        r["media"] = {"images": [{"imageId": "a1", "href": "https://m.atcdn.co.uk/a/media/{resize}/a1.jpg"},
                                 {"imageId": "b2", "href": "https://m.atcdn.co.uk/a/media/{resize}/b2.jpg"}],
                      "video": {"href": "https://www.youtube.com/watch?v=YYYYYYYYYYY"},
                      "spin": {"href": "https://spin.example.com/360/abc"}}

    _update(receiver, module_engine, record, 2, change)
    row = vehicle(module_engine, stock_id)
    assert row["images"] == ["https://m.atcdn.co.uk/a/media/w800/a1.jpg", "https://m.atcdn.co.uk/a/media/w800/b2.jpg"]
    assert row["video_url"] == "https://www.youtube.com/watch?v=YYYYYYYYYYY"
    assert row["spin_url"] == "https://spin.example.com/360/abc"
    assert {"images", "video_url", "spin_url"} <= set(changed_fields(module_engine, stock_id))


def test_at_upd_advert_fields_update(receiver: ReceiverHandle, module_engine: sa.Engine) -> None:
    stock_id = new_stock_id()
    record = _created(receiver, module_engine, stock_id)

    def change(r: dict) -> None:
        r["adverts"]["retailAdverts"].update(attentionGrabber="One owner", description="Now with new tyres.",
                                             description2="Delivery available.", priceIndicatorRating="GREAT")

    _update(receiver, module_engine, record, 2, change)
    fields = changed_fields(module_engine, stock_id)
    assert fields["attention_grabber"] == ("Full service history", "One owner")
    assert fields["description"][1] == "Now with new tyres."
    assert fields["description2"] == ("Finance available. Part exchange welcome.", "Delivery available.")
    assert fields["price_indicator_rating"] == ("GOOD", "GREAT")


def test_at_upd_price_fields_update(receiver: ReceiverHandle, module_engine: sa.Engine) -> None:
    stock_id = new_stock_id()
    record = _created(receiver, module_engine, stock_id)

    def change(r: dict) -> None:
        r["adverts"]["retailAdverts"].update(suppliedPrice={"amountGBP": 10495}, adminFee={"amountGBP": 249},
                                             totalPrice={"amountGBP": 10744}, vatStatus="Inc VAT")

    _update(receiver, module_engine, record, 2, change)
    row = vehicle(module_engine, stock_id)
    assert (row["supplied_price_amount"], row["admin_fee_amount"], row["price_amount"]) == (
        Decimal("10495.00"), Decimal("249.00"), Decimal("10744.00"))
    assert (row["price_currency"], row["vat_status"]) == ("GBP", "Inc VAT")
    assert set(changed_fields(module_engine, stock_id)) >= {"supplied_price_amount", "admin_fee_amount",
                                                            "price_amount", "vat_status"}


def test_at_upd_features_standard_and_optional_update(receiver: ReceiverHandle, module_engine: sa.Engine) -> None:
    stock_id = new_stock_id()
    record = _created(receiver, module_engine, stock_id)

    def change(r: dict) -> None:
        r["features"].append({"name": "Heated seats", "genericName": "Heated seats", "type": "Optional",
                              "category": "Interior", "basicPrice": 300, "vatPrice": 360, "factoryFitted": False,
                              "rarityRating": None, "valueRating": None})
        r["features"][0]["name"] = "Rear parking camera"

    _update(receiver, module_engine, record, 2, change)
    features = vehicle(module_engine, stock_id)["features"]
    assert [(f["name"], f["type"]) for f in features] == [
        ("Rear parking camera", "Standard"), ("Panoramic sunroof", "Optional"), ("Heated seats", "Optional")]
    assert "features" in changed_fields(module_engine, stock_id)


def test_at_upd_highlights_and_feature_ratings_update(receiver: ReceiverHandle, module_engine: sa.Engine) -> None:
    stock_id = new_stock_id()
    record = _created(receiver, module_engine, stock_id)

    def change(r: dict) -> None:
        r["highlights"] = [{"name": "Low mileage"}, {"name": "Full service history"}]
        r["features"][1].update(rarityRating=4, valueRating=3)

    _update(receiver, module_engine, record, 2, change)
    row = vehicle(module_engine, stock_id)
    assert row["highlights"] == [{"name": "Low mileage"}, {"name": "Full service history"}]
    sunroof = row["features"][1]
    assert (sunroof["rarityRating"], sunroof["valueRating"]) == (4, 3)
    assert {"highlights", "features"} <= set(changed_fields(module_engine, stock_id))


def test_three_deliveries_and_out_of_order_apply_once_and_newest_wins(receiver: ReceiverHandle,
                                                                       module_engine: sa.Engine) -> None:
    stock_id = new_stock_id()
    v2, v1, v3 = (stock_record(stock_id, v) for v in (2, 1, 3))
    v2["adverts"]["retailAdverts"]["totalPrice"] = {"amountGBP": 11000}
    v3["adverts"]["retailAdverts"]["totalPrice"] = {"amountGBP": 10500}
    ids = [deliver(receiver, notification(v2)) for _ in range(3)]
    assert ids[0] is not None and ids[1:] == [None, None]  # stored once
    late = deliver(receiver, notification(v1))  # older, arriving later
    newest = deliver(receiver, notification(v3))
    summary = apply_events(module_engine, event_ids=[ids[0], late, newest])
    assert (summary.applied, summary.ignored) == (2, 1)
    assert event(module_engine, late)["status"] == "ignored"
    assert event(module_engine, late)["error"] == "version 1 not newer than stored 2"
    assert deliver(receiver, notification(v2)) is None  # a fourth delivery of v2, after v3
    row = vehicle(module_engine, stock_id)
    assert (row["source_version"], row["price_amount"]) == (3, Decimal("10500.00"))
    assert changed_fields(module_engine, stock_id)["price_amount"] == (11000, 10500)


def test_old_version_arriving_after_apply_is_ignored_with_both_versions(receiver: ReceiverHandle,
                                                                        module_engine: sa.Engine) -> None:
    stock_id = new_stock_id()
    deliver_and_apply(receiver, module_engine, notification(stock_record(stock_id, 9)))
    old = deliver(receiver, notification(stock_record(stock_id, 8)))
    summary = apply_events(module_engine, event_ids=[old])
    assert summary.ignored == 1
    stored = event(module_engine, old)
    assert (stored["status"], stored["error"]) == ("ignored", "version 8 not newer than stored 9")
    assert vehicle(module_engine, stock_id)["source_version"] == 9


def test_a_bad_event_is_failed_alone_and_the_others_apply(receiver: ReceiverHandle, module_engine: sa.Engine) -> None:
    good_before, good_after = new_stock_id(), new_stock_id()
    no_stock_id = stock_record("", 1)
    first = deliver(receiver, notification(stock_record(good_before, 1)))
    bad = deliver(receiver, {"id": "x", "time": "2026-06-02T09:00:00Z", "type": "STOCK_UPDATE", "data": no_stock_id})
    not_a_record = deliver(receiver, {"id": "y", "time": "2026-06-02T09:00:00Z", "type": "STOCK_UPDATE",
                                      "data": "not a record"})
    last = deliver(receiver, notification(stock_record(good_after, 1)))
    summary = apply_events(module_engine, event_ids=[first, bad, not_a_record, last])
    assert (summary.applied, summary.failed) == (2, 2)
    assert event(module_engine, bad)["status"] == "failed"
    assert "stockId" in event(module_engine, bad)["error"]
    assert "not a JSON object" in event(module_engine, not_a_record)["error"]
    assert vehicle(module_engine, good_before) and vehicle(module_engine, good_after)


def test_unhandled_types_are_ignored_with_the_reason(receiver: ReceiverHandle, module_engine: sa.Engine) -> None:
    event_id = deliver(receiver, {"id": new_stock_id(), "time": "2026-06-02T09:00:00Z", "type": "DEAL_CREATE",
                                  "data": {"dealId": "d-1"}})
    assert apply_events(module_engine, event_ids=[event_id]).ignored == 1
    assert event(module_engine, event_id)["error"] == "type DEAL_CREATE is not handled"


def test_derivative_or_features_change_asks_for_enrichment_refetch(receiver: ReceiverHandle,
                                                                    module_engine: sa.Engine) -> None:
    stock_id = new_stock_id()
    record = _created(receiver, module_engine, stock_id)
    record["metadata"]["versionNumber"] = 2
    record["adverts"]["retailAdverts"]["attentionGrabber"] = "Price drop"
    price_only = deliver_and_apply(receiver, module_engine, notification(record))
    assert (price_only.applied, price_only.refetch_requested) == (1, 0)
    record["metadata"]["versionNumber"] = 3
    record["vehicle"]["derivativeId"] = "fedcba9876543210fedcba9876543210"
    derivative = deliver_and_apply(receiver, module_engine, notification(record))
    assert (derivative.applied, derivative.refetch_requested) == (1, 1)

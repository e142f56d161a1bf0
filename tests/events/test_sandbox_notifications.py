"""Go-live checks of notifications, end to end: the sandbox changes a record and delivers the
signed notification to the receiver (subprocess) over HTTP; the events are applied and the
vendor calls they ask for (features, charge times) go to the sandbox. Named by check ID."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from dealer_pipeline.sandbox.reference import PLUGGABLE_FUEL_TYPES, UK_DERIVATIVES
from dealer_pipeline.sandbox.runner import SandboxHandle
from dealer_pipeline.store.schema import agency_links, leads, vehicle_changes, webhook_events
from dealer_pipeline.webhooks.runner import ReceiverHandle
from tests.events.helpers import dealer, deliver, event, vehicle
from tests.events.sandbox_fixtures import SANDBOX_CREDENTIALS, Applied, apply_pending_of, delivered_statuses

pytestmark = pytest.mark.usefixtures("vendor_sandbox")


def _advertiser(sandbox: SandboxHandle, index: int = 0) -> str:
    live = [a for a in sandbox.world()["autotrader"] if a["on_integration"] and a["stock_sync"]]
    return live[index]["advertiser_id"]


def _new_stock(sandbox: SandboxHandle, engine: sa.Engine, **change: Any) -> tuple[str, dict[str, Any]]:
    """A new, unreserved stock item (generated records are sometimes reserved), applied."""
    change = {"reservation": None, **change}
    result = sandbox.control("POST", f"/autotrader/advertisers/{_advertiser(sandbox)}/stock", change)
    assert delivered_statuses(result) == [200]
    applied = apply_pending_of(engine, "autotrader", result["stockId"])
    assert applied.summary.applied == 1, applied.summary.as_dict()
    return result["stockId"], result["record"]


def _change(sandbox: SandboxHandle, engine: sa.Engine, stock_id: str, **change: Any) -> Applied:
    result = sandbox.change("autotrader", stock_id, **change)
    assert delivered_statuses(result) == [200]
    applied = apply_pending_of(engine, "autotrader", stock_id)
    assert (applied.summary.applied, applied.summary.failed) == (1, 0), applied.summary.as_dict()
    return applied


def _changes(engine: sa.Engine, stock_id: str) -> dict[str, tuple[Any, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(vehicle_changes).where(vehicle_changes.c.vehicle_id == f"autotrader:{stock_id}",
                                                             vehicle_changes.c.cause == "notification")
                            .order_by(vehicle_changes.c.id)).mappings().all()
    load = lambda text: None if text is None else json.loads(text)  # noqa: E731
    return {r["field"]: (load(r["old_value"]), load(r["new_value"])) for r in rows}


def _calls(sandbox: SandboxHandle, since: int, stock_id: str) -> list[str]:
    return [c["path"].rsplit("/", 1)[-1] for c in sandbox.calls(vendor="autotrader", since=since)
            if f"/stock/{stock_id}/" in c["path"]]


def test_at_notif_1_signed_notification_answered_2xx_in_the_call_log(vendor_sandbox: SandboxHandle,
                                                                      module_engine: sa.Engine) -> None:
    stock_id, _ = _new_stock(vendor_sandbox, module_engine)
    since = vendor_sandbox.deliveries(vendor="autotrader")[-1]["seq"]
    vendor_sandbox.change("autotrader", stock_id, price=9995)
    (delivery,) = vendor_sandbox.deliveries(vendor="autotrader", since=since)
    assert (delivery["method"], delivery["status"]) == ("PUT", 200)
    assert delivery["duration_ms"] < 1000
    with module_engine.connect() as conn:
        keys = conn.execute(sa.select(webhook_events.c.event_key).where(webhook_events.c.subject_id == stock_id)).scalars()
        assert sorted(keys) == [f"{stock_id}:1", f"{stock_id}:2"]


def test_at_notif_2_signature_mismatch_answered_403_and_nothing_stored(vendor_sandbox: SandboxHandle,
                                                                       module_engine: sa.Engine) -> None:
    stock_id, _ = _new_stock(vendor_sandbox, module_engine)
    vendor_sandbox.configure(credentials={"autotrader_webhook_secret": "a-secret-the-receiver-does-not-know"})
    try:
        result = vendor_sandbox.change("autotrader", stock_id, price=8995)
    finally:
        vendor_sandbox.configure(credentials={"autotrader_webhook_secret": SANDBOX_CREDENTIALS["autotrader_webhook_secret"]})
    assert delivered_statuses(result) == [403]
    with module_engine.connect() as conn:
        keys = list(conn.execute(sa.select(webhook_events.c.event_key)
                                 .where(webhook_events.c.subject_id == stock_id)).scalars())
    assert keys == [f"{stock_id}:1"]
    assert vehicle(module_engine, stock_id)["source_version"] == 1


def test_at_create_1_stock_item_created_in_autotrader_is_created_in_our_store(vendor_sandbox: SandboxHandle,
                                                                             module_engine: sa.Engine) -> None:
    stock_id, record = _new_stock(vendor_sandbox, module_engine)
    row = vehicle(module_engine, stock_id)
    assert (row["make"], row["model"], row["derivative_id"]) == (
        record["vehicle"]["make"], record["vehicle"]["model"], record["vehicle"]["derivativeId"])
    assert row["availability"] == "available" and row["raw"] == record


def test_at_create_2_identifiers_are_stored(vendor_sandbox: SandboxHandle, module_engine: sa.Engine) -> None:
    stock_id, record = _new_stock(vendor_sandbox, module_engine)
    row = vehicle(module_engine, stock_id)
    metadata = record["metadata"]
    assert row["source_vehicle_id"] == stock_id == metadata["stockId"]
    assert row["search_id"] == metadata["searchId"] and row["search_id"]
    assert row["dealer_id"] == f"autotrader:{record['advertiser']['advertiserId']}"
    assert (row["external_stock_reference"], row["external_stock_id"]) == (
        metadata["externalStockReference"], metadata["externalStockId"])


def test_at_avail_1_dealer_website_visibility_follows_advertiser_advert(vendor_sandbox: SandboxHandle,
                                                                       module_engine: sa.Engine) -> None:
    stock_id, _ = _new_stock(vendor_sandbox, module_engine, advertiser_advert="PUBLISHED")
    assert vehicle(module_engine, stock_id)["shown_on_dealer_site"] is True
    _change(vendor_sandbox, module_engine, stock_id, advertiser_advert="NOT_PUBLISHED")
    assert vehicle(module_engine, stock_id)["shown_on_dealer_site"] is False
    _change(vendor_sandbox, module_engine, stock_id, advertiser_advert="PUBLISHED")
    assert vehicle(module_engine, stock_id)["shown_on_dealer_site"] is True


def test_at_avail_2_availability_follows_reservation_and_lifecycle(vendor_sandbox: SandboxHandle,
                                                                   module_engine: sa.Engine) -> None:
    stock_id, _ = _new_stock(vendor_sandbox, module_engine)
    _change(vendor_sandbox, module_engine, stock_id, reservation="Reserved")
    assert vehicle(module_engine, stock_id)["availability"] == "reserved"
    _change(vendor_sandbox, module_engine, stock_id, reservation=None)
    assert vehicle(module_engine, stock_id)["availability"] == "available"
    for state, expected in (("SOLD", "sold"), ("WASTEBIN", "removed"), ("DELETED", "removed")):
        doomed, _ = _new_stock(vendor_sandbox, module_engine)
        result = vendor_sandbox.control("POST", f"/autotrader/stock/{doomed}/delete", {"state": state})
        assert delivered_statuses(result) == [200]
        assert apply_pending_of(module_engine, "autotrader", doomed).summary.applied == 1
        row = vehicle(module_engine, doomed)
        assert (row["availability"], row["lifecycle_state"]) == (expected, state)
        assert _changes(module_engine, doomed)["availability"] == ("available", expected)


def test_at_upd_vehicle_data_updates(vendor_sandbox: SandboxHandle, module_engine: sa.Engine) -> None:
    stock_id, record = _new_stock(vendor_sandbox, module_engine)
    since = vendor_sandbox.last_seq()
    new_derivative = uuid.uuid4().hex
    # A make and model the record does not have already (the sandbox also generates Kias).
    make, model = ("Kia", "Sportage") if record["vehicle"]["make"] != "Kia" else ("Skoda", "Kodiaq")
    applied = _change(vendor_sandbox, module_engine, stock_id, make=make, model=model, mileage=52000,
                      first_registration_date="2019-05-17", derivative_id=new_derivative, seats=7, doors=3,
                      engine_cc=1999, co2=161)
    changes = _changes(module_engine, stock_id)
    assert changes["make"][1] == make and changes["model"][1] == model
    assert changes["mileage_km"][1] == round(52000 * 1.609344)
    assert changes["first_registration_date"][1] == "2019-05-17"
    assert changes["derivative_id"] == (record["vehicle"]["derivativeId"], new_derivative)
    assert (changes["seats"][1], changes["doors"][1], changes["engine_cc"][1], changes["co2_g_km"][1]) == (
        7, 3, 1999, 161)
    row = vehicle(module_engine, stock_id)
    assert (row["make"], row["seats"], row["source_version"]) == (make, 7, 2)
    # A new derivativeId makes the features stale: fetched again, once (AT-FEAT-2).
    assert applied.summary.refetch_requested == 1
    assert _calls(vendor_sandbox, since, stock_id).count("features") == 1


def test_at_upd_media_updates(vendor_sandbox: SandboxHandle, module_engine: sa.Engine) -> None:
    stock_id, _ = _new_stock(vendor_sandbox, module_engine)
    _change(vendor_sandbox, module_engine, stock_id, images=3, video="https://www.youtube.com/watch?v=ZZZZZZZZZZZ",
            spin="https://spin.example.com/360/abc")
    row = vehicle(module_engine, stock_id)
    assert len(row["images"]) == 3 and all("{resize}" not in href for href in row["images"])
    assert row["video_url"] == "https://www.youtube.com/watch?v=ZZZZZZZZZZZ"
    assert row["spin_url"] == "https://spin.example.com/360/abc"
    assert {"images", "video_url", "spin_url"} <= set(_changes(module_engine, stock_id))


def test_at_upd_advert_updates(vendor_sandbox: SandboxHandle, module_engine: sa.Engine) -> None:
    stock_id, _ = _new_stock(vendor_sandbox, module_engine)
    _change(vendor_sandbox, module_engine, stock_id, attention_grabber="One careful owner",
            description="Timing belt replaced.", description2="Nationwide delivery.", price_indicator_rating="GREAT")
    row = vehicle(module_engine, stock_id)
    assert (row["attention_grabber"], row["description"], row["description2"], row["price_indicator_rating"]) == (
        "One careful owner", "Timing belt replaced.", "Nationwide delivery.", "GREAT")
    assert {"attention_grabber", "description", "description2"} <= set(_changes(module_engine, stock_id))


def test_at_upd_price_updates(vendor_sandbox: SandboxHandle, module_engine: sa.Engine) -> None:
    stock_id, record = _new_stock(vendor_sandbox, module_engine)
    # a VAT status other than the generated one, so that it changes whatever the sandbox drew
    vat = "Ex VAT" if record["adverts"]["retailAdverts"].get("vatStatus") == "Inc VAT" else "Inc VAT"
    since = vendor_sandbox.last_seq()
    _change(vendor_sandbox, module_engine, stock_id, price=12345, admin_fee=250, vat_status=vat)
    row = vehicle(module_engine, stock_id)
    assert (row["supplied_price_amount"], row["admin_fee_amount"], row["price_amount"]) == (
        Decimal("12345.00"), Decimal("250.00"), Decimal("12595.00"))
    assert (row["price_currency"], row["vat_status"]) == ("GBP", vat)
    assert {"supplied_price_amount", "price_amount", "vat_status"} <= set(_changes(module_engine, stock_id))
    assert _calls(vendor_sandbox, since, stock_id) == []  # a price change refetches nothing


def test_at_upd_features_standard_and_optional_update(vendor_sandbox: SandboxHandle,
                                                      module_engine: sa.Engine) -> None:
    stock_id, record = _new_stock(vendor_sandbox, module_engine)
    dropped = record["features"][0]["name"]
    since = vendor_sandbox.last_seq()
    applied = _change(vendor_sandbox, module_engine, stock_id, add_features=["Heated steering wheel"],
                      remove_features=[dropped])
    names = {(f["name"], f["type"]) for f in vehicle(module_engine, stock_id)["features"]}
    assert ("Heated steering wheel", "Standard") in names or ("Heated steering wheel", "Optional") in names
    assert dropped not in {name for name, _ in names}
    assert "features" in _changes(module_engine, stock_id)
    assert applied.summary.followups.refetch[f"autotrader:{stock_id}"] == {"features"}
    assert _calls(vendor_sandbox, since, stock_id) == ["features"]  # features changed: no charge times


def test_at_upd_highlights_and_feature_ratings_update(vendor_sandbox: SandboxHandle,
                                                      module_engine: sa.Engine) -> None:
    stock_id, record = _new_stock(vendor_sandbox, module_engine)
    rated = record["features"][0]["name"]
    _change(vendor_sandbox, module_engine, stock_id, highlights=["Low mileage", "Full service history"],
            feature_ratings={rated: {"rarityRating": 4, "valueRating": 5}})
    row = vehicle(module_engine, stock_id)
    assert row["highlights"] == [{"name": "Low mileage"}, {"name": "Full service history"}]
    feature = next(f for f in row["features"] if f["name"] == rated)
    assert (feature["rarityRating"], feature["valueRating"]) == (4, 5)
    assert {"highlights", "features"} <= set(_changes(module_engine, stock_id))


def test_derivative_change_to_a_plug_in_fetches_features_and_charge_times_once(vendor_sandbox: SandboxHandle,
                                                                               module_engine: sa.Engine) -> None:
    plug_in = next(d for _, d in UK_DERIVATIVES if d.fuel_type in PLUGGABLE_FUEL_TYPES)
    stock_id, _ = _new_stock(vendor_sandbox, module_engine)
    since = vendor_sandbox.last_seq()
    _change(vendor_sandbox, module_engine, stock_id, derivative_id=plug_in.derivative_id)
    assert sorted(_calls(vendor_sandbox, since, stock_id)) == ["charge-times", "features"]
    since = vendor_sandbox.last_seq()
    _change(vendor_sandbox, module_engine, stock_id, price=15000)
    assert _calls(vendor_sandbox, since, stock_id) == []


def test_a_blocked_advertiser_stops_the_refetch_not_the_events(vendor_sandbox: SandboxHandle,
                                                                module_engine: sa.Engine) -> None:
    advertiser = _advertiser(vendor_sandbox)
    vendor_sandbox.control("POST", f"/autotrader/advertisers/{advertiser}/access", {"stock_sync": False})
    try:
        created = vendor_sandbox.control("POST", f"/autotrader/advertisers/{advertiser}/stock",
                                         {"reservation": None})
        applied = apply_pending_of(module_engine, "autotrader", created["stockId"])  # raise_errors=True
    finally:
        vendor_sandbox.control("POST", f"/autotrader/advertisers/{advertiser}/access", {"stock_sync": True})
        with module_engine.begin() as conn:  # an operator resolves the block
            conn.execute(sa.text("UPDATE api_blocks SET resolved_at = CURRENT_TIMESTAMP WHERE resolved_at IS NULL"))
    assert applied.summary.applied == 1
    assert vehicle(module_engine, created["stockId"])["availability"] == "available"
    assert applied.after.error is not None and "403" in applied.after.error


def test_duplicates_and_out_of_order_from_the_sandbox_apply_once_newest_wins(vendor_sandbox: SandboxHandle,
                                                                             module_engine: sa.Engine) -> None:
    created = vendor_sandbox.control("POST", f"/autotrader/advertisers/{_advertiser(vendor_sandbox)}/stock",
                                     {"deliver": False})
    stock_id = created["stockId"]
    result = vendor_sandbox.change("autotrader", stock_id, price=7777, duplicate=2, out_of_order=True)
    assert delivered_statuses(result) == [200, 200, 200, 200]  # v2 three times, then v1
    applied = apply_pending_of(module_engine, "autotrader", stock_id)
    assert (applied.summary.applied, applied.summary.ignored) == (1, 1)
    with module_engine.connect() as conn:
        events = conn.execute(sa.select(webhook_events.c.event_key, webhook_events.c.status, webhook_events.c.error)
                              .where(webhook_events.c.subject_id == stock_id).order_by(webhook_events.c.id)).all()
    assert [tuple(e) for e in events] == [(f"{stock_id}:2", "applied", None),
                                          (f"{stock_id}:1", "ignored", "version 1 not newer than stored 2")]
    row = vehicle(module_engine, stock_id)
    assert (row["source_version"], row["supplied_price_amount"]) == (2, Decimal("7777.00"))


def test_at_advn_1_2_3_advertiser_change_reaches_our_dealers(vendor_sandbox: SandboxHandle,
                                                             module_engine: sa.Engine) -> None:
    advertiser_id = _advertiser(vendor_sandbox, 1)
    since = vendor_sandbox.deliveries(vendor="autotrader")[-1]["seq"] if vendor_sandbox.deliveries() else 0
    name = f"Renamed Motors {uuid.uuid4().hex[:6]}"
    result = vendor_sandbox.control("POST", f"/autotrader/advertisers/{advertiser_id}/change",
                                    {"name": name, "phone": "0161 000 0000"})
    assert delivered_statuses(result) == [200]  # AT-ADVN-1: signature checked, 2xx
    assert [d["status"] for d in vendor_sandbox.deliveries(vendor="autotrader", since=since)] == [200]
    applied = apply_pending_of(module_engine, "autotrader", advertiser_id)
    assert applied.summary.by_type == {"autotrader:ADVERTISER": 1}  # AT-ADVN-2: type recognised
    row = dealer(module_engine, f"autotrader:{advertiser_id}")  # AT-ADVN-3: details updated
    assert row["name"] == name and row["raw"]["phone"] == "0161 000 0000"


def test_ac_hook_1_agency_acceptance_verified_and_linked(vendor_sandbox: SandboxHandle,
                                                         module_engine: sa.Engine) -> None:
    agency = vendor_sandbox.world()["autocosmos_agencies"][0]
    result = vendor_sandbox.control("POST", "/autocosmos/invitations/accept",
                                    {"adminmail": agency["adminmail"], "duplicates": 1})
    assert [a["status"] for a in result["attempts"]] == [200, 200]
    applied = apply_pending_of(module_engine, "autocosmos", agency["adminmail"].lower())
    assert applied.summary.applied == 1  # the duplicate was stored once
    with module_engine.connect() as conn:
        link = conn.execute(sa.select(agency_links)
                            .where(agency_links.c.adminmail == agency["adminmail"].lower())).mappings().one()
    assert (link["dealer_id"], link["agency_name"]) == (agency["dealer_id"], agency["name"])
    vendor_sandbox.configure(credentials={"autocosmos_webhook_secret": "another-webhook-secret-0000"})
    try:
        forged = vendor_sandbox.control("POST", "/autocosmos/invitations/accept", {"adminmail": agency["adminmail"]})
    finally:
        vendor_sandbox.configure(credentials={"autocosmos_webhook_secret": SANDBOX_CREDENTIALS["autocosmos_webhook_secret"]})
    assert [a["status"] for a in forged["attempts"]] == [403]


def test_wm_lead_1_lead_notice_accepted_by_token_stored_once_and_fetched_in_detail(
    vendor_sandbox: SandboxHandle, module_engine: sa.Engine
) -> None:
    dealer_info = next(d for d in vendor_sandbox.world()["webmotors"] if d["user_active"] and d["crm_integration"])
    since = vendor_sandbox.last_seq()
    result = vendor_sandbox.control("POST", "/webmotors/leads", {"cnpj": dealer_info["cnpj"]})
    assert delivered_statuses(result) == [200]
    lead_id = str(result["IdLead"])
    applied = apply_pending_of(module_engine, "webmotors", lead_id)
    assert (applied.summary.applied, applied.after.lead_details_fetched, applied.after.error) == (1, 1, None)
    with module_engine.connect() as conn:
        (lead,) = conn.execute(sa.select(leads).where(leads.c.lead_key == lead_id)).mappings().all()
    assert lead["dealer_id"] == dealer_info["dealer_id"]
    assert lead["payload"]["IdLead"] == result["notice"]["IdLead"]
    assert lead["detail"] == result["detail"]  # fetched with the dealer's own token
    (call,) = [c for c in vendor_sandbox.calls(vendor="webmotors", since=since) if "/lead/" in c["path"]]
    assert call["status"] == 200 and call["token"]


def test_at_adv_3_an_incomplete_advertiser_notice_is_reread_with_advertiser_id(vendor_sandbox: SandboxHandle,
                                                                               receiver: ReceiverHandle,
                                                                               module_engine: sa.Engine) -> None:
    advertiser_id = _advertiser(vendor_sandbox, 1)
    known = next(a for a in vendor_sandbox.world(refresh=True)["autotrader"] if a["advertiser_id"] == advertiser_id)
    since = vendor_sandbox.last_seq()
    notice = {"id": advertiser_id, "time": "2030-01-01T00:00:00Z", "type": "ADVERTISER",
              "data": {"advertiserId": advertiser_id, "phone": "0161 999 9999"}}  # no name, no status
    event_id = deliver(receiver, notice)
    applied = apply_pending_of(module_engine, "autotrader", advertiser_id)
    assert applied.summary.applied == 1 and applied.after.error is None
    assert "re-read" in (event(module_engine, event_id)["error"] or "")
    calls = [c for c in vendor_sandbox.calls(vendor="autotrader", since=since) if c["path"] == "/advertisers"]
    assert [c["query"] for c in calls] == [{"advertiserId": advertiser_id}], "one ?advertiserId= call, no listing"
    row = dealer(module_engine, f"autotrader:{advertiser_id}")
    assert row["name"] == known["name"] and row["raw"].get("name") == known["name"], \
        "the dealer holds the vendor's full record, not the partial notice"

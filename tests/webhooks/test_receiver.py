"""The receiver over real HTTP (a uvicorn subprocess) on SQLite and PostgreSQL stores."""

from __future__ import annotations

import json
import time
import uuid

import requests
import sqlalchemy as sa

from dealer_pipeline.webhooks.runner import ReceiverHandle, start_receiver
from tests.webhooks.fixtures import (
    AC_SECRET,
    MAX_BYTES,
    SECRETS_ENV,
    WM_TOKEN,
    ac_headers,
    at_headers,
    at_sign,
    compact,
    events_for,
    rejections_after,
    rows,
    stock_update,
)


def _last_rejection_id(engine: sa.Engine) -> int:
    return rows(engine, "SELECT COALESCE(MAX(id), 0) AS m FROM webhook_rejections")[0]["m"]


def test_at_notif_1_signed_stock_update_is_answered_2xx_and_stored(receiver: ReceiverHandle,
                                                                   module_engine: sa.Engine) -> None:
    payload = stock_update(version=7, advertiser_id="10012345")
    body = compact(payload)
    response = requests.put(receiver.url("autotrader"), data=body, headers=at_headers(body), timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "stored"
    (event,) = events_for(module_engine, "autotrader", payload["id"])
    assert event["id"] == response.json()["id"]
    assert event["event_key"] == f"{payload['id']}:7"
    assert (event["event_type"], event["subject_version"], event["dealer_id"]) == (
        "STOCK_UPDATE", 7, "autotrader:10012345")
    assert event["status"] == "pending" and event["attempts"] == 0
    assert event["body"].encode() == body  # the raw bytes, as received
    assert event["headers"]["autotrader-signature"].startswith("t=")
    # POST is accepted as well as PUT.
    other = compact(stock_update(version=1))
    assert requests.post(receiver.url("autotrader"), data=other, headers=at_headers(other), timeout=10).ok


def test_at_notif_2_forged_expired_future_reserialized_and_missing_signatures_are_403(
    receiver: ReceiverHandle, module_engine: sa.Engine
) -> None:
    payload = stock_update(version=3)
    body = json.dumps(payload).encode()  # with spaces: the signed bytes
    reserialized = compact(payload)  # the same JSON, other bytes
    assert json.loads(reserialized) == json.loads(body) and reserialized != body
    # Headers are signed just before each request; 310 s stays outside the 300 s tolerance even
    # when a loaded machine takes a few seconds between signing and the receiver's clock reading.
    attempts = {
        "forged": (body, lambda now: {"Autotrader-Signature":
                                      f"t={now},v1={at_sign(body, t=now, secret='not-the-secret')}"}),
        "expired": (body, lambda now: at_headers(body, t=now - 310)),
        "future": (body, lambda now: at_headers(body, t=now + 310)),
        "reserialized": (reserialized, lambda now: at_headers(body, t=now)),
        "missing": (body, lambda now: {"Content-Type": "application/json"}),
        "tampered": (body.replace(b'"versionNumber": 3', b'"versionNumber": 9'), lambda now: at_headers(body, t=now)),
    }
    before = _last_rejection_id(module_engine)
    for name, (data, signed) in attempts.items():
        headers = signed(int(time.time()))
        response = requests.put(receiver.url("autotrader"), data=data, headers=headers, timeout=10)
        assert response.status_code == 403, name
        assert response.content == b"", name
    assert events_for(module_engine, "autotrader", payload["id"]) == []
    rejected = rejections_after(module_engine, before)
    assert [r["http_status"] for r in rejected] == [403] * len(attempts)
    reasons = [r["reason"] for r in rejected]
    assert "old" in reasons[1] and "future" in reasons[2] and "missing" in reasons[4]
    assert all(r["body"] is not None for r in rejected)  # kept for forensics


def test_at_advn_1_advertiser_notification_signature_checked(receiver: ReceiverHandle,
                                                              module_engine: sa.Engine) -> None:
    advertiser_id = str(uuid.uuid4().int)[:8]
    payload = {"id": advertiser_id, "time": "2026-06-02T10:00:00.000Z", "type": "ADVERTISER",
               "data": {"advertiserId": advertiser_id, "name": "Example Motors Ltd", "status": "Active"}}
    body = compact(payload)
    forged = requests.put(receiver.url("autotrader"), data=body,
                          headers=at_headers(body, secret="wrong-secret"), timeout=10)
    assert forged.status_code == 403
    assert events_for(module_engine, "autotrader", advertiser_id) == []
    signed = requests.put(receiver.url("autotrader"), data=body, headers=at_headers(body), timeout=10)
    assert signed.status_code == 200
    (event,) = events_for(module_engine, "autotrader", advertiser_id)
    assert event["event_type"] == "ADVERTISER"
    assert event["dealer_id"] == f"autotrader:{advertiser_id}"
    assert event["event_key"].startswith("sha256:")


def test_secret_rotation_several_v1_and_lower_case_header_name(receiver: ReceiverHandle,
                                                               module_engine: sa.Engine) -> None:
    payload = stock_update(version=2)
    body = compact(payload)
    now = int(time.time())
    header = f"t={now},v1={at_sign(body, t=now, secret='old-secret')},v1={at_sign(body, t=now)}"
    response = requests.put(receiver.url("autotrader"), data=body,
                            headers={"autotrader-signature": header, "Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 200
    assert len(events_for(module_engine, "autotrader", payload["id"])) == 1


def test_same_notification_delivered_three_times_is_stored_once(receiver: ReceiverHandle,
                                                                module_engine: sa.Engine) -> None:
    payload = stock_update(version=5)
    body = compact(payload)
    answers = []
    for delay in range(3):  # redeliveries are signed afresh with a later t
        answers.append(requests.put(receiver.url("autotrader"), data=body,
                                    headers=at_headers(body, t=int(time.time()) + delay), timeout=10))
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["status"] for a in answers] == ["stored", "duplicate", "duplicate"]
    assert len(events_for(module_engine, "autotrader", payload["id"])) == 1
    # Other types dedupe on content: the same ADVERTISER body twice is one event.
    advertiser = compact({"id": "77", "time": "2026-06-02T10:00:00Z", "type": "ADVERTISER",
                          "data": {"advertiserId": "77", "name": uuid.uuid4().hex}})
    for _ in range(2):
        assert requests.put(receiver.url("autotrader"), data=advertiser, headers=at_headers(advertiser),
                            timeout=10).ok
    assert len(rows(module_engine, "SELECT id FROM webhook_events WHERE body = :b", b=advertiser.decode())) == 1


def test_unknown_notification_type_is_acknowledged_and_kept(receiver: ReceiverHandle,
                                                             module_engine: sa.Engine) -> None:
    deal_id = uuid.uuid4().hex
    body = compact({"id": deal_id, "time": "2026-06-02T10:00:00Z", "type": "DEAL_CREATE", "data": {}})
    response = requests.put(receiver.url("autotrader"), data=body, headers=at_headers(body), timeout=10)
    assert response.status_code == 200
    (event,) = events_for(module_engine, "autotrader", deal_id)
    assert (event["event_type"], event["status"]) == ("DEAL_CREATE", "pending")


def test_body_over_the_cap_is_413_and_recorded_without_body(receiver: ReceiverHandle,
                                                            module_engine: sa.Engine) -> None:
    before = _last_rejection_id(module_engine)
    big = b'{"pad":"' + b"x" * MAX_BYTES + b'"}'
    declared = requests.put(receiver.url("autotrader"), data=big, headers=at_headers(big), timeout=10)
    assert declared.status_code == 413

    def chunks():  # no Content-Length: the receiver must count the stream itself
        for _ in range(MAX_BYTES // 8192 + 2):
            yield b"y" * 8192

    streamed = requests.post(receiver.url("webmotors") + f"?token={WM_TOKEN}", data=chunks(), timeout=10)
    assert streamed.status_code == 413
    rejected = rejections_after(module_engine, before)
    assert [(r["source"], r["http_status"]) for r in rejected] == [("autotrader", 413), ("webmotors", 413)]
    assert all(r["body"] is None and r["body_bytes"] > MAX_BYTES for r in rejected)
    # The secret token of the Webmotors URL is not kept anywhere in the rejection.
    assert WM_TOKEN not in json.dumps([dict(r, received_at=None) for r in rejected])


def test_malformed_body_after_valid_signature_is_stored_failed_and_does_not_block(
    receiver: ReceiverHandle, module_engine: sa.Engine
) -> None:
    marker = uuid.uuid4().hex
    broken = b'{"id":"' + marker.encode() + b'","type":"STOCK_UPDATE","data":{'  # truncated JSON
    response = requests.put(receiver.url("autotrader"), data=broken, headers=at_headers(broken), timeout=10)
    # Authentic, so kept and acknowledged (2xx): a redelivery could not make it better.
    assert response.status_code == 200 and response.json()["status"] == "failed"
    stored = rows(module_engine, "SELECT * FROM webhook_events WHERE id = :i", i=response.json()["id"])[0]
    assert stored["status"] == "failed"
    assert stored["error"].startswith("body is not JSON")
    assert stored["body"].encode() == broken
    follow = stock_update(version=1)
    body = compact(follow)
    after = requests.put(receiver.url("autotrader"), data=body, headers=at_headers(body), timeout=10)
    assert after.status_code == 200
    assert events_for(module_engine, "autotrader", follow["id"])[0]["status"] == "pending"
    # Not an object is as unusable as not JSON; bytes that are not UTF-8 are kept escaped.
    for data in (b"[1,2,3]", b"\xff\xfe\x00garbage"):
        answer = requests.put(receiver.url("autotrader"), data=data, headers=at_headers(data), timeout=10)
        assert answer.status_code == 200 and answer.json()["status"] == "failed"
        kept = rows(module_engine, "SELECT status, body FROM webhook_events WHERE id = :i", i=answer.json()["id"])[0]
        assert kept["status"] == "failed" and kept["body"]


def test_ac_hook_1_autocosmos_webhook_verified_and_deduped_by_hook_id(receiver: ReceiverHandle,
                                                                      module_engine: sa.Engine) -> None:
    hook_id = str(uuid.uuid4())
    adminmail = f"admin-{hook_id[:8]}@agencia.com.ar"
    body = compact({"AdminMail": adminmail, "Agencia": "Agencia Ejemplo SA", "AceptadaEn": "2026-01-01T00:00:00Z"})
    now = int(time.time())
    bad = [
        ac_headers(hook_id, secret="wrong-secret-wrong-secret"),
        ac_headers(hook_id, t=now - 310),
        ac_headers(hook_id, t=now + 310),
        {**ac_headers(hook_id), "Notification-Topic": "otro_topico"},  # the topic is signed
        {k: v for k, v in ac_headers(hook_id).items() if k != "Notification-Signature"},
    ]
    for headers in bad:
        assert requests.post(receiver.url("autocosmos"), data=body, headers=headers, timeout=10).status_code == 403
    assert rows(module_engine, "SELECT id FROM webhook_events WHERE event_key = :k", k=hook_id) == []
    for _ in range(2):  # a redelivery keeps its hook id
        assert requests.post(receiver.url("autocosmos"), data=body, headers=ac_headers(hook_id), timeout=10).ok
    (event,) = rows(module_engine, "SELECT * FROM webhook_events WHERE source = 'autocosmos' AND event_key = :k",
                    k=hook_id)
    assert (event["event_type"], event["subject_id"]) == ("invitacionagencia_aceptada", adminmail)
    # An unknown topic is acknowledged and kept too.
    other = str(uuid.uuid4())
    assert requests.post(receiver.url("autocosmos"), data=b"{}", headers=ac_headers(other, topic="nuevo_topico"),
                         timeout=10).status_code == 200
    assert AC_SECRET not in json.dumps(dict(event, received_at=None))


def test_wm_lead_1_lead_notice_token_checked_and_stored_once(receiver: ReceiverHandle,
                                                             module_engine: sa.Engine) -> None:
    lead_id = str(uuid.uuid4().int)[:9]
    notice = {"IdLead": lead_id, "CodigoCliente": "3823863", "Cnpj": "03.347.828/0001-09", "IdTipoLead": "2"}
    url = receiver.url("webmotors")
    assert requests.post(url, json=notice, timeout=10).status_code == 403
    assert requests.post(url + "?token=wm-cb-000", json=notice, timeout=10).status_code == 403
    for _ in range(2):
        assert requests.post(url + f"?token={WM_TOKEN}", json=notice, timeout=10).status_code == 200
    (event,) = events_for(module_engine, "webmotors", lead_id)
    assert (event["event_key"], event["dealer_id"]) == (lead_id, "webmotors:03347828000109")
    # Numbers are accepted for the ids as well as strings.
    numeric = dict(notice, IdLead=int(lead_id) + 1)
    assert requests.post(url + f"?token={WM_TOKEN}", json=numeric, timeout=10).status_code == 200
    assert len(events_for(module_engine, "webmotors", str(int(lead_id) + 1))) == 1


def test_healthz_reports_the_store(receiver: ReceiverHandle, tmp_path) -> None:
    assert requests.get(receiver.base_url + "/healthz", timeout=10).json() == {"status": "ok"}
    unreachable = f"sqlite:///{tmp_path}/missing-dir/store.sqlite"
    with start_receiver(env={"DEALER_PIPELINE_DATABASE_URL": unreachable, **SECRETS_ENV},
                        store_required=False) as down:
        assert requests.get(down.base_url + "/healthz", timeout=10).status_code == 503
        body = compact(stock_update())
        # Not stored, so not acknowledged: the vendor will deliver it again.
        response = requests.put(down.url("autotrader"), data=body, headers=at_headers(body), timeout=10)
        assert response.status_code == 503
        # A forged one is still refused as forged.
        forged = requests.put(down.url("autotrader"), data=body, headers=at_headers(body, secret="x"), timeout=10)
        assert forged.status_code == 403

"""The receiver against what an attacker or a faulty vendor sends (issue table "Safe at the edges"),
over real sockets, on SQLite and PostgreSQL stores."""

from __future__ import annotations

import json
import socket
import time
import uuid
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa

from dealer_pipeline.webhooks.runner import ReceiverHandle, start_receiver
from tests.webhooks.fixtures import (
    SECRETS_ENV,
    WM_TOKEN,
    ac_headers,
    at_headers,
    at_sign,
    compact,
    rejections_after,
    rows,
    stock_update,
)

#: What one refused request may add to webhook_rejections (64 KiB body + 8 KiB headers + reason).
REJECTION_BYTES = 80 * 1024


def _last_rejection_id(engine: sa.Engine) -> int:
    return rows(engine, "SELECT COALESCE(MAX(id), 0) AS m FROM webhook_rejections")[0]["m"]


def _event(engine: sa.Engine, event_id: int) -> sa.RowMapping:
    return rows(engine, "SELECT * FROM webhook_events WHERE id = :i", i=event_id)[0]


def rejection_bytes(row: sa.RowMapping) -> int:
    """Bytes a rejection row holds in its variable-size columns."""
    headers = row["headers"] if isinstance(row["headers"], str) else json.dumps(row["headers"])
    return sum(len((v or "").encode()) for v in (row["reason"], headers, row["body"], row["remote_addr"]))


def raw_exchange(base_url: str, chunks: Iterator[bytes] | list[bytes], *, timeout: float = 10) -> bytes:
    """Send `chunks` on one connection (stopping when the server closes it), then read the answer."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        received = b""
        try:
            while data := sock.recv(65536):
                received += data
                if b"\r\n\r\n" in received and b"connection: close" in received.lower():
                    break
        except (ConnectionResetError, socket.timeout):
            pass
    return received


def status_of(answer: bytes) -> int | None:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


# -- the table, row by row ---------------------------------------------------------------------

def test_a_32_mib_header_is_431_and_never_recorded_whole(receiver: ReceiverHandle, module_engine: sa.Engine) -> None:
    before = _last_rejection_id(module_engine)
    head = b"PUT /webhooks/autotrader HTTP/1.1\r\nHost: x\r\nX-Pad: "

    def chunks() -> Iterator[bytes]:
        yield head
        for _ in range(32 * 16):  # 32 MiB in 64 KiB pieces, unless the server hangs up first
            yield b"a" * 65536
        yield b"\r\nContent-Length: 2\r\n\r\n{}"

    assert status_of(raw_exchange(receiver.base_url, chunks())) == 431
    # Many small headers: the count is capped too.
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(200))
    answer = raw_exchange(receiver.base_url, [head[:-7] + many + b"Content-Length: 2\r\n\r\n{}"])
    assert status_of(answer) == 431
    assert rejections_after(module_engine, before) == []
    # 12 KiB of headers is still served (signature checked, refused as unsigned).
    ok = requests.put(receiver.url("autotrader"), data=b"{}", headers={"X-Pad": "b" * 12 * 1024}, timeout=10)
    assert ok.status_code == 403


def test_a_refused_request_is_recorded_bounded_in_bytes(receiver: ReceiverHandle, module_engine: sa.Engine) -> None:
    before = _last_rejection_id(module_engine)
    hostile = b"\xff\x00" * 100_000  # 200 KB that escape to four times their size
    headers = {f"X-Pad-{i}": "c" * 900 for i in range(15)}  # 13.5 KiB of headers, under the cap
    answer = requests.put(receiver.url("autotrader"), data=hostile, headers=headers, timeout=10)
    assert answer.status_code == 403
    (row,) = rejections_after(module_engine, before)
    assert row["body_bytes"] == len(hostile)
    assert 0 < rejection_bytes(row) <= REJECTION_BYTES


@pytest.mark.parametrize("route", ["autotrader", "autocosmos", "webmotors"])
def test_a_validly_signed_body_nested_thousands_deep_is_stored_failed(
    route: str, receiver: ReceiverHandle, module_engine: sa.Engine
) -> None:
    for depth in (5000, 100):  # beyond the interpreter's recursion limit, and beyond MAX_DEPTH only
        body = b'{"id":"' + uuid.uuid4().hex.encode() + b'","a":' + b"[" * depth + b"]" * depth + b"}"
        answer = _signed(receiver, route, body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "failed"
        event = _event(module_engine, answer.json()["id"])
        assert event["status"] == "failed" and "nested deeper" in event["error"]
        assert event["body"].encode() == body


@pytest.mark.parametrize("version", ["²", "٣", 2**70, -1, "99999999999999999999999"])
def test_an_absurd_version_number_is_stored_failed_and_redelivery_is_a_duplicate(
    version: object, receiver: ReceiverHandle, module_engine: sa.Engine
) -> None:
    payload = stock_update()
    payload["data"]["metadata"]["versionNumber"] = version
    body = compact(payload)
    first = requests.put(receiver.url("autotrader"), data=body, headers=at_headers(body), timeout=10)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "failed"
    event = _event(module_engine, first.json()["id"])
    assert event["status"] == "failed" and "versionNumber" in event["error"]
    assert event["subject_version"] is None
    again = requests.put(receiver.url("autotrader"), data=body, headers=at_headers(body, t=int(time.time()) + 1),
                         timeout=10)
    assert again.status_code == 200


def test_content_length_beyond_64_bits_is_413_not_500(receiver: ReceiverHandle, module_engine: sa.Engine) -> None:
    before = _last_rejection_id(module_engine)
    request = (b"PUT /webhooks/autotrader HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n{}" % (2**63 + 5))
    assert status_of(raw_exchange(receiver.base_url, [request])) == 413
    within = b"PUT /webhooks/autotrader HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n{}" % (2**62)
    answer = raw_exchange(receiver.base_url, [within])
    assert status_of(answer) == 413
    assert b"connection: close" in answer.lower(), "the unread body must not hold the connection open"
    recorded = rejections_after(module_engine, before)
    assert recorded and all(r["http_status"] == 413 and r["body"] is None for r in recorded)
    assert recorded[-1]["body_bytes"] == 2**31 - 1  # the column's largest, for "at least this much"


def test_duplicate_signature_headers_and_token_parameters_are_refused(
    receiver: ReceiverHandle, module_engine: sa.Engine
) -> None:
    body = compact(stock_update())
    good = at_headers(body)["Autotrader-Signature"]
    t = int(time.time())
    bad = f"t={t},v1={at_sign(body, t=t, secret='wrong')}"
    before = _last_rejection_id(module_engine)
    both = raw_exchange(receiver.base_url, [
        b"PUT /webhooks/autotrader HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + f"Autotrader-Signature: {bad}\r\nAutotrader-Signature: {good}\r\n".encode()
        + b"Content-Length: %d\r\n\r\n" % len(body) + body])
    assert status_of(both) == 403
    hook = str(uuid.uuid4())
    signed = ac_headers(hook)
    twice = raw_exchange(receiver.base_url, [
        b"POST /webhooks/autocosmos HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in signed.items()).encode()
        + f"Notification-Hook-ID: {uuid.uuid4()}\r\n".encode()
        + b"Content-Length: 2\r\n\r\n{}"])
    assert status_of(twice) == 403
    notice = {"IdLead": str(uuid.uuid4().int)[:9], "Cnpj": "03347828000109"}
    url = receiver.url("webmotors")
    for query in (f"?token=wrong&token={WM_TOKEN}", f"?token={WM_TOKEN}&token={WM_TOKEN}"):
        assert requests.post(url + query, json=notice, timeout=10).status_code == 403
    reasons = [r["reason"] for r in rejections_after(module_engine, before)]
    assert reasons == ["header autotrader-signature given more than once",
                       "header notification-hook-id given more than once",
                       "query parameter token given more than once",
                       "query parameter token given more than once"]
    assert rows(module_engine, "SELECT id FROM webhook_events WHERE event_key = :k", k=hook) == []
    assert requests.post(url + f"?token={WM_TOKEN}", json=notice, timeout=10).status_code == 200


def test_nul_surrogates_and_huge_fields_in_a_signed_body_are_stored(
    receiver: ReceiverHandle, module_engine: sa.Engine
) -> None:
    odd = [
        compact(stock_update(stock_id="nul\u0000" + uuid.uuid4().hex)),  # JSON \u0000: NUL once parsed
        json.dumps(stock_update(stock_id="\ud800" + uuid.uuid4().hex)).encode(),  # a lone surrogate
        compact(stock_update(stock_id="x" * 20_000 + uuid.uuid4().hex)),  # over a PostgreSQL index row
        compact({"type": "\u0000", "id": "\u0000" * 10, "data": {"advertiserId": "\u0000"}}),
        b'{"id":"' + uuid.uuid4().hex.encode() + b'","raw":"a\x00b"}',  # a raw NUL byte: not JSON
    ]
    for body in odd:
        answer = requests.put(receiver.url("autotrader"), data=body, headers=at_headers(body), timeout=10)
        assert answer.status_code == 200, (body[:60], answer.text)
        assert answer.json()["id"] is not None
        event = _event(module_engine, answer.json()["id"])
        assert "\x00" not in event["body"] and len(event["event_key"]) <= 200


def test_a_disconnect_mid_body_is_logged_quietly(module_store_url: str, tmp_path: Path) -> None:
    log_path = tmp_path / "receiver.log"
    env = {"DEALER_PIPELINE_DATABASE_URL": module_store_url, **SECRETS_ENV}
    with start_receiver(env=env, log_path=log_path, log_level="info") as receiver:
        parts = urlsplit(receiver.base_url)
        for _ in range(3):
            with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
                sock.sendall(b"PUT /webhooks/autotrader HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"a\":")
                time.sleep(0.2)
        time.sleep(0.5)
        body = compact(stock_update())
        assert requests.put(receiver.url("autotrader"), data=body, headers=at_headers(body), timeout=10).ok
    log = log_path.read_text()
    assert log.count("client went away before its body ended") == 3
    assert "Traceback" not in log and " ERROR " not in log


def test_slow_clients_are_cut_off_and_connections_are_capped(module_store_url: str) -> None:
    env = {"DEALER_PIPELINE_DATABASE_URL": module_store_url, **SECRETS_ENV}
    args = ("--header-timeout", "1", "--body-timeout", "1.5", "--max-connections", "6")
    with start_receiver(env=env, extra_args=args) as receiver:
        parts = urlsplit(receiver.base_url)
        started = time.monotonic()
        half_headers = socket.create_connection((parts.hostname, parts.port), timeout=10)
        half_headers.sendall(b"PUT /webhooks/autotrader HTTP/1.1\r\nHost: x\r\n")
        half_body = socket.create_connection((parts.hostname, parts.port), timeout=10)
        half_body.sendall(b"PUT /webhooks/autotrader HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{")
        silent = [socket.create_connection((parts.hostname, parts.port), timeout=10) for _ in range(4)]
        time.sleep(0.2)
        body = compact(stock_update())
        # Six connections held open: the seventh request is refused, not queued.
        assert requests.put(receiver.url("autotrader"), data=body, headers=at_headers(body),
                            timeout=10).status_code == 503
        assert status_of(half_headers.recv(4096)) == 408
        assert status_of(half_body.recv(4096)) == 408
        held = time.monotonic() - started
        assert held < 5, f"slow clients were held {held:.1f} s"
        for sock in silent:
            assert status_of(sock.recv(4096)) == 408
            sock.close()
        half_headers.close()
        half_body.close()
        answer = requests.put(receiver.url("autotrader"), data=body, headers=at_headers(body), timeout=10)
        assert answer.status_code == 200


def test_large_bodies_arriving_at_once_are_capped_small_ones_are_not(module_store_url: str) -> None:
    """Slow clients with large bodies hold at most `Limits.max_large_bodies` (32) slots per process."""
    env = {"DEALER_PIPELINE_DATABASE_URL": module_store_url, **SECRETS_ENV}
    with start_receiver(env=env, extra_args=("--body-timeout", "3")) as receiver:
        parts = urlsplit(receiver.base_url)
        head = b"PUT /webhooks/autotrader HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" + b"x" * 70000
        slow = []
        for _ in range(32):
            sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
            sock.sendall(head)
            slow.append(sock)
        time.sleep(0.3)
        assert status_of(raw_exchange(receiver.base_url, [head])) == 503  # the 33rd large body
        body = compact(stock_update())  # a small signed notification still gets in
        assert requests.put(receiver.url("autotrader"), data=body, headers=at_headers(body), timeout=10).ok
        assert [status_of(sock.recv(4096)) for sock in slow] == [408] * 32  # cut at the body deadline
        for sock in slow:
            sock.close()
        time.sleep(0.3)
        big = b'{"pad":"' + b"y" * 100_000 + b'"}'  # the slots are free again
        assert requests.put(receiver.url("autotrader"), data=big, headers=at_headers(big), timeout=10).ok


def _signed(receiver: ReceiverHandle, route: str, body: bytes) -> requests.Response:
    if route == "autotrader":
        return requests.put(receiver.url(route), data=body, headers=at_headers(body), timeout=10)
    if route == "autocosmos":
        return requests.post(receiver.url(route), data=body, headers=ac_headers(str(uuid.uuid4())), timeout=10)
    return requests.post(receiver.url(route) + f"?token={WM_TOKEN}", data=body, timeout=10)

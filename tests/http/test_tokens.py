"""The token cache: one token for every process, encrypted, refreshed once system-wide."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from dealer_pipeline.http.tokens import derive_fernet, token_key
from dealer_pipeline.settings import Secret
from dealer_pipeline.store.schema import api_calls, api_tokens
from tests.http.scripted_vendor import CLIENT_ID, CLIENT_SECRET, ScriptedVendor, make_client

ROOT = Path(__file__).resolve().parents[2]


def _workers(vendor_url: str, store_url: str, count: int, seconds: float, min_calls: int) -> list[dict]:
    start = time.time() + 1.5  # every worker imported and connected before the first call
    procs = [
        subprocess.Popen([sys.executable, "-m", "tests.http.worker", vendor_url, store_url, "/things", str(start),
                          str(seconds), str(min_calls)],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ))
        for _ in range(count)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def test_one_token_shared_by_processes(store: sa.Engine, store_url: str, vendor: ScriptedVendor) -> None:
    results = _workers(vendor.url, store_url, count=4, seconds=0.0, min_calls=15)
    assert all(not r["errors"] for r in results), results
    assert all(r["calls"] > 0 for r in results), results
    assert len(vendor.calls("/auth")) == 1
    assert sum(r["token_requests"] for r in results) == 1
    used = {c["token"] for c in vendor.calls("/things")}
    assert len(used) == 1 and None not in used


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_refreshed_once_per_lifetime_across_processes(store: sa.Engine, store_url: str) -> None:
    # Tokens live 61 s; with the 60 s margin each is refreshed after 1 s of use.
    vendor = ScriptedVendor(ttl=61.0)
    try:
        results = _workers(vendor.url, store_url, count=3, seconds=2.6, min_calls=1)
    finally:
        vendor.stop()
    assert all(not r["errors"] for r in results), results
    grants = [c["ts"] for c in vendor.calls("/auth")]
    assert len(grants) >= 3, "the token was not refreshed as it aged"
    gaps = [b - a for a, b in itertools.pairwise(grants)]
    # One refresh per lifetime: never two grants within the 1 s a token is fresh.
    assert min(gaps) >= 0.95, gaps
    # Each token was used by calls from several processes (not one token per process).
    assert len({c["token"] for c in vendor.calls("/things")}) == len(grants)


def test_token_is_encrypted_in_the_store(store: sa.Engine, vendor: ScriptedVendor) -> None:
    client = make_client(vendor.url, store)
    client.request("GET", "/things")
    client.close()
    (granted,) = vendor.script.tokens
    with store.connect() as conn:
        row = conn.execute(sa.select(api_tokens)).mappings().one()
    key = token_key("scripted", (vendor.url, CLIENT_ID, ""))
    assert row["token_key"] == key and CLIENT_ID not in key
    assert granted not in row["ciphertext"]
    assert derive_fernet(Secret(CLIENT_SECRET), key).decrypt(row["ciphertext"].encode()).decode() == granted
    assert row["lease_owner"] is None and row["invalidated_at"] is None


def test_401_invalidates_for_everyone_and_reauthenticates_once(store: sa.Engine, vendor: ScriptedVendor) -> None:
    first = make_client(vendor.url, store)
    second = make_client(vendor.url, store)  # another holder of the same credential
    first.request("GET", "/things")
    second.request("GET", "/things")
    assert len(vendor.calls("/auth")) == 1
    vendor.queue("/things", {"status": 401})
    first.request("GET", "/things")
    assert len(vendor.calls("/auth")) == 2
    time.sleep(0.25)  # past the in-process memo
    second.request("GET", "/things")
    assert len(vendor.calls("/auth")) == 2, "the second holder must pick up the new token, not refresh again"
    tokens = [c["token"] for c in vendor.calls("/things")]
    assert tokens[0] == tokens[1] == tokens[2] != tokens[3] == tokens[4]
    first.close()
    second.close()


def test_second_401_fails(store: sa.Engine, vendor: ScriptedVendor) -> None:
    from dealer_pipeline.http import AuthFailed

    client = make_client(vendor.url, store)
    vendor.queue("/things", {"status": 401}, {"status": 401})
    try:
        client.request("GET", "/things")
    except AuthFailed as exc:
        assert "second 401" in str(exc) and "/things" in str(exc) and "CF-RAY" in str(exc)
    else:
        raise AssertionError("a second 401 must fail")
    assert len(vendor.calls("/things")) == 2 and len(vendor.calls("/auth")) == 2
    client.close()


def _statuses(store: sa.Engine, path: str) -> list[int | None]:
    with store.connect() as conn:
        return list(conn.execute(sa.select(api_calls.c.status).where(api_calls.c.path == path)
                                 .order_by(api_calls.c.id)).scalars())


def test_token_outlived_by_a_pause_is_refreshed_not_sent(store: sa.Engine) -> None:
    # Tokens live 1.5 s and are fresh for 1 s; the call then waits out a 2 s pause: its token expired meanwhile.
    vendor = ScriptedVendor(ttl=1.5)
    client = make_client(vendor.url, store, refresh_margin_seconds=0.5)
    try:
        client.request("GET", "/things")
        client.pauses.pause(None, 2.0, reason="scripted 429 elsewhere", cf_ray=None)
        response = client.request("GET", "/things")
    finally:
        client.close()
        vendor.stop()
    assert response.status == 200 and response.attempts == 1
    calls = vendor.calls("/things")
    assert [c["status"] for c in calls] == [200, 200], calls
    assert len(vendor.calls("/auth")) == 2 and calls[0]["token"] != calls[1]["token"]
    assert _statuses(store, "/things") == [200, 200]  # no 401 in the call log (golive AT-AUTH-2)


def test_token_outlived_by_a_slot_wait_is_refreshed_outside_the_slot(store: sa.Engine) -> None:
    # One slot, held by another call for 2 s: the waiting call's token expires; the refresh (a call of its
    # own) must not need the slot the waiting call holds, or the two would wait for each other.
    vendor = ScriptedVendor(ttl=1.5)
    client = make_client(vendor.url, store, max_in_flight=1, refresh_margin_seconds=0.5)
    try:
        client.request("GET", "/things")
        client._in_flight.acquire()  # another call in flight on the only slot
        releaser = threading.Timer(2.0, client._in_flight.release)
        releaser.start()
        response = client.request("GET", "/things")
        releaser.join()
    finally:
        client.close()
        vendor.stop()
    assert response.status == 200 and response.attempts == 1
    assert [c["status"] for c in vendor.calls("/things")] == [200, 200]
    assert len(vendor.calls("/auth")) == 2
    assert _statuses(store, "/things") == [200, 200]

"""Error semantics: 400 flagged and never re-sent, 403 blocks by dealer or service, the call log."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from dealer_pipeline.http import BadRequest, BlockRegistry, VendorBlocked, list_blocks, resolve_block
from dealer_pipeline.http.policy import Action
from dealer_pipeline.store.schema import api_blocks, api_calls
from tests.http.scripted_vendor import CLIENT_SECRET, ScriptedVendor, make_client

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _blocks(engine: sa.Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(api_blocks).order_by(api_blocks.c.id)).mappings()]


def test_400_is_flagged_once_and_not_resent(store: sa.Engine, vendor: ScriptedVendor) -> None:
    client = make_client(vendor.url, store)
    vendor.queue("/things", {"status": 400, "body": {"message": "pageSize must be at most 200"}})
    with pytest.raises(BadRequest) as caught:
        client.request("GET", "/things", params={"pageSize": 500}, dealer_id="scripted:1")
    assert caught.value.vendor_message == "pageSize must be at most 200"
    assert len(vendor.calls("/things")) == 1, "a 400 is never retried"
    (block,) = _blocks(store)
    assert block["reason"] == "400" and block["message"] == "pageSize must be at most 200"
    assert block["path"] == "/things?pageSize=500" and block["cf_ray"] and "fix the input" in block["action"]
    # The same request is not sent again (by this or a later run) until an operator resolves it ...
    with pytest.raises(VendorBlocked, match=f"block {block['id']}"):
        client.request("GET", "/things", params={"pageSize": 500}, dealer_id="scripted:1")
    assert len(vendor.calls("/things")) == 1
    # ... while other requests for the same dealer go on.
    client.request("GET", "/things", params={"pageSize": 50}, dealer_id="scripted:1")
    resolve_block(store, block["id"], note="page size fixed")
    client.blocks.cache_seconds = 0
    client.request("GET", "/things", params={"pageSize": 500}, dealer_id="scripted:1")
    assert len(vendor.calls("/things")) == 3
    client.close()


@sqlite_only
def test_422_flagged_as_bad_input_blocks_that_request_only(store: sa.Engine, vendor: ScriptedVendor) -> None:
    """A 422 the policy flags as bad input stops the refused request, never the dealer's other calls."""
    client = make_client(vendor.url, store)
    vendor.queue("/things", {"status": 422, "body": {"message": "price must be positive"}})
    with pytest.raises(BadRequest):
        client.request("GET", "/things", params={"price": -1}, dealer_id="scripted:3")
    (block,) = _blocks(store)
    assert (block["reason"], block["dealer_id"], block["path"]) == ("400", "scripted:3", "/things?price=-1")
    assert "fix the input" in block["action"]
    with pytest.raises(VendorBlocked, match=f"block {block['id']}"):
        client.request("GET", "/things", params={"price": -1}, dealer_id="scripted:3")
    client.request("GET", "/things", params={"price": 5}, dealer_id="scripted:3")
    client.request("GET", "/other", dealer_id="scripted:3")
    assert [c["status"] for c in vendor.calls() if c["path"] != "/auth"] == [422, 200, 200]
    client.close()


def test_403_blocks_the_dealer_and_nothing_else(store: sa.Engine, vendor: ScriptedVendor) -> None:
    client = make_client(vendor.url, store)
    vendor.queue("/things", {"status": 403, "body": {"message": "no"}})
    with pytest.raises(VendorBlocked):
        client.request("GET", "/things", dealer_id="scripted:7")
    with pytest.raises(VendorBlocked):
        client.request("GET", "/other", dealer_id="scripted:7")
    client.request("GET", "/things", dealer_id="scripted:8")
    assert [c["status"] for c in vendor.calls("/things")] == [403, 200]
    assert vendor.calls("/other") == []
    (block,) = _blocks(store)
    assert block["dealer_id"] == "scripted:7" and block["service"] is None and block["reason"] == "403"
    assert block["cf_ray"] and block["resolved_at"] is None
    client.close()


def test_service_block_stops_one_service_for_one_dealer(store: sa.Engine, vendor: ScriptedVendor) -> None:
    client = make_client(vendor.url, store)
    client.policy.status_table = {**client.policy.status_table, 403: Action.BLOCK_SERVICE}
    vendor.queue("/things/a", {"status": 403})
    with pytest.raises(VendorBlocked):
        client.request("GET", "/things/a", dealer_id="scripted:7")
    with pytest.raises(VendorBlocked):
        client.request("GET", "/things/b", dealer_id="scripted:7")  # same service: things
    client.request("GET", "/other", dealer_id="scripted:7")
    client.request("GET", "/things/b", dealer_id="scripted:8")
    (block,) = _blocks(store)
    assert (block["dealer_id"], block["service"]) == ("scripted:7", "things")
    client.close()


def test_the_same_refusal_hit_at_once_by_many_workers_is_one_block(store: sa.Engine) -> None:
    """Eight workers (each with its own registry, as separate processes have) record the same 403 at
    once: one unresolved block, so one `blocks resolve` lifts it."""
    workers = 8
    barrier = threading.Barrier(workers)

    def record(_: int) -> int:
        registry = BlockRegistry(store, "scripted")
        barrier.wait()
        return registry.record(reason="403", dealer_id="scripted:9", service=None, message="no", action="call us",
                               method="GET", path="/things", cf_ray=None).id

    with ThreadPoolExecutor(workers) as pool:
        ids = set(pool.map(record, range(workers)))
    assert len(_blocks(store)) == 1 and len(ids) == 1


def test_a_block_set_by_another_process_is_honoured_and_resolution_lifts_it(
    store: sa.Engine, vendor: ScriptedVendor
) -> None:
    first, second = make_client(vendor.url, store), make_client(vendor.url, store)
    second.request("GET", "/things", dealer_id="scripted:7")  # its block list is now cached
    vendor.queue("/things", {"status": 403})
    with pytest.raises(VendorBlocked):
        first.request("GET", "/things", dealer_id="scripted:7")
    second.blocks.cache_seconds = 0
    with pytest.raises(VendorBlocked):
        second.request("GET", "/things", dealer_id="scripted:7")
    (block,) = list_blocks(store, vendor="scripted")
    resolve_block(store, block.id, note="dealer re-added")
    second.request("GET", "/things", dealer_id="scripted:7")
    assert [c["status"] for c in vendor.calls("/things")] == [200, 403, 200]
    assert list_blocks(store) == [] and list_blocks(store, include_resolved=True)[0].resolved_note == "dealer re-added"
    with pytest.raises(ValueError, match="already resolved"):
        resolve_block(store, block.id, note="again")
    with pytest.raises(LookupError):
        resolve_block(store, 999, note="none")
    first.close()
    second.close()


@sqlite_only
def test_every_call_is_logged_and_failures_keep_their_cf_ray(store: sa.Engine, vendor: ScriptedVendor) -> None:
    client = make_client(vendor.url, store, run_id="run-123")
    vendor.queue("/things", {"status": 503})
    client.request("GET", "/things", params={"page": 2}, dealer_id="scripted:1")
    vendor.queue("/gone", {"status": 404})
    assert client.request("GET", "/gone").absent
    client.close()
    with store.connect() as conn:
        rows = conn.execute(sa.select(api_calls).order_by(api_calls.c.id)).mappings().all()
    assert [(r["method"], r["path"], r["status"], r["attempt"]) for r in rows] == [
        ("POST", "/auth", 200, 1),
        ("GET", "/things?page=2", 503, 1),
        ("GET", "/things?page=2", 200, 2),
        ("GET", "/gone", 404, 1),
    ]
    failed = rows[1]
    assert failed["cf_ray"] and failed["error"].startswith("pause_service") and failed["dealer_id"] == "scripted:1"
    assert failed["service"] == "things" and failed["run_id"] == "run-123" and failed["duration_ms"] >= 0
    assert all(r["cf_ray"] for r in rows)


@sqlite_only
def test_secrets_stay_out_of_logs_store_and_errors(store: sa.Engine, vendor: ScriptedVendor,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(vendor.url, store, max_attempts=1)
    client.request("GET", "/things", params={"token": "query-secret-xyz"})
    vendor.queue("/things", "reset")
    with pytest.raises(Exception) as caught:
        client.request("GET", "/things", params={"token": "query-secret-xyz"})
    client.close()
    (granted,) = vendor.script.tokens
    with store.connect() as conn:
        dump = " ".join(str(dict(r)) for t in ("api_calls", "api_tokens", "api_blocks", "api_pauses")
                        for r in conn.execute(sa.text(f"SELECT * FROM {t}")).mappings())
    texts = [dump, caplog.text, str(caught.value), repr(caught.value)]
    for secret in (CLIENT_SECRET, granted, "query-secret-xyz"):
        assert not any(secret in text for text in texts), secret
    assert "/things?token=%2A%2A%2A" in dump

"""Vendor differences as policy hooks, over real sockets: which calls may be re-sent (`resends`), what a
refusal of a fresh token means (`refused_again`), and the vendor's own error types (`error`)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import sqlalchemy as sa

from dealer_pipeline.http import (
    Action,
    UnexpectedStatus,
    VendorBlocked,
    VendorClient,
    VendorError,
    VendorPolicy,
    VendorUnavailable,
    Verdict,
    list_blocks,
)
from tests.http.scripted_vendor import ScriptedAuth, ScriptedVendor

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


class Conflict(VendorError):
    """The vendor's own type for a 409."""


@dataclasses.dataclass
class HookedPolicy(VendorPolicy):
    """A POST is re-sent only after a 429; a fresh token refused again blocks the service; 409 is `Conflict`."""

    vendor: str = "hooked"
    base_url: str = ""

    def resends(self, method: str, action: Action | None) -> bool:
        return method != "POST" or action is Action.PAUSE_VENDOR

    def refused_again(self, verdict: Verdict) -> Verdict:
        return dataclasses.replace(verdict, action=Action.BLOCK_SERVICE, reason="401")

    def error(self, exc: VendorError) -> VendorError:
        if isinstance(exc, UnexpectedStatus) and exc.status == 409:
            return Conflict(exc.vendor_message or "conflict", **exc.where())
        return exc

    def block_action(self, reason: str, dealer_id: str | None, service: str | None, message: str | None) -> str:
        return f"ask {dealer_id} to enable /{service}" if reason == "401" else super().block_action(
            reason, dealer_id, service, message)


def _client(vendor: ScriptedVendor, engine: sa.Engine, **policy: Any) -> VendorClient:
    return VendorClient(HookedPolicy(base_url=vendor.url, backoff_base_seconds=0.05, **policy), engine=engine,
                        auth=ScriptedAuth(vendor.url), max_wait_seconds=10, block_cache_seconds=0.05)


def _statuses(vendor: ScriptedVendor, path: str) -> list[Any]:
    return [(c["method"], c["status"]) for c in vendor.calls(path)]


@sqlite_only
def test_a_post_is_resent_only_after_a_429(store: sa.Engine, vendor: ScriptedVendor) -> None:
    with _client(vendor, store) as client:
        vendor.queue("/leads", {"status": 500})
        with pytest.raises(VendorUnavailable, match="still 500 after 1 attempts"):
            client.request("POST", "/leads", json_body={"n": 1})
        vendor.queue("/leads", "reset")
        with pytest.raises(VendorUnavailable, match="no response after 1 attempts"):
            client.request("POST", "/leads", json_body={"n": 2})
        vendor.queue("/leads", {"status": 429, "headers": {"Retry-After": "0.2"}})
        created = client.request("POST", "/leads", json_body={"n": 3})
        vendor.queue("/items", {"status": 500})
        read = client.request("GET", "/items")  # a GET is retried as the table says
    assert created.status == 200 and created.attempts == 2 and read.attempts == 2
    assert _statuses(vendor, "/leads") == [("POST", 500), ("POST", "reset"), ("POST", 429), ("POST", 200)]
    assert _statuses(vendor, "/items") == [("GET", 500), ("GET", 200)]


@sqlite_only
def test_a_fresh_token_refused_again_blocks_as_the_policy_says(store: sa.Engine, vendor: ScriptedVendor) -> None:
    vendor.queue("/stock", {"status": 401, "body": {"message": "integration off"}},
                 {"status": 401, "body": {"message": "integration off"}})
    with _client(vendor, store) as client:
        with pytest.raises(VendorBlocked) as caught:
            client.request("GET", "/stock", dealer_id="d:1")
        with pytest.raises(VendorBlocked, match=f"block {caught.value.block_id}"):
            client.request("GET", "/stock", dealer_id="d:1")  # not sent: the block holds
        client.request("GET", "/orders", dealer_id="d:1")  # the dealer's other services go on
        client.request("GET", "/stock", dealer_id="d:2")  # and other dealers
    error = caught.value
    assert (error.reason, error.status, error.vendor_message) == ("401", 401, "integration off")
    assert "after one new token" in str(error) and "ask d:1 to enable /stock" in str(error)
    assert [c["path"] for c in vendor.calls()].count("/auth") == 2  # one token, then one new token
    assert _statuses(vendor, "/stock") == [("GET", 401), ("GET", 401), ("GET", 200)]
    (block,) = list_blocks(store, vendor="hooked")
    assert (block.reason, block.dealer_id, block.service, block.action) == ("401", "d:1", "stock",
                                                                           "ask d:1 to enable /stock")


@sqlite_only
def test_failures_leave_as_the_vendors_own_types(store: sa.Engine, vendor: ScriptedVendor) -> None:
    vendor.queue("/cars", {"status": 409, "body": {"message": "exists"}}, {"status": 410})
    with _client(vendor, store) as client:
        with pytest.raises(Conflict) as caught:
            client.request("POST", "/cars", json_body={})
        with pytest.raises(UnexpectedStatus) as other:
            client.request("POST", "/cars", json_body={})
    error = caught.value
    assert (error.message, error.status, error.method, error.path) == ("exists", 409, "POST", "/cars")
    assert error.cf_ray and error.__cause__ is None and error.__suppress_context__
    assert other.value.status == 410 and not isinstance(other.value, Conflict)

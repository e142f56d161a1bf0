"""Vendor clients never follow a redirect: a 3xx would carry the key, secret or token elsewhere."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dealer_pipeline.http import UnexpectedStatus
from tests.http.scripted_vendor import CLIENT_SECRET, ScriptedVendor, make_client


@pytest.fixture
def elsewhere() -> ScriptedVendor:
    server = ScriptedVendor()
    yield server
    server.stop()


@pytest.mark.parametrize("status", [307, 308, 302])
def test_a_token_request_answered_with_a_redirect_re_sends_nothing(
    status: int, store: sa.Engine, vendor: ScriptedVendor, elsewhere: ScriptedVendor
) -> None:
    vendor.queue("/auth", {"status": status, "headers": {"Location": f"{elsewhere.url}/auth"}, "body": {}})
    client = make_client(vendor.url, store)
    with pytest.raises(UnexpectedStatus) as caught:
        client.request("GET", "/things")
    assert caught.value.status == status
    assert f"redirect ({status}) to 127.0.0.1 not followed" in str(caught.value)
    assert elsewhere.calls() == []  # the key and secret went nowhere else
    assert len(vendor.calls("/auth")) == 1  # and were not sent again
    assert CLIENT_SECRET not in str(caught.value)


def test_an_authenticated_call_redirected_cross_host_sends_no_token_there(
    store: sa.Engine, vendor: ScriptedVendor, elsewhere: ScriptedVendor
) -> None:
    client = make_client(vendor.url, store)
    client.request("GET", "/things")  # a token is obtained and used
    vendor.queue("/things", {"status": 301, "headers": {"Location": f"{elsewhere.url}/things"}, "body": {}})
    with pytest.raises(UnexpectedStatus, match="redirect"):
        client.request("GET", "/things")
    assert elsewhere.calls() == []
    assert [c["status"] for c in vendor.calls("/things")] == [200, 301]

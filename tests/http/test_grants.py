"""The one token-grant helper (`http.grants`) on bad input: no token, unusable or absurd lifetimes,
expiries in the past; and a grant through a real socket whose answer is malformed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from dealer_pipeline.http import MalformedResponse, VendorClient, VendorPolicy
from dealer_pipeline.http.grants import MAX_LIFETIME, GrantSpec, grant_token, positive_seconds, read_grant
from dealer_pipeline.store.schema import api_calls
from dealer_pipeline.vendors.autotrader import GRANT as AUTOTRADER_GRANT
from tests.http.scripted_vendor import ScriptedVendor

SINCE = datetime(2026, 12, 4, 23, 0, tzinfo=UTC)
SPEC = GrantSpec("v", "/oauth/token", timedelta(hours=1))


@pytest.mark.parametrize("body", [
    None, [], "access_token=abc", 42, {}, {"token": "abc"}, {"access_token": None}, {"access_token": ""},
    {"access_token": "   "}, {"access_token": 12345}, {"access_token": ["abc"]}, {"access_token": {"v": "abc"}},
])
def test_a_grant_without_a_token_is_malformed(body: Any) -> None:
    with pytest.raises(MalformedResponse, match="token response has no access_token") as caught:
        read_grant(body, SPEC, SINCE, status=200, cf_ray="ray-1")
    error = caught.value
    assert (error.vendor, error.method, error.path, error.status, error.cf_ray) == (
        "v", "POST", "/oauth/token", 200, "ray-1")


@pytest.mark.parametrize(("expires_in", "lifetime"), [
    (3600, timedelta(hours=1)), ("64", timedelta(seconds=64)), (0.5, timedelta(seconds=0.5)),
    # unusable: the documented default (1 h here)
    (None, timedelta(hours=1)), (0, timedelta(hours=1)), (-30, timedelta(hours=1)), ("soon", timedelta(hours=1)),
    ("", timedelta(hours=1)), (True, timedelta(hours=1)), (float("nan"), timedelta(hours=1)), ([60], timedelta(hours=1)),
    # absurd: capped, never an overflow
    (1e300, MAX_LIFETIME), (10**400, MAX_LIFETIME), (float("inf"), MAX_LIFETIME), ("1e999", MAX_LIFETIME),
])
def test_a_grant_lifetime_is_usable_or_the_default_or_capped(expires_in: Any, lifetime: timedelta) -> None:
    grant = read_grant({"access_token": "tok", "expires_in": expires_in}, SPEC, SINCE)
    assert grant.token.reveal() == "tok" and grant.obtained_at == SINCE
    assert grant.expires_at - grant.obtained_at == lifetime


def test_a_missing_expires_in_is_the_default_lifetime() -> None:
    assert read_grant({"access_token": "tok"}, SPEC, SINCE).expires_at == SINCE + timedelta(hours=1)


@pytest.mark.parametrize(("body", "expires_at"), [
    ({"expires_at": "2026-12-04T23:15:00Z"}, SINCE + timedelta(minutes=15)),
    ({"expires_at": "garbage", "expires": "2026-12-04T23:10:00+00:00"}, SINCE + timedelta(minutes=10)),
    ({"expires": "Fri Dec 04 23:05:00 UTC 2026"}, SINCE + timedelta(minutes=5)),
    # unusable: already past (the token would be refreshed on every call), garbage, a number, nothing
    ({"expires_at": "2022-05-18T09:35:06Z"}, SINCE + timedelta(minutes=15)),
    ({"expires": "Wed May 18 09:35:06 UTC 2022"}, SINCE + timedelta(minutes=15)),
    ({"expires_at": "soon"}, SINCE + timedelta(minutes=15)),
    ({"expires_at": 1765000000}, SINCE + timedelta(minutes=15)),
    ({}, SINCE + timedelta(minutes=15)),
    # absurd: capped
    ({"expires_at": "9999-12-31T23:59:59Z"}, SINCE + MAX_LIFETIME),
])
def test_an_absolute_expiry_is_used_only_when_it_is_ahead(body: dict[str, Any], expires_at: datetime) -> None:
    grant = read_grant({"access_token": "tok", **body}, AUTOTRADER_GRANT, SINCE)
    assert grant.expires_at == expires_at


def test_positive_seconds_refuses_what_is_not_a_duration() -> None:
    assert [positive_seconds(v) for v in (30, "30", 2.5, "2.5")] == [30.0, 30.0, 2.5, 2.5]
    assert [positive_seconds(v) for v in (0, -1, "-1", "x", None, False, True, float("nan"), {}, [])] == [None] * 10


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("answer", [
    {"status": 200, "body": {"expires_in": 3600}},
    {"status": 201, "body": {"access_token": None, "expires_in": 3600}},
    {"status": 200, "body": ["access_token", "abc"]},
])
def test_a_malformed_grant_over_a_real_socket_fails_clearly_and_is_logged(
        store: sa.Engine, vendor: ScriptedVendor, answer: dict[str, Any]) -> None:
    vendor.queue("/oauth/token", answer)
    client = VendorClient(VendorPolicy(vendor="v", base_url=vendor.url), engine=store, auth=None,
                          max_wait_seconds=5)
    with client, pytest.raises(MalformedResponse, match="no access_token") as caught:
        grant_token(client, SPEC, json_body={"client_secret": "do-not-show"})
    assert caught.value.status == answer["status"] and caught.value.cf_ray
    assert "do-not-show" not in str(caught.value)
    assert [c["method"] for c in vendor.calls("/oauth/token")] == ["POST"]  # a bad grant body is not re-sent
    with store.connect() as conn:
        logged = conn.execute(sa.select(api_calls.c.service, api_calls.c.status)).all()
    assert [tuple(row) for row in logged] == [("oauth", answer["status"])]

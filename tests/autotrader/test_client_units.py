"""Pure parts of the Autotrader client: token expiry formats, 403 kinds, the pagination guards."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dealer_pipeline.http import Action, PaginationError
from dealer_pipeline.vendors.autotrader import AutotraderPolicy, Page, paginate, parse_expiry, stock_id_of

RECEIVED = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("body", "expected"), [
    ({"expires_at": "2026-01-01T12:15:00.000Z"}, datetime(2026, 1, 1, 12, 15, tzinfo=timezone.utc)),
    ({"expires_at": "2026-10-01T13:06:30.625Z", "expires": "Wed May 18 09:35:06 UTC 2022"},
     datetime(2026, 10, 1, 13, 6, 30, 625000, tzinfo=timezone.utc)),
    ({"expires": "Wed May 18 09:35:06 UTC 2022"}, datetime(2022, 5, 18, 9, 35, 6, tzinfo=timezone.utc)),
    ({"expires": "2026-01-01T12:10:00+00:00"}, datetime(2026, 1, 1, 12, 10, tzinfo=timezone.utc)),
    ({}, RECEIVED + timedelta(minutes=15)),
    ({"expires_at": "soon"}, RECEIVED + timedelta(minutes=15)),
])
def test_at_auth_token_expiry_formats(body: dict, expected: datetime) -> None:
    assert parse_expiry(body, RECEIVED) == expected


@pytest.mark.parametrize(("message", "action", "reason"), [
    ("Advertiser 10012345 is not on your integration", Action.BLOCK_DEALER, "403A"),
    ("Advertiser 10012345 does not have access to the Stock Sync product", Action.BLOCK_SERVICE, "403B"),
    ("Forbidden", Action.BLOCK_DEALER, "403A"),
])
def test_at_err_403_kinds_from_the_message(message: str, action: Action, reason: str) -> None:
    policy = AutotraderPolicy(base_url="http://x")
    verdict = policy.classify(403, {}, f'{{"warnings":[{{"type":"ERROR","message":"{message}"}}]}}')
    assert (verdict.action, verdict.reason, verdict.message) == (action, reason, message)


def test_at_err_403_patterns_are_configurable() -> None:
    policy = AutotraderPolicy(base_url="http://x", lacks_product_pattern=r"lacks (?P<product>.+?) entitlement")
    verdict = policy.classify(403, {}, '{"warnings":[{"message":"Advertiser 1 lacks Stock Sync entitlement"}]}')
    assert verdict.reason == "403B"
    assert "Stock Sync product" in policy.block_action("403B", "autotrader:1", "stock", verdict.message)


def _records(*ids: str) -> list[dict]:
    return [{"metadata": {"stockId": i}} for i in ids]


def test_pagination_stops_at_total_results_or_an_empty_page() -> None:
    pages = {1: _records("a", "b"), 2: _records("c")}
    got = list(paginate(lambda n: Page(n, pages.get(n, []), 3), 2, stock_id_of, "stock"))
    assert [p.number for p in got] == [1, 2]
    short = {1: _records("a", "b")}  # the vendor promised 5, then sent an empty page
    assert [p.number for p in paginate(lambda n: Page(n, short.get(n, []), 5), 2, stock_id_of, "stock")] == [1]


def test_pagination_refuses_the_same_page_twice() -> None:
    with pytest.raises(PaginationError, match="page 2 repeats page 1"):
        list(paginate(lambda n: Page(n, _records("a", "b"), 10), 2, stock_id_of, "stock"))

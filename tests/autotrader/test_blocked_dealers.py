"""A dealer with an open block: the run that opens it fails (a new problem), later runs skip the dealer
with the block's id and action instead of failing, alone or in a range of dealers."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dealer_pipeline.defs.sources import autotrader as at
from dealer_pipeline.http import list_blocks
from tests.autotrader.conftest import Harness
from tests.support.runs import failure_message, materializations, metadata_of


def _health(harness: Harness, dealer: str) -> dict:
    with harness.engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT * FROM v_dealer_sync_health WHERE dealer_id = :d"),
                                 {"d": dealer}).mappings().one())


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_blocked_dealers_later_runs_succeed_with_the_skip_recorded(harness: Harness) -> None:
    a, b = harness.advertiser_ids()[:2]
    dealer = f"autotrader:{a}"
    harness.set_access(a, stock_sync=False)
    try:
        opened = harness.sync(a)
        assert not opened.success and "403B" in failure_message(opened), "opening a block is a failure"
        (block,) = list_blocks(harness.engine, vendor="autotrader")
        harness.mark()
        alone = harness.sync(a)
        in_range = harness.sync_range([a, b]) if harness.advertiser_ids()[:2] == [a, b] else None
    finally:
        harness.set_access(a, stock_sync=True)

    assert alone.success, failure_message(alone)
    skipped = metadata_of(alone, at.STOCK_KEY)
    assert (skipped["skipped"], skipped["block_id"], skipped["block_reason"], skipped["dealer"]) == (
        "blocked", block.id, "403B", dealer)
    assert skipped["block_action"] == block.action and "contact Autotrader" in skipped["block_action"]
    assert skipped["vendor_message"] == block.message and skipped["api_calls"] == 0
    warnings = [e.user_message for e in harness.instance.all_logs(alone.run_id) if e.level == 30]
    assert any(f"{dealer} skipped: block {block.id} (403B" in w and block.action in w for w in warnings), warnings

    assert in_range is not None and in_range.success, failure_message(in_range)
    ranged, same = materializations(in_range, at.STOCK_KEY)  # one per partition of the range, same metadata
    assert ranged == same
    counts = (ranged["dealers"], ranged["dealers_ok"], ranged["dealers_blocked"], ranged["dealers_failed"])
    assert counts == (2, 1, 1, 0)
    assert ranged["blocked_dealers"] == {dealer: {"block_id": block.id, "reason": "403B", "action": block.action}}
    assert "| blocked |" in ranged["problems"] and ranged["failed_dealers"] == {}
    mine = [c for c in harness.calls() if c["dealer"] == dealer]
    assert [c["path"] for c in mine if c["path"].startswith("/stock")] == [], "nothing sent for the blocked dealer"

    health = _health(harness, dealer)
    assert health["open_blocks"] == 1 and health["last_baseline_complete"] in (False, 0)
    assert f"block {block.id} (403B) is unresolved" in health["last_baseline_error"]
    assert block.action in health["last_baseline_error"]

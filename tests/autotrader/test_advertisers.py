"""AT-ADV: dealers come from the Advertisers API, paged; one advertiser checked with advertiserId."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dealer_pipeline.defs.sources.autotrader import ADVERTISER_PARTITIONS, ADVERTISERS_KEY
from dealer_pipeline.store.schema import dealers
from tests.autotrader.conftest import Harness
from tests.support.runs import materializations

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _dealers(harness: Harness) -> dict[str, dict]:
    with harness.engine.connect() as conn:
        return {r["source_dealer_id"]: dict(r) for r in conn.execute(sa.select(dealers)).mappings()}


def test_at_adv_1_dealers_come_from_the_advertisers_api(harness: Harness) -> None:
    result = harness.advertisers()
    assert result.success
    listed = harness.advertiser_ids(status=None)
    stored = _dealers(harness)
    assert set(stored) == set(listed)
    assert harness.advertiser_ids(on_integration=False, status=None)[0] not in stored
    for advertiser_id, row in stored.items():
        assert row["dealer_id"] == f"autotrader:{advertiser_id}" and row["raw"]["advertiserId"] == advertiser_id
    partitions = set(harness.instance.get_dynamic_partitions(ADVERTISER_PARTITIONS.name))
    assert partitions == set(harness.advertiser_ids())  # the active ones
    assert [c["path"] for c in harness.calls() if c["path"] != "/authenticate"] == ["/advertisers"]
    (meta,) = materializations(result, ADVERTISERS_KEY)
    assert meta["listed"] == len(listed) and meta["partitions_added"] == len(partitions)


def test_at_adv_2_advertisers_paged_with_page_and_page_size(harness: Harness) -> None:
    listed = harness.advertiser_ids(status=None)
    assert len(listed) == 3
    assert harness.advertisers(advertiser_page_size=2).success
    pages = [c["query"] for c in harness.calls("/advertisers")]
    assert pages == [{"page": "1", "pageSize": "2"}, {"page": "2", "pageSize": "2"}]
    assert set(_dealers(harness)) == set(listed)


def test_at_adv_3_single_advertiser_checked_with_advertiser_id(harness: Harness) -> None:
    on, off = harness.advertiser_ids()[0], harness.advertiser_ids(on_integration=False, status=None)[0]
    with harness.client() as client:
        assert client.get_advertiser(on)["advertiserId"] == on
        assert client.get_advertiser(off) is None
    checks = [c["query"] for c in harness.calls("/advertisers")]
    assert checks == [{"advertiserId": on}, {"advertiserId": off}]
    # A dealer that leaves the integration is marked, and its partition goes.
    assert harness.advertisers().success
    harness.set_access(on, on_integration=False)
    try:
        result = harness.advertisers()
    finally:
        harness.set_access(on, on_integration=True)
    assert result.success
    row = _dealers(harness)[on]
    assert row["status"] == "left_integration" and row["left_at"] is not None
    assert on not in harness.instance.get_dynamic_partitions(ADVERTISER_PARTITIONS.name)
    assert materializations(result, ADVERTISERS_KEY)[0]["left_integration"] == 1
    assert harness.advertisers().success
    assert _dealers(harness)[on]["status"] == "active" and _dealers(harness)[on]["left_at"] is None

"""AT-BASE: per-advertiser baseline, paged to the end, refined, stored with its ids; all or nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dealer_pipeline.defs.sources.autotrader import STOCK_KEY, stock
from dealer_pipeline.store.schema import sync_runs, vehicle_changes, vehicles
from dealer_pipeline.vendors.autotrader import UNUSED_SECTIONS
from tests.autotrader.conftest import VEHICLES, Harness
from tests.support.runs import failure_message, materializations


def _vehicles(harness: Harness, advertiser_id: str) -> dict[str, dict]:
    with harness.engine.connect() as conn:
        rows = conn.execute(sa.select(vehicles).where(vehicles.c.dealer_id == f"autotrader:{advertiser_id}"))
        return {r["source_vehicle_id"]: dict(r) for r in rows.mappings()}


def _runs(harness: Harness) -> list[dict]:
    with harness.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(sync_runs).order_by(sync_runs.c.id)).mappings()]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_at_base_1_baseline_for_one_retailer_with_advertiser_id(harness: Harness) -> None:
    advertiser = harness.advertiser_ids()[1]
    result = harness.sync(advertiser, [stock])
    assert result.success
    pages = harness.calls("/stock")
    assert pages and all(c["query"]["advertiserId"] == advertiser for c in pages)
    stored = _vehicles(harness, advertiser)
    assert len(stored) == VEHICLES
    (meta,) = materializations(result, STOCK_KEY)
    assert meta["complete"] is True and meta["records"] == VEHICLES and meta["created"] == VEHICLES


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_at_base_2_pages_with_page_and_page_size(harness: Harness) -> None:
    advertiser = harness.advertiser_ids()[0]
    assert harness.sync(advertiser, [stock], stock_page_size=10).success
    queries = [(c["query"]["page"], c["query"]["pageSize"]) for c in harness.calls("/stock")]
    assert queries == [("1", "10"), ("2", "10"), ("3", "10")]  # 25 records: stops at totalResults
    assert len(_vehicles(harness, advertiser)) == VEHICLES
    (run,) = _runs(harness)
    assert run["complete"] and run["pages"] == 3 and run["records"] == VEHICLES and run["created"] == VEHICLES
    # Page size 25: one full page and no probe past the end.
    harness.mark()
    assert harness.sync(advertiser, [stock], stock_page_size=25).success
    assert [c["query"]["page"] for c in harness.calls("/stock")] == ["1"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_at_base_3_stock_id_and_search_id_stored(harness: Harness) -> None:
    advertiser = harness.advertiser_ids()[2]
    assert harness.sync(advertiser, [stock]).success
    stored = _vehicles(harness, advertiser)
    for stock_id in list(stored)[:5]:
        record = harness.record(stock_id)["metadata"]
        row = stored[stock_id]
        assert row["vehicle_id"] == f"autotrader:{record['stockId']}"
        assert row["search_id"] == record["searchId"]
        assert row["external_stock_id"] == record["externalStockId"]
        assert row["external_stock_reference"] == record["externalStockReference"]
        assert row["source_version"] == record["versionNumber"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_at_base_5_unused_sections_requested_false(harness: Harness) -> None:
    advertiser = harness.advertiser_ids()[0]
    assert harness.sync(advertiser, [stock]).success
    (page,) = harness.calls("/stock")
    for section in ("valuations", "responseMetrics", "check", "history"):
        assert page["query"][section] == "false"
    assert {name for name, value in page["query"].items() if value == "false"} == set(UNUSED_SECTIONS)
    for section in ("vehicle", "advertiser", "adverts", "metadata", "features", "media", "highlights"):
        assert page["query"][section] == "true"
    raw = next(iter(_vehicles(harness, advertiser).values()))["raw"]
    assert not {"valuations", "responseMetrics", "check", "history"} & set(raw)
    assert {"vehicle", "adverts", "metadata", "features", "media"} <= set(raw)


def test_at_base_partial_download_changes_nothing(harness: Harness) -> None:
    """A connection reset on page 3 (beyond the retries) fails the run and leaves `vehicles` as it was."""
    advertiser = harness.advertiser_ids()[0]
    assert harness.sync(advertiser, [stock]).success
    before = _vehicles(harness, advertiser)
    stock_ids = sorted(before)
    # The vendor changes a price and stops listing one vehicle; page 3 keeps failing.
    harness.sandbox.change("autotrader", stock_ids[0], price=1234, deliver=False)
    harness.sandbox.control("POST", f"/autotrader/stock/{stock_ids[-1]}/delete", {"remove": True, "deliver": False})
    harness.sandbox.fault(vendor="autotrader", path="/stock", query={"page": "3"}, reset=True, times=20)
    harness.mark()
    result = harness.sync(advertiser, [stock], stock_page_size=10, retry_backoff_seconds=0.05)
    assert not result.success
    assert "no response after" in failure_message(result)
    assert [c["query"]["page"] for c in harness.calls("/stock")][:3] == ["1", "2", "3"]
    assert _vehicles(harness, advertiser) == before
    with harness.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(vehicle_changes)).scalar_one() == 0
    failed = _runs(harness)[-1]
    assert not failed["complete"] and failed["pages"] == 2 and failed["records"] == 20 and failed["error"]
    # Once the vendor answers again, a complete baseline applies both changes.
    harness.sandbox.clear_faults()
    assert harness.sync(advertiser, [stock], stock_page_size=10).success
    after = _vehicles(harness, advertiser)
    assert after[stock_ids[0]]["supplied_price_amount"] == 1234
    assert after[stock_ids[-1]]["availability"] == "removed"
    assert _runs(harness)[-1]["complete"] and _runs(harness)[-1]["removed"] == 1

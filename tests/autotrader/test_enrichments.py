"""AT-FEAT and AT-CHG: features and charge times once per stock item, again only when they must be."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from dealer_pipeline.defs.sources.autotrader import CHARGE_TIMES_KEY, FEATURES_KEY
from dealer_pipeline.sandbox.reference import UK_DERIVATIVES
from dealer_pipeline.settings import get_settings
from dealer_pipeline.store.schema import stock_enrichments, vehicles
from tests.autotrader.conftest import Harness
from tests.support.runs import materializations

LIVE = ("available", "reserved")


def _live(harness: Harness, advertiser_id: str) -> dict[str, dict]:
    with harness.engine.connect() as conn:
        rows = conn.execute(sa.select(vehicles).where(vehicles.c.dealer_id == f"autotrader:{advertiser_id}",
                                                      vehicles.c.availability.in_(LIVE)))
        return {r["source_vehicle_id"]: dict(r) for r in rows.mappings()}


def _enrichments(harness: Harness, kind: str) -> dict[str, dict]:
    with harness.engine.connect() as conn:
        rows = conn.execute(sa.select(stock_enrichments).where(stock_enrichments.c.kind == kind))
        return {r["vehicle_id"].split(":", 1)[1]: dict(r) for r in rows.mappings()}


def _called(harness: Harness, suffix: str) -> Counter:
    return Counter(c["path"].split("/")[2] for c in harness.calls("/stock/") if c["path"].endswith(suffix))


def _pluggable(live: dict[str, dict]) -> list[str]:
    return sorted(sid for sid, row in live.items() if row["fuel_type"] in ("electric", "plugin_hybrid"))


def _other_pluggable_derivative(current: str) -> str:
    return next(d.derivative_id for _, d in UK_DERIVATIVES if d.pluggable and d.derivative_id != current)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_at_feat_1_features_fetched_per_stock_id(harness: Harness) -> None:
    a = harness.advertiser_ids()[0]
    result = harness.sync(a)
    assert result.success
    live = _live(harness, a)
    calls = [c for c in harness.calls("/stock/") if c["path"].endswith("/features")]
    assert sorted(c["path"] for c in calls) == sorted(f"/stock/{sid}/features" for sid in live)
    assert all(c["query"] == {"advertiserId": a} and c["status"] == 200 for c in calls)
    stored = _enrichments(harness, "features")
    assert set(stored) == set(live)
    for sid, row in stored.items():
        assert row["derivative_id"] == live[sid]["derivative_id"] and row["features_hash"]
        assert isinstance(row["payload"]["features"], list) and row["payload"]["features"]
    # The record's own features stay on the vehicle; the taxonomy is the enrichment.
    some = sorted(live)[0]
    record = harness.record(some)
    assert [f["name"] for f in live[some]["features"]] == [f["name"] for f in record["features"]]
    assert len(stored[some]["payload"]["features"]) >= len(record["features"])
    (meta,) = materializations(result, FEATURES_KEY)
    assert meta["calls_made"] == len(live) and meta["skipped"] == 0


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_at_feat_2_once_per_item_again_only_on_derivative_or_features_change(harness: Harness) -> None:
    a = harness.advertiser_ids()[1]
    assert harness.sync(a).success
    harness.mark()
    second = harness.sync(a)
    assert second.success
    assert _called(harness, "/features") == Counter(), "a second baseline makes zero feature calls"
    assert materializations(second, FEATURES_KEY)[0]["skipped"] == len(_live(harness, a))

    live = _live(harness, a)
    plug = _pluggable(live)[0]
    plain = next(sid for sid in sorted(live) if sid != plug)
    harness.sandbox.change("autotrader", plug, derivative_id=_other_pluggable_derivative(live[plug]["derivative_id"]),
                           deliver=False)
    harness.sandbox.change("autotrader", plain, add_features=["Heated steering wheel"], deliver=False)
    harness.mark()
    assert harness.sync(a).success
    assert _called(harness, "/features") == Counter({plug: 1, plain: 1})
    harness.mark()
    assert harness.sync(a).success
    assert _called(harness, "/features") == Counter(), "never again on a schedule"


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_at_chg_1_charge_times_fetched_per_stock_id(harness: Harness) -> None:
    a = harness.advertiser_ids()[2]
    result = harness.sync(a)
    assert result.success
    live = _live(harness, a)
    plug = _pluggable(live)
    assert plug, "the sandbox advertiser has electric or plug-in stock"
    calls = [c for c in harness.calls("/stock/") if c["path"].endswith("/charge-times")]
    assert sorted(c["path"] for c in calls) == sorted(f"/stock/{sid}/charge-times" for sid in plug)
    assert all(c["query"] == {"advertiserId": a} and c["status"] == 200 for c in calls)
    stored = _enrichments(harness, "charge_times")
    assert set(stored) == set(plug)
    for row in stored.values():
        times = row["payload"]["chargeTimes"]
        assert times and {"chargerType", "durationMinutes"} <= set(times[0])
    (meta,) = materializations(result, CHARGE_TIMES_KEY)
    assert meta["calls_made"] == len(plug) and meta["not_eligible"] == len(live) - len(plug)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_at_chg_2_non_plugin_vehicles_not_called_empty_array_accepted(harness: Harness,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    a = harness.advertiser_ids()[0]
    assert harness.sync(a).success
    live = _live(harness, a)
    plug = set(_pluggable(live))
    others = sorted(set(live) - plug)
    assert others
    assert set(_called(harness, "/charge-times")) == plug
    with harness.client() as client:  # the endpoint answers [] for them; the client accepts it
        assert client.get_charge_times(others[0], a) == []
    # With the feature flag off, nothing is called at all.
    monkeypatch.setenv("AUTOTRADER_CHARGE_TIMES_ENABLED", "false")
    get_settings.cache_clear()
    with harness.engine.begin() as conn:
        conn.execute(sa.delete(stock_enrichments).where(stock_enrichments.c.kind == "charge_times"))
    harness.mark()
    result = harness.sync(a)
    assert result.success and _called(harness, "/charge-times") == Counter()
    meta = materializations(result, CHARGE_TIMES_KEY)[0]
    assert meta["enabled"] is False and meta["calls_made"] == 0


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_at_chg_3_once_per_item_again_only_on_derivative_change(harness: Harness) -> None:
    a = harness.advertiser_ids()[1]
    assert harness.sync(a).success
    harness.mark()
    assert harness.sync(a).success
    assert _called(harness, "/charge-times") == Counter()
    live = _live(harness, a)
    plug = _pluggable(live)
    assert len(plug) >= 2
    features_only, new_derivative = plug[-1], plug[-2]
    harness.sandbox.change("autotrader", features_only, add_features=["Panoramic roof"], deliver=False)
    harness.sandbox.change("autotrader", new_derivative,
                           derivative_id=_other_pluggable_derivative(live[new_derivative]["derivative_id"]),
                           deliver=False)
    harness.mark()
    assert harness.sync(a).success
    assert _called(harness, "/charge-times") == Counter({new_derivative: 1})
    assert _called(harness, "/features") == Counter({features_only: 1, new_derivative: 1})

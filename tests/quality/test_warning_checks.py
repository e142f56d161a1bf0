"""Warning checks fire on crafted sync runs and vocabularies, and stay quiet on healthy dealers."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import sqlalchemy as sa

from dealer_pipeline.quality.dealer_health import baseline_row_count, dealer_freshness, other_vocabulary_share
from tests.quality.factories import (
    BR_DEALER,
    NOW,
    UK_DEALER,
    UK_DEALER_2,
    baseline,
    br_vehicle,
    insert_baselines,
    insert_vehicles,
    uk_vehicle,
)

SHRINKING = "autotrader:10000001"
STEADY = "autotrader:10000002"
FAILED_LAST = "autotrader:10000003"


def test_row_count_drop_over_20_percent_warns(store: sa.Engine) -> None:
    day = timedelta(days=1)
    insert_baselines(store, [
        baseline(SHRINKING, NOW - 2 * day, 200), baseline(SHRINKING, NOW - day, 150),  # -25%
        baseline(STEADY, NOW - 2 * day, 200), baseline(STEADY, NOW - day, 161),  # -19.5%
        baseline(STEADY, NOW - 3 * day, 10),  # older history does not count
        baseline(FAILED_LAST, NOW - 2 * day, 200),
        baseline(FAILED_LAST, NOW - day, 40, complete=False, error="page 3: 503"),  # an incomplete run is no evidence
        baseline(BR_DEALER, NOW - day, 80),  # a single baseline has nothing to compare with
    ])
    with store.connect() as conn:
        result = baseline_row_count(conn)
        one = baseline_row_count(conn, dealer_id=STEADY)
    assert result.dealers_checked == 2  # FAILED_LAST and BR_DEALER have one complete baseline each
    assert [w.dealer_id for w in result.warnings] == [SHRINKING]
    (warning,) = result.warnings
    assert warning.figures == {"records": 150, "previous_records": 200, "drop": 0.25}
    assert "25% fewer than the 200" in warning.message
    assert one.passed and one.dealers_checked == 1


def test_stale_and_never_completed_dealers_warn(store: sa.Engine) -> None:
    insert_baselines(store, [
        baseline(UK_DEALER, NOW - timedelta(hours=30), 10),
        baseline(UK_DEALER, NOW - timedelta(hours=1), 10, complete=False),  # started, never finished
        baseline(UK_DEALER_2, NOW - timedelta(hours=2), 10),
    ])
    insert_vehicles(store, [br_vehicle(1)])  # listed stock but no baseline at all
    with store.connect() as conn:
        result = dealer_freshness(conn, now=NOW, max_age_hours=26)
        lenient = dealer_freshness(conn, now=NOW, max_age_hours=48, dealer_id=UK_DEALER)
    assert result.dealers_checked == 3
    warned = {w.dealer_id: w for w in result.warnings}
    assert set(warned) == {UK_DEALER, BR_DEALER}
    assert warned[UK_DEALER].figures["age_hours"] == 29.95  # finished 3 minutes after it started
    assert "limit 26 h" in warned[UK_DEALER].message
    assert warned[BR_DEALER].message == "no complete baseline yet"
    assert lenient.passed


def _listed(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows).reindex(columns=[
        "vehicle_id", "dealer_id", "availability", "fuel_type", "source_fuel_type", "transmission",
        "source_transmission"])


def test_other_share_warns_and_names_the_unmapped_vendor_values() -> None:
    rows = [uk_vehicle(i) for i in range(18)] + [br_vehicle(i) for i in range(20)]
    rows[0] = uk_vehicle(0, fuel_type="other", source_fuel_type="Wood Gas")
    rows[1] = uk_vehicle(1, fuel_type="other", source_fuel_type="Wood Gas", transmission="other",
                         source_transmission="Sequential")
    rows[2] = uk_vehicle(2, fuel_type="other", source_fuel_type="Steam")
    rows.append(uk_vehicle(50, fuel_type="other", availability="sold"))  # sold stock is not judged
    result = other_vocabulary_share(_listed(rows))
    assert result.listed == 38
    assert result.shares == {"fuel_type": 3 / 38, "transmission": 1 / 38}
    assert not result.passed  # 7.9% of fuel types > 5%
    assert result.vendor_values("fuel_type") == {"Wood Gas": 2, "Steam": 1}
    assert result.dealer_shares.loc[UK_DEALER, "fuel_type"] == 3 / 18
    assert result.dealer_shares.loc[BR_DEALER, "fuel_type"] == 0
    findings = result.findings().set_index("vehicle_id")
    assert findings.loc[uk_vehicle(1)["vehicle_id"], "reason"] == (
        "fuel_type other (vendor value 'Wood Gas'); transmission other (vendor value 'Sequential')")
    assert set(findings["severity"]) == {"warning"} and len(findings) == 3


def test_other_share_under_threshold_passes() -> None:
    rows = [br_vehicle(i) for i in range(40)]
    rows[0] = br_vehicle(0, transmission="other", source_transmission="Semi-automática")
    result = other_vocabulary_share(_listed(rows))
    assert result.passed and result.shares["transmission"] == 1 / 40

"""The Dagster side, run through a real (ephemeral) instance: the table asset, its checks, and the
per-dealer check factory on a dealer-partitioned asset."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from dealer_pipeline.defs.canonical.checks import CANONICAL_CHECKS, VEHICLES
from dealer_pipeline.defs.canonical.definitions import build_dealer_vehicle_checks, canonical_vehicles
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.quality.expectations import validate_vehicles
from dealer_pipeline.quality.frame import load_vehicles
from dealer_pipeline.settings import get_settings
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.schema import quality_findings
from dealer_pipeline.store.types import utcnow
from tests.quality.factories import (
    BR_DEALER,
    UK_DEALER,
    UK_DEALER_2,
    baseline,
    br_vehicle,
    insert_baselines,
    insert_vehicles,
    uk_vehicle,
)


def _evaluations(result: dg.ExecuteInJobResult) -> dict[str, Any]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _value(evaluation: Any, key: str) -> Any:
    return evaluation.metadata[key].value


def _records(evaluation: Any, key: str) -> list[dict[str, Any]]:
    """The rows of a table metadata value (`MetadataValue.table`, with its schema)."""
    table = evaluation.metadata[key]
    assert isinstance(table, dg.TableMetadataValue) and table.schema is not None, f"{key} is not a table"
    return [record.data for record in table.records]


def test_table_asset_and_checks_report_what_is_wrong(store: sa.Engine, store_url: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEALER_PIPELINE_FRESHNESS_HOURS", "12")
    get_settings.cache_clear()
    now = utcnow()
    cheap = uk_vehicle(1, price_amount=Decimal("11"))
    old_car = br_vehicle(1, model_year=1932)
    wood_gas = uk_vehicle(2, fuel_type="other", source_fuel_type="Wood Gas")
    insert_vehicles(store, [uk_vehicle(0), cheap, wood_gas, uk_vehicle(3, availability="sold", lifecycle_state="SOLD"),
                            br_vehicle(0), old_car, br_vehicle(2), uk_vehicle(4, dealer_id=UK_DEALER_2)])
    insert_baselines(store, [
        baseline(UK_DEALER, now - timedelta(hours=30), 10), baseline(UK_DEALER, now - timedelta(hours=2), 4),
        baseline(BR_DEALER, now - timedelta(hours=20), 3), baseline(UK_DEALER_2, now - timedelta(hours=1), 1),
    ])

    instance = dg.DagsterInstance.ephemeral()  # held: a run keeps only a weak reference to it
    result = dg.materialize([canonical_vehicles, *CANONICAL_CHECKS], instance=instance,
                            resources={"store": StoreResource(database_url=store_url)})
    assert result.success

    (materialization,) = result.asset_materializations_for_node("canonical__vehicles")
    assert materialization.metadata["dagster/row_count"].value == 8
    assert materialization.metadata["by_source"].value == {"autotrader": 5, "webmotors": 3}
    assert materialization.metadata["by_availability"].value == {"available": 7, "sold": 1}
    by_dealer = {r.data["dealer_id"]: r.data for r in materialization.metadata["by_dealer"].records}
    assert (by_dealer[UK_DEALER]["available"], by_dealer[UK_DEALER]["sold"], by_dealer[UK_DEALER]["total"]) == (3, 1, 4)
    assert by_dealer[UK_DEALER_2]["total"] == 1 and by_dealer[BR_DEALER]["total"] == 3

    checks = _evaluations(result)
    assert set(checks) == {next(iter(c.check_specs)).name for c in CANONICAL_CHECKS}
    assert all(e.asset_key == VEHICLES for e in checks.values())

    assert checks["unique_vehicle_id"].passed

    rules = checks["vehicle_rules"]
    assert not rules.passed and rules.severity == dg.AssetCheckSeverity.ERROR
    failures = _value(rules, "failures_per_rule")
    assert failures["price_range"] == 1 and failures["model_year_range"] == 1 and sum(failures.values()) == 2
    examples = _records(rules, "examples")
    assert [c.name for c in rules.metadata["examples"].schema.columns] == ["rule", "vehicle_id", "dealer_id", "reason"]
    assert any(r["vehicle_id"] == cheap["vehicle_id"] and "11.00 GBP outside" in r["reason"] for r in examples)
    assert {r["rule"]: r["failing_vehicles"] for r in _records(rules, "failures_table")} == failures
    assert "FROM v_data_quality" in _value(rules, "findings_query")
    with store.connect() as conn:
        stored = dict(conn.execute(sa.select(quality_findings.c.vehicle_id, quality_findings.c.check_name)).all())
    assert stored == {cheap["vehicle_id"]: "price_range", old_car["vehicle_id"]: "model_year_range",
                      wood_gas["vehicle_id"]: "other_vocabulary_share"}

    ge = checks["great_expectations_suite"]
    assert not ge.passed and ge.severity == dg.AssetCheckSeverity.ERROR
    results = {r["description"]: r for r in _value(ge, "results")}
    gbp = results["GBP prices are plausible"]
    assert gbp["success"] is False and gbp["unexpected_count"] == 1
    assert gbp["failing_examples"] == [{"vehicle_id": cheap["vehicle_id"], "value": 11.0}]
    assert gbp["observed"] == "1 of 4 unexpected"  # the four listed GBP vehicles
    year = results["model year is plausible"]
    assert year["failing_examples"] == [{"vehicle_id": old_car["vehicle_id"], "value": 1932}]
    assert results["vehicle_id is unique"]["success"] is True
    assert results["the canonical table is not empty"]["observed"] == 8
    expectations = {r["what_it_means"]: r for r in _records(ge, "expectations")}
    assert expectations["model year is plausible"]["success"] is False
    assert expectations["vehicle_id is unique"]["success"] is True
    assert _value(ge, "expectations_failed") == 2  # GBP prices and model year (`other` is a canonical fuel)
    assert {r["description"] for r in _value(ge, "results") if not r["success"]} == {
        "GBP prices are plausible", "model year is plausible"}

    rows = checks["baseline_row_count"]
    assert not rows.passed and rows.severity == dg.AssetCheckSeverity.WARN
    assert [d["dealer_id"] for d in _value(rows, "details")] == [UK_DEALER]

    fresh = checks["dealer_freshness"]
    assert not fresh.passed and fresh.severity == dg.AssetCheckSeverity.WARN
    assert [d["dealer_id"] for d in _value(fresh, "details")] == [BR_DEALER]  # 20 h > 12 h
    assert _value(fresh, "max_age_hours") == 12
    assert [r["dealer_id"] for r in _records(fresh, "warnings")] == [BR_DEALER]

    other = checks["other_vocabulary_share"]
    assert not other.passed and other.severity == dg.AssetCheckSeverity.WARN
    assert _value(other, "unmapped_vendor_values")["fuel_type"] == {"Wood Gas": 1}
    assert _value(other, "fuel_type_other_share") == round(1 / 7, 4)
    worst = _records(other, "dealers_by_share")[0]
    assert worst["dealer_id"] == UK_DEALER and worst["fuel_type_other_share"] == round(1 / 3, 4)


def test_the_suite_passes_on_clean_stock(store: sa.Engine) -> None:
    insert_vehicles(store, [*(uk_vehicle(i) for i in range(5)), *(br_vehicle(i) for i in range(4))])
    with store.connect() as conn:
        outcomes = validate_vehicles(load_vehicles(conn))
    assert len(outcomes) == 23  # 11 on the table, 10 on listed stock, price ranges for the 2 currencies present
    assert all(o.success for o in outcomes), [o for o in outcomes if not o.success]


ADVERTISERS = dg.DynamicPartitionsDefinition(name="test_autotrader_advertisers")


@dg.asset(key=["autotrader", "stock"], partitions_def=ADVERTISERS)
def autotrader_stock() -> None:
    """Stands in for the source asset: the dealer's rows are already in the store."""


@pytest.mark.parametrize("backend", ["postgresql"])
def test_dealer_check_factory_judges_one_dealer_partition(store: sa.Engine, store_url: str) -> None:
    now = utcnow()
    bad_here = uk_vehicle(1, vin="1M8GDM9A1KP042788")
    bad_elsewhere = uk_vehicle(2, dealer_id=UK_DEALER_2, images=[])
    insert_vehicles(store, [uk_vehicle(0), bad_here, bad_elsewhere, uk_vehicle(3, dealer_id=UK_DEALER_2)])
    insert_baselines(store, [baseline(UK_DEALER, now - timedelta(hours=5), 50),
                             baseline(UK_DEALER, now - timedelta(hours=1), 20)])
    with transaction(store) as conn:  # a stale finding on the partition's vehicle, from an earlier run
        conn.execute(sa.insert(quality_findings).values(
            vehicle_id=uk_vehicle(0)["vehicle_id"], dealer_id=UK_DEALER, check_name="price_range",
            severity="blocking", reason="fixed since", detected_at=now))

    checks = build_dealer_vehicle_checks(["autotrader", "stock"], ADVERTISERS, "autotrader")
    names = [next(iter(c.check_specs)).name for c in checks]
    assert names == ["vehicle_rules", "baseline_row_count", "dealer_freshness"]
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ADVERTISERS.name, ["10012345", "10099887"])
    result = dg.materialize([autotrader_stock, *checks], instance=instance, partition_key="10012345",
                            resources={"store": StoreResource(database_url=store_url)})
    assert result.success

    evaluations = _evaluations(result)
    rules = evaluations["vehicle_rules"]
    assert rules.partition == "10012345"
    assert not rules.passed and _value(rules, "vehicles_checked") == 2
    assert _value(rules, "failures_per_rule")["vin_format"] == 1
    assert f"dealer_id = '{UK_DEALER}'" in _value(rules, "findings_query")
    assert not evaluations["baseline_row_count"].passed  # 50 -> 20
    assert evaluations["dealer_freshness"].passed
    with store.connect() as conn:
        stored = dict(conn.execute(sa.select(quality_findings.c.vehicle_id, quality_findings.c.check_name)).all())
    # only this dealer's scope was replaced: the stale finding left, the other dealer was not judged
    assert stored == {bad_here["vehicle_id"]: "vin_format"}


def test_vehicle_rules_over_a_range_of_dealers_match_each_dealer_alone(store: sa.Engine, store_url: str) -> None:
    """A run over several dealers judges them in one evaluation; each dealer's result and stored findings
    are exactly what judging that dealer alone gives."""
    from dealer_pipeline.defs.canonical.checks import run_vehicle_rules, run_vehicle_rules_each

    insert_vehicles(store, [uk_vehicle(0), uk_vehicle(1, price_amount=Decimal("1.00")), uk_vehicle(2, vin="BAD"),
                            br_vehicle(0), br_vehicle(1, price_amount=Decimal("1.00")),
                            uk_vehicle(4, dealer_id=UK_DEALER_2)])
    resource = StoreResource(database_url=store_url)
    dealers = [UK_DEALER, UK_DEALER_2, BR_DEALER]

    def findings() -> list[tuple]:
        with store.connect() as conn:
            return sorted(tuple(r) for r in conn.execute(sa.select(
                quality_findings.c.vehicle_id, quality_findings.c.dealer_id, quality_findings.c.check_name,
                quality_findings.c.reason)))

    def summary(result: dg.AssetCheckResult) -> tuple:
        return (result.passed, *(result.metadata[k].value for k in
                                 ("vehicles_checked", "listed_vehicles", "failing_vehicles", "failures_per_rule")))

    together = run_vehicle_rules_each(resource, dealers)
    stored_together = findings()
    alone = {dealer: run_vehicle_rules(resource, dealer) for dealer in dealers}
    assert {d: summary(r) for d, r in together.items()} == {d: summary(r) for d, r in alone.items()}
    assert stored_together == findings() and stored_together, "the same findings, and some"
    assert not together[UK_DEALER].passed and together[UK_DEALER_2].passed

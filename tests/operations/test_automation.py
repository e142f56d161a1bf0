"""The table-wide assets follow the per-dealer stock runs: once any dealer's stock was updated and no
stock run is still waiting or running, one request covers `canonical/vehicles` and the catalogue."""

from __future__ import annotations

import dagster as dg

from dealer_pipeline.definitions import defs
from dealer_pipeline.defs.keys import CATALOG_MATCHES, VEHICLES
from dealer_pipeline.defs.sources import autotrader as at


def test_table_wide_assets_wait_for_stock_runs_then_run_once() -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(at.ADVERTISER_PARTITIONS.name, ["1", "2", "3"])
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert first.total_requested == 0, "nothing changed yet"

        # Dealer 1's stock was updated; dealer 2's run is queued (not started); dealer 3 never ran.
        queued = instance.create_run_for_job(defs.resolve_job_def(at.stock_job.name),
                                             tags={"dagster/partition": "2"}, asset_selection=frozenset({at.STOCK_KEY}))
        instance.report_runless_asset_event(dg.AssetMaterialization(at.STOCK_KEY, partition="1"))
        waiting = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert waiting.total_requested == 0, "a stock run still waiting holds the table-wide run back"

        instance.report_run_canceled(queued)
        after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=waiting.cursor)
        assert after.get_requested_partitions(VEHICLES) == {None}
        assert after.get_requested_partitions(CATALOG_MATCHES) == {None}
        assert after.total_requested == 2, "dealer 3's missing partition does not hold the table back"

        again = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor)
        assert again.total_requested == 0, "requested once per change, not on every tick"


def test_the_automation_sensor_runs_from_the_first_daemon_start() -> None:
    sensor = defs.resolve_sensor_def("table_automation_sensor")
    assert isinstance(sensor, dg.AutomationConditionSensorDefinition)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    selected = sensor.asset_selection.resolve(defs.resolve_asset_graph())
    assert selected == {VEHICLES, CATALOG_MATCHES}
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys if key.asset_key == VEHICLES}
    assert {"great_expectations_suite", "unique_vehicle_id", "other_vocabulary_share"} <= checks
    assert all(defs.resolve_asset_graph().get(dg.AssetCheckKey(VEHICLES, name)).automation_condition is None
               for name in checks), "the checks ride along in the asset's run"

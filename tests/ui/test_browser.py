"""The Dagster UI in a real browser, over a demo-sized instance: what an operator sees and clicks.

Each test leaves a screenshot in `test-artifacts/screenshots/` (README "What the UI shows").
"""

from __future__ import annotations

import re
from typing import Any

import dagster as dg
import pytest

from tests.ui.conftest import screenshot_dir

# One webserver for the module; under xdist `--dist loadgroup` keeps these tests on one worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dagster-ui")]

STOCK = dg.AssetKey(["autotrader", "stock"])
CANONICAL = dg.AssetKey(["canonical", "vehicles"])


def _instance(env: dict[str, str]) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(env["DAGSTER_HOME"])


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(screenshot_dir() / f"{name}.png"), full_page=True)


def test_the_asset_graph_shows_every_group(page: Any) -> None:
    from dealer_pipeline.definitions import defs

    groups = sorted({spec.group_name for spec in defs.resolve_all_asset_specs()})
    assert len(groups) >= 5
    page.goto("/asset-groups")
    page.get_by_text("Global asset lineage").wait_for()
    for group in groups:
        # each group is a row of the sidebar and a node of the graph
        page.get_by_text(group, exact=True).last.wait_for(state="visible")
        assert page.get_by_text(group, exact=True).count() >= 2, f"group {group} is not in the asset graph"
    _shot(page, "asset-graph")


def test_a_dealer_partition_of_autotrader_stock_is_materialized_from_the_ui(page: Any, ui_env: dict[str, str]) -> None:
    with _instance(ui_env) as instance:
        partition = sorted(instance.get_dynamic_partitions("autotrader_advertiser"))[-1]
    page.goto("/assets/autotrader/stock")
    page.get_by_role("button", name="Materialize…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Select a partition or create one").click()
    page.get_by_placeholder("Filter partitions").fill(partition)
    page.locator("label").filter(has_text=partition).last.click()
    page.keyboard.press("Escape")  # closes the partition list, not the dialog
    _shot(page, "materialize-partition-dialog")
    dialog.get_by_role("button", name="Launch 1 run").click()
    page.get_by_text(re.compile(r"Launched run [0-9a-f]{8}")).wait_for()
    page.get_by_role("link", name="View").or_(page.get_by_role("button", name="View")).first.click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}"))
    run_id = page.url.rsplit("/", 1)[-1].split("?")[0]
    page.get_by_text("Success", exact=True).first.wait_for(timeout=240_000)
    _shot(page, "run-succeeded")
    with _instance(ui_env) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags.get("dagster/partition") == partition
        assert STOCK in (run.asset_selection or set())


def _latest_stock_checks(env: dict[str, str]) -> tuple[str, dict[str, dict[str, Any]]]:
    """The partition and, per check, the metadata of the newest run that evaluated autotrader/stock's checks
    (the run launched from the UI when the test above ran first)."""
    with _instance(env) as instance:
        for run in instance.get_runs():  # newest first
            evaluations = {}
            for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
                data = record.dagster_event.event_specific_data
                if data.asset_key == STOCK:
                    evaluations[data.check_name] = dict(data.metadata)
            if evaluations:
                return run.tags["dagster/partition"], evaluations
    raise AssertionError("no run evaluated autotrader/stock's checks")


def test_its_checks_and_their_metadata_are_visible(page: Any, ui_env: dict[str, str]) -> None:
    partition, evaluations = _latest_stock_checks(ui_env)
    assert set(evaluations) == {"baseline_row_count", "dealer_freshness", "vehicle_rules"}
    page.goto("/assets/autotrader/stock?view=checks")
    for check, metadata in sorted(evaluations.items()):
        page.get_by_text(check, exact=True).first.click()
        page.get_by_text("Evaluation result").wait_for()
        page.get_by_text("Metadata", exact=True).first.wait_for(state="visible")
        assert page.get_by_text(partition, exact=True).count() >= 1, f"{check}: partition {partition} not shown"
        for key in metadata:
            page.get_by_text(key, exact=True).first.wait_for(state="visible")
        _shot(page, f"check-{check}")


def test_the_canonical_asset_plots_numeric_metadata_over_two_runs(page: Any, ui_env: dict[str, str]) -> None:
    with _instance(ui_env) as instance:
        events = instance.fetch_materializations(CANONICAL, limit=10).records
        assert len(events) >= 2, "two syncs materialize canonical/vehicles twice"
        metadata = events[0].asset_materialization.metadata
    numeric = sorted(key for key, value in metadata.items()
                     if isinstance(value, (dg.IntMetadataValue, dg.FloatMetadataValue)))
    assert "dagster/row_count" in numeric
    page.goto("/assets/canonical/vehicles")
    page.get_by_role("button", name="Plots").click()
    for key in numeric:
        page.get_by_text(key, exact=True).first.wait_for(state="visible")
    charts = page.locator("canvas")
    charts.first.wait_for(state="visible")
    assert charts.count() >= len(numeric)
    _shot(page, "canonical-metadata-plots")

"""Table-wide work under the daemon alone: `canonical/vehicles` (with its checks) and the catalogue.

Declarative automation rather than a schedule or a run-status sensor: the condition reads the asset
graph, so the table-wide run waits for every per-dealer stock run that is queued or running (whoever
launched it: the stock schedules, a backfill, `dealer-pipeline sync`) and follows them once, however
many dealer runs there were, with no cron time to guess. The checks of `canonical/vehicles` carry no
condition of their own, so they ride along in the same run; `catalogue/catalog_matches` depends on
`canonical/vehicles` and is requested on the same tick, so one run does the table, its checks and
the catalogue in order.

The condition is `eager` without its "no missing dependencies" clause: a dealer partition that was
never materialized (a dealer that failed its first baseline, a new dealer not yet synced) must not
hold the whole table back.
"""

import dagster as dg

#: Run when a dependency was updated since this asset last ran (or was requested), once no
#: dependency is still queued or running and this asset is not running.
AFTER_DEALER_RUNS = (
    dg.AutomationCondition.eager()
    .without(~dg.AutomationCondition.any_deps_missing())
    .with_label("after the dealer runs")
)

#: How often the daemon evaluates the condition (the delay after the last stock run ends).
AUTOMATION_INTERVAL_SECONDS = 30


def table_automation_sensor(*targets: dg.AssetKey) -> dg.AutomationConditionSensorDefinition:
    """The sensor that evaluates `AFTER_DEALER_RUNS` on `targets`, running from the first daemon start
    (Dagster's default automation sensor starts stopped)."""
    return dg.AutomationConditionSensorDefinition(
        "table_automation_sensor", target=dg.AssetSelection.assets(*targets),
        default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=AUTOMATION_INTERVAL_SECONDS,
        run_tags={"domain": "canonical"},
        description="Materializes canonical/vehicles with its checks, and the catalogue, after dealer stock runs.",
    )

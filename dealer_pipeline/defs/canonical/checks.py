"""Asset checks over the canonical vehicles: the table-wide set, and a factory for per-dealer ones.

Blocking rules report with severity ERROR but are not Dagster-`blocking`: a failure must hold back
only the failing vehicles (publishing asks `publishable_vehicle_ids`), never stop a whole dealer's
or the whole table's downstream run.

The quality modules (pandas, and Great Expectations inside the suite) are imported when a check
runs, not when the code location loads.
"""

from typing import Callable, Dict, Optional, Sequence

import dagster as dg

from dealer_pipeline.defs.canonical.metadata import (
    dealer_check_metadata,
    dealer_share_table,
    expectation_metadata,
    rule_report_metadata,
    where_to_look,
)
from dealer_pipeline.defs.keys import VEHICLES
from dealer_pipeline.defs.partitions import partition_keys_of
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.settings import get_settings
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.types import utcnow

ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN


def run_vehicle_rules(store: StoreResource, dealer_id: str | None = None) -> dg.AssetCheckResult:
    """Every blocking rule over the table (or one dealer); replaces that scope's blocking findings."""
    from dealer_pipeline.quality import findings, rules
    from dealer_pipeline.quality.frame import load_vehicles

    engine = store.engine()
    with engine.connect() as conn:
        frame = load_vehicles(conn, dealer_id=dealer_id)
    report = rules.evaluate_blocking_rules(frame)
    with transaction(engine) as conn:
        findings.replace_findings(conn, report.findings, check_names=report.rules, dealer_id=dealer_id)
    return dg.AssetCheckResult(passed=report.passed, severity=ERROR,
                               metadata=rule_report_metadata(report, dealer_id))


def run_vehicle_rules_each(store: StoreResource, dealer_ids: Sequence[str]) -> dict[str, dg.AssetCheckResult]:
    """`run_vehicle_rules` for several dealers at once: one load, one evaluation, each dealer's findings
    replaced and reported as its own."""
    from dealer_pipeline.quality import findings, rules
    from dealer_pipeline.quality.frame import load_vehicles

    engine = store.engine()
    with engine.connect() as conn:
        frame = load_vehicles(conn, dealer_ids=dealer_ids)
    reports = rules.split_by_dealer(rules.evaluate_blocking_rules(frame), frame, dealer_ids)
    with transaction(engine) as conn:
        for dealer, report in reports.items():
            findings.replace_findings(conn, report.findings, check_names=report.rules, dealer_id=dealer)
    return {dealer: dg.AssetCheckResult(passed=report.passed, severity=ERROR,
                                        metadata=rule_report_metadata(report, dealer))
            for dealer, report in reports.items()}


def run_baseline_row_count(store: StoreResource, dealer_id: str | None = None) -> dg.AssetCheckResult:
    from dealer_pipeline.quality import dealer_health

    with store.engine().connect() as conn:
        result = dealer_health.baseline_row_count(conn, dealer_id=dealer_id)
    return dg.AssetCheckResult(passed=result.passed, severity=WARN, metadata=dealer_check_metadata(result))


def run_dealer_freshness(store: StoreResource, dealer_id: str | None = None) -> dg.AssetCheckResult:
    from dealer_pipeline.quality import dealer_health

    max_age = get_settings().freshness_hours
    with store.engine().connect() as conn:
        result = dealer_health.dealer_freshness(conn, now=utcnow(), max_age_hours=max_age, dealer_id=dealer_id)
    metadata = dealer_check_metadata(result)
    metadata["max_age_hours"] = dg.MetadataValue.float(max_age)
    return dg.AssetCheckResult(passed=result.passed, severity=WARN, metadata=metadata)


@dg.asset_check(asset=VEHICLES, description="vehicle_id is unique and equals <source>:<source_vehicle_id>")
def unique_vehicle_id(store: StoreResource) -> dg.AssetCheckResult:
    from dealer_pipeline.quality import rules
    from dealer_pipeline.quality.frame import load_vehicles

    with store.engine().connect() as conn:
        frame = load_vehicles(conn, columns=rules.IDENTITY_COLUMNS)
    unique_rule = tuple(r for r in rules.BLOCKING_RULES if r.name == "unique_vehicle_id")
    report = rules.evaluate_blocking_rules(frame, rules=unique_rule)
    return dg.AssetCheckResult(passed=report.passed, severity=ERROR,
                               metadata=rule_report_metadata(report))


@dg.asset_check(asset=VEHICLES, description="All blocking rules; failing vehicles are held back from publishing "
                "and listed with the reason in v_data_quality")
def vehicle_rules(store: StoreResource) -> dg.AssetCheckResult:
    return run_vehicle_rules(store)


@dg.asset_check(asset=VEHICLES, description="Great Expectations suite over the whole canonical table")
def great_expectations_suite(store: StoreResource) -> dg.AssetCheckResult:
    from dealer_pipeline.quality.expectations import SUITE_COLUMNS, validate_vehicles
    from dealer_pipeline.quality.frame import load_vehicles

    with store.engine().connect() as conn:
        frame = load_vehicles(conn, columns=SUITE_COLUMNS)
    outcomes = validate_vehicles(frame)
    return dg.AssetCheckResult(passed=all(o.success for o in outcomes), severity=ERROR,
                               metadata=expectation_metadata(outcomes))


@dg.asset_check(asset=VEHICLES, description="A dealer's last complete baseline lists >20% fewer vehicles than the "
                "previous one")
def baseline_row_count(store: StoreResource) -> dg.AssetCheckResult:
    return run_baseline_row_count(store)


@dg.asset_check(asset=VEHICLES, description="A dealer's last complete baseline is older than "
                "DEALER_PIPELINE_FRESHNESS_HOURS")
def dealer_freshness(store: StoreResource) -> dg.AssetCheckResult:
    return run_dealer_freshness(store)


@dg.asset_check(asset=VEHICLES, description="Share of listed vehicles whose fuel_type or transmission fell back to "
                "`other`")
def other_vocabulary_share(store: StoreResource) -> dg.AssetCheckResult:
    from dealer_pipeline.quality import dealer_health, findings
    from dealer_pipeline.quality.frame import load_vehicles

    engine = store.engine()
    with engine.connect() as conn:
        frame = load_vehicles(conn, columns=dealer_health.OTHER_SHARE_COLUMNS)
    result = dealer_health.other_vocabulary_share(frame)
    with transaction(engine) as conn:
        findings.replace_findings(conn, result.findings(), check_names=[dealer_health.OTHER_VOCABULARY])
    metadata = {
        "listed_vehicles": dg.MetadataValue.int(result.listed),
        "threshold": dg.MetadataValue.float(result.threshold),
        **{f"{column}_other_share": dg.MetadataValue.float(round(share, 4))
           for column, share in result.shares.items()},
        "unmapped_vendor_values": dg.MetadataValue.json(
            {column: result.vendor_values(column) for column in dealer_health.VOCABULARY_COLUMNS}),
        "dealers_by_share": dealer_share_table(result.dealer_shares),
        **where_to_look([dealer_health.OTHER_VOCABULARY]),
    }
    return dg.AssetCheckResult(passed=result.passed, severity=WARN, metadata=metadata)


CANONICAL_CHECKS = [
    unique_vehicle_id, vehicle_rules, great_expectations_suite, baseline_row_count, dealer_freshness,
    other_vocabulary_share,
]


def build_dealer_vehicle_checks(
    asset_key: dg.AssetKey | str | Sequence[str],
    partitions_def: dg.PartitionsDefinition,
    source: str,
    *,
    include_warnings: bool = True,
) -> list[dg.AssetChecksDefinition]:
    """Per-dealer checks for a source's stock asset partitioned by dealer (partition key = source dealer id).

    `vehicle_rules` runs every blocking rule over that dealer's vehicles (dealer_id
    `f"{source}:{partition_key}"`) and replaces the dealer's blocking findings; with
    `include_warnings`, `baseline_row_count` and `dealer_freshness` warn for that dealer.
    """
    key = dg.AssetKey.from_coercible(asset_key)

    def each_dealer(context: dg.AssetCheckExecutionContext, name: str,
                    evaluate: Callable[[str], dg.AssetCheckResult],
                    evaluate_many: Optional[Callable[[Sequence[str]], Dict[str, dg.AssetCheckResult]]] = None,
                    ) -> dg.AssetCheckResult:
        return evaluate_each_dealer(context, key, name, [f"{source}:{k}" for k in _partition_keys(context)],
                                    evaluate, evaluate_many)

    @dg.asset_check(asset=key, name="vehicle_rules", partitions_def=partitions_def,
                    description=f"Blocking rules over one {source} dealer's vehicles; failing vehicles are held "
                    "back from publishing and listed in v_data_quality")
    def _vehicle_rules(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
        return each_dealer(context, "vehicle_rules", lambda dealer: run_vehicle_rules(store, dealer),
                           lambda dealers: run_vehicle_rules_each(store, dealers))

    checks = [_vehicle_rules]
    if include_warnings:
        @dg.asset_check(asset=key, name="baseline_row_count", partitions_def=partitions_def,
                        description="This dealer's last complete baseline lists >20% fewer vehicles than the one "
                        "before")
        def _baseline_row_count(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
            return each_dealer(context, "baseline_row_count", lambda dealer: run_baseline_row_count(store, dealer))

        @dg.asset_check(asset=key, name="dealer_freshness", partitions_def=partitions_def,
                        description="This dealer's last complete baseline is older than "
                        "DEALER_PIPELINE_FRESHNESS_HOURS")
        def _dealer_freshness(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
            return each_dealer(context, "dealer_freshness", lambda dealer: run_dealer_freshness(store, dealer))

        checks += [_baseline_row_count, _dealer_freshness]
    return checks


def _partition_keys(context: dg.AssetCheckExecutionContext) -> Sequence[str]:
    return partition_keys_of(context.op_execution_context)


def evaluate_each_dealer(context: dg.AssetCheckExecutionContext, asset_key: dg.AssetKey, name: str,
                         dealers: Sequence[str], evaluate: Callable[[str], dg.AssetCheckResult],
                         evaluate_many: Optional[Callable[[Sequence[str]], Dict[str, dg.AssetCheckResult]]] = None,
                         ) -> dg.AssetCheckResult:
    """One dealer's check result; for a run over a range of dealers, each dealer's result (from
    `evaluate_many` when the check can judge them together) is recorded against its own partition and
    the step returns the tally."""
    if len(dealers) == 1:
        return evaluate(dealers[0])
    together = evaluate_many(dealers) if evaluate_many is not None else None
    failed = []
    for dealer, partition in zip(dealers, _partition_keys(context)):
        result = together[dealer] if together is not None else evaluate(dealer)
        context.op_execution_context.log_event(dg.AssetCheckEvaluation(
            asset_key=asset_key, check_name=name, passed=result.passed, metadata=result.metadata,
            severity=result.severity, partition=partition))
        if not result.passed:
            failed.append(dealer)
    severity = result.severity if dealers else WARN
    return dg.AssetCheckResult(passed=not failed, severity=severity, metadata={
        "dealers": len(dealers), "dealers_failed": len(failed),
        "failed_dealers": dg.MetadataValue.json(failed[:200])})

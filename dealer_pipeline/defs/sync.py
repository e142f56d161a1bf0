"""`dealer-pipeline sync`: the whole asset graph for some dealers, as runs of the instance.

For each source: refresh its dealer list (which maintains the source's dynamic partitions),
then one run per dealer partition of the source's stock job; then one run of
`canonical/vehicles` with its checks; then publishing: the `published_dealer` partitions
from the dealers file, the catalogue versions of new specs, and one `publish_dealer_job`
run per dealer. Runs execute in this process against the instance in `DAGSTER_HOME`, so
they show in the Dagster UI like any other run; a failed dealer does not stop the others.
"""

from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence

import dagster as dg

from dealer_pipeline.definitions import defs as default_defs

CANONICAL_VEHICLES = dg.AssetKey(["canonical", "vehicles"])
PUBLISHED_DEALERS_JOB, CATALOGUE_JOB, PUBLISH_DEALER_JOB = "published_dealers_job", "catalogue_job", "publish_dealer_job"
PUBLISHED_DEALER = "published_dealer"


@dataclass(frozen=True)
class SourceJobs:
    """How one source is synced: the job that refreshes its dealers, the per-dealer job."""

    source: str
    refresh_job: str
    dealer_job: str
    partitions: str


SOURCES: tuple[SourceJobs, ...] = (
    SourceJobs("autotrader", "autotrader_advertisers_job", "autotrader_stock_job", "autotrader_advertiser"),
    SourceJobs("webmotors", "webmotors_dealers_job", "webmotors_stock_job", "webmotors_dealer"),
)


@dataclass
class RunOutcome:
    label: str
    run_id: str
    success: bool
    error: Optional[str] = None


@dataclass
class SyncReport:
    runs: list[RunOutcome] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    unknown_dealers: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[RunOutcome]:
        return [run for run in self.runs if not run.success]


def _first_failure(result: dg.ExecuteInProcessResult) -> Optional[str]:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            return event.step_failure_data.error.message.strip().splitlines()[0]
    return None if result.success else "run failed"


def _has_job(defs: dg.Definitions, name: str) -> bool:
    return any(job.name == name for job in defs.jobs or [])


def _execute(defs: dg.Definitions, job_name: str, instance: dg.DagsterInstance, label: str,
             **kwargs: object) -> RunOutcome:
    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(instance=instance, raise_on_error=False, **kwargs)
    return RunOutcome(label, result.run_id, result.success, _first_failure(result))


def _wanted_keys(spec: SourceJobs, keys: Sequence[str], dealers: Optional[set[str]]) -> list[str]:
    if dealers is None:
        return list(keys)
    return [key for key in keys if f"{spec.source}:{key}" in dealers]


def sync(
    instance: dg.DagsterInstance,
    *,
    sources: Iterable[str] = ("autotrader", "webmotors"),
    dealers: Optional[Iterable[str]] = None,
    defs: dg.Definitions = default_defs,
    publish: bool = True,
    on_run: Callable[[RunOutcome], None] = lambda outcome: None,
) -> SyncReport:
    """Refresh each source's dealers, run each wanted dealer's stock job, the canonical asset, then
    (unless `publish` is false) publish the wanted dealers."""
    wanted = set(dealers) if dealers is not None else None
    report = SyncReport()
    matched: set[str] = set()

    def record(outcome: RunOutcome) -> None:
        report.runs.append(outcome)
        on_run(outcome)

    for spec in (s for s in SOURCES if s.source in set(sources)):
        if not (_has_job(defs, spec.refresh_job) and _has_job(defs, spec.dealer_job)):
            report.unavailable.append(spec.source)
            continue
        record(_execute(defs, spec.refresh_job, instance, f"{spec.source} dealers"))
        keys = _wanted_keys(spec, instance.get_dynamic_partitions(spec.partitions), wanted)
        for key in keys:
            dealer_id = f"{spec.source}:{key}"
            matched.add(dealer_id)
            record(_execute(defs, spec.dealer_job, instance, dealer_id, partition_key=key,
                            tags={"dealer_pipeline/dealer": dealer_id}))
    if wanted is not None:
        report.unknown_dealers = sorted(wanted - matched)
    canonical = defs.resolve_implicit_global_asset_job_def()
    result = canonical.execute_in_process(instance=instance, asset_selection=[CANONICAL_VEHICLES],
                                          raise_on_error=False)
    record(RunOutcome("canonical vehicles + checks", result.run_id, result.success, _first_failure(result)))
    if publish:
        publish_dealers(instance, sources=sources, dealers=wanted, defs=defs, on_run=on_run, report=report)
    return report


def publish_dealers(
    instance: dg.DagsterInstance,
    *,
    sources: Iterable[str] = ("autotrader", "webmotors"),
    dealers: Optional[Iterable[str]] = None,
    defs: dg.Definitions = default_defs,
    on_run: Callable[[RunOutcome], None] = lambda outcome: None,
    report: Optional[SyncReport] = None,
) -> SyncReport:
    """Publishing partitions, catalogue versions, then one publishing run per wanted dealer."""
    report = report if report is not None else SyncReport()
    wanted = set(dealers) if dealers is not None else None
    wanted_sources = set(sources)

    def record(outcome: RunOutcome) -> None:
        report.runs.append(outcome)
        on_run(outcome)

    if not all(_has_job(defs, name) for name in (PUBLISHED_DEALERS_JOB, CATALOGUE_JOB, PUBLISH_DEALER_JOB)):
        report.unavailable.append("publishing")
        return report
    record(_execute(defs, PUBLISHED_DEALERS_JOB, instance, "published dealers"))
    record(_execute(defs, CATALOGUE_JOB, instance, "catalogue versions"))
    for dealer_id in instance.get_dynamic_partitions(PUBLISHED_DEALER):
        if dealer_id.split(":", 1)[0] in wanted_sources and (wanted is None or dealer_id in wanted):
            record(_execute(defs, PUBLISH_DEALER_JOB, instance, f"publish {dealer_id}", partition_key=dealer_id,
                            tags={"dealer_pipeline/dealer": dealer_id}))
    return report

"""`dealer-pipeline sync`: the whole asset graph for some dealers, as runs of the instance.

For each source: refresh its dealer list (which maintains the source's dynamic partitions; with
`--dealer`, only those dealers are checked, `?advertiserId=` for Autotrader), then the source's
stock job over the wanted dealer partitions in ranges of `DEALERS_PER_RUN` (the runs a
multi-run backfill would launch: Dagster's partition-range tags), each run fanning its dealers
out over threads under the vendor clients' caps; then one run of `canonical/vehicles` with its
checks; then publishing: the `published_dealer` partitions from the dealers file, the catalogue
versions of new specs, and `publish_dealer_job` over the wanted dealers, in ranges too. Runs
execute in this process against the instance in `DAGSTER_HOME`, so they show in the Dagster UI; a
failed dealer does not stop the others, and each failed dealer is reported with the vendor's
message. Dagster's DEBUG event log stays in the instance unless `verbose`.
"""

import ctypes
import gc
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence

import dagster as dg

from dealer_pipeline import progress
from dealer_pipeline.definitions import defs as default_defs
from dealer_pipeline.defs.common import DEALERS_PER_RUN, range_run_tags, wanted_ranges
from dealer_pipeline.defs.keys import VEHICLES
from dealer_pipeline.defs.sources.autotrader import switched_off_assets

PUBLISHED_DEALERS_JOB, CATALOGUE_JOB, PUBLISH_DEALER_JOB = "published_dealers_job", "catalogue_job", "publish_dealer_job"
PUBLISHED_DEALER = "published_dealer"
#: Steps of `publish_dealer_job` per dealer (Autocosmos, Autochat, the status and the leads to Webmotors).
PUBLISHING_STEPS = 4


@dataclass(frozen=True)
class SourceJobs:
    """How one source is synced: the job that refreshes its dealers, the per-dealer job, and the run
    config that makes the refresh check only some dealers (None: it always reads them all)."""

    source: str
    refresh_job: str
    dealer_job: str
    partitions: str
    refresh_only: Optional[Callable[[List[str]], Mapping[str, Any]]] = None
    #: assets of `dealer_job` the settings switch off: left out of the runs (a step with nothing to do
    #: still costs Dagster a step and a materialization event per dealer)
    switched_off: Callable[[], Sequence[dg.AssetKey]] = lambda: ()


def _advertisers_only(ids: List[str]) -> Mapping[str, Any]:
    return {"ops": {"autotrader__advertisers": {"config": {"advertiser_ids": ids}}}}


SOURCES: tuple[SourceJobs, ...] = (
    SourceJobs("autotrader", "autotrader_advertisers_job", "autotrader_stock_job", "autotrader_advertiser",
               _advertisers_only, switched_off_assets),
    SourceJobs("webmotors", "webmotors_dealers_job", "webmotors_stock_job", "webmotors_dealer"),
)


@dataclass
class RunOutcome:
    label: str
    run_id: str
    success: bool
    error: Optional[str] = None
    dealers: List[str] = field(default_factory=list)
    #: dealer -> what stopped it (the vendor's message and the action), for runs over several dealers
    failed_dealers: Dict[str, str] = field(default_factory=dict)


@dataclass
class SyncReport:
    runs: list[RunOutcome] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    unknown_dealers: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[RunOutcome]:
        return [run for run in self.runs if not run.success]


def _failures(result: dg.ExecuteInProcessResult) -> tuple[Optional[str], Dict[str, str]]:
    """The first step failure's first line, and the dealers that failed in a run over several (named
    by a failed step, or by a step that went on for the others: its `failed_dealers` metadata)."""
    message: Optional[str] = None
    dealers: Dict[str, str] = {}
    for event in result.all_events:
        named = None
        if event.is_step_failure and event.step_failure_data:
            data = event.step_failure_data
            if message is None:
                message = data.error.message.strip().splitlines()[0] if data.error else "step failed"
            named = data.user_failure_data.metadata.get("failed_dealers") if data.user_failure_data else None
        elif event.is_step_materialization:
            named = event.step_materialization_data.materialization.metadata.get("failed_dealers")
        if named is not None:
            for dealer, why in dict(named.value).items():  # type: ignore[call-overload]
                dealers.setdefault(dealer, str(why))
    if message is None and dealers:
        message = f"{len(dealers)} dealers failed"
    return (message if message or result.success else "run failed"), dealers


def _has_job(defs: dg.Definitions, name: str) -> bool:
    return any(job.name == name for job in defs.jobs or [])


def _run_config(verbose: bool, extra: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    config: Dict[str, Any] = dict(extra or {})
    if not verbose:
        config["loggers"] = {"console": {"config": {"log_level": "WARNING"}}}
    return config


def _execute(defs: dg.Definitions, job_name: str, instance: dg.DagsterInstance, label: str, *,
             verbose: bool = False, run_config: Optional[Mapping[str, Any]] = None,
             dealers: Sequence[str] = (), **kwargs: Any) -> RunOutcome:
    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(instance=instance, raise_on_error=False,
                                    run_config=_run_config(verbose, run_config), **kwargs)
    error, failed = _failures(result)
    return RunOutcome(label, result.run_id, result.success and not failed, error, list(dealers), failed)


def release_memory() -> None:
    """Hand the heap a run freed back to the system, so memory follows one range of dealers, not the
    number of dealers synced, and the table-wide checks (Great Expectations) do not add to it."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the memory is reused by this process instead
        pass


def _dealer_assets(defs: dg.Definitions, spec: SourceJobs, off: Sequence[dg.AssetKey]) -> list[dg.AssetKey]:
    """The assets a stock run materializes per dealer: the job's, less those switched off."""
    keys, left_out = defs.resolve_job_def(spec.dealer_job).asset_layer.executable_asset_keys, set(off)
    return sorted((key for key in keys if key not in left_out), key=lambda key: key.to_user_string())


def _wanted_keys(spec: SourceJobs, keys: Sequence[str], dealers: Optional[set[str]]) -> list[str]:
    if dealers is None:
        return list(keys)
    return [key for key in keys if f"{spec.source}:{key}" in dealers]


def _range_options(chunk: Sequence[str]) -> Dict[str, Any]:
    return {"partition_key": chunk[0]} if len(chunk) == 1 else {}


def _range_label(source: str, chunk: Sequence[str]) -> str:
    if len(chunk) == 1:
        return f"{source}:{chunk[0]}"
    return f"{source}: {len(chunk)} dealers {chunk[0]}..{chunk[-1]}"


def _publish_label(chunk: Sequence[str]) -> str:
    return f"publish {chunk[0]}" if len(chunk) == 1 else f"publish {len(chunk)} dealers {chunk[0]}..{chunk[-1]}"


def sync(
    instance: dg.DagsterInstance,
    *,
    sources: Iterable[str] = ("autotrader", "webmotors"),
    dealers: Optional[Iterable[str]] = None,
    defs: dg.Definitions = default_defs,
    publish: bool = True,
    on_run: Callable[[RunOutcome], None] = lambda outcome: None,
    verbose: bool = False,
    dealers_per_run: int = DEALERS_PER_RUN,
) -> SyncReport:
    """Refresh each source's dealers, run the wanted dealers' stock job in ranges, the canonical asset,
    then (unless `publish` is false) publish the wanted dealers."""
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
        only = sorted(d.split(":", 1)[1] for d in wanted or () if d.startswith(f"{spec.source}:"))
        refresh_config = spec.refresh_only(only) if wanted is not None and spec.refresh_only else None
        if wanted is not None and not only:
            continue
        record(_execute(defs, spec.refresh_job, instance, f"{spec.source} dealers", verbose=verbose,
                        run_config=refresh_config))
        partitions = instance.get_dynamic_partitions(spec.partitions)
        keys = _wanted_keys(spec, partitions, wanted)
        matched.update(f"{spec.source}:{key}" for key in keys)
        off = spec.switched_off()
        assets = _dealer_assets(defs, spec, off)
        progress.board.expect(len(keys) * max(1, len(assets)))
        for chunk in wanted_ranges(partitions, keys, dealers_per_run):
            tags = range_run_tags(chunk, lambda key: f"{spec.source}:{key}")
            options = _range_options(chunk)
            if off:
                options["asset_selection"] = assets
            record(_execute(defs, spec.dealer_job, instance, _range_label(spec.source, chunk), verbose=verbose,
                            dealers=[f"{spec.source}:{key}" for key in chunk], tags=tags, **options))
            release_memory()
    if wanted is not None:
        report.unknown_dealers = sorted(wanted - matched)
    release_memory()
    canonical = defs.resolve_implicit_global_asset_job_def()
    result = canonical.execute_in_process(instance=instance, asset_selection=[VEHICLES],
                                          raise_on_error=False, run_config=_run_config(verbose))
    error, _ = _failures(result)
    record(RunOutcome("canonical vehicles + checks", result.run_id, result.success, error))
    if publish:
        publish_dealers(instance, sources=sources, dealers=wanted, defs=defs, on_run=on_run, report=report,
                        verbose=verbose, dealers_per_run=dealers_per_run)
    return report


def publish_dealers(
    instance: dg.DagsterInstance,
    *,
    sources: Iterable[str] = ("autotrader", "webmotors"),
    dealers: Optional[Iterable[str]] = None,
    defs: dg.Definitions = default_defs,
    on_run: Callable[[RunOutcome], None] = lambda outcome: None,
    report: Optional[SyncReport] = None,
    verbose: bool = False,
    dealers_per_run: int = DEALERS_PER_RUN,
) -> SyncReport:
    """Publishing partitions, catalogue versions, then the wanted dealers' publishing in ranges."""
    report = report if report is not None else SyncReport()
    wanted = set(dealers) if dealers is not None else None
    wanted_sources = set(sources)

    def record(outcome: RunOutcome) -> None:
        report.runs.append(outcome)
        on_run(outcome)

    if not all(_has_job(defs, name) for name in (PUBLISHED_DEALERS_JOB, CATALOGUE_JOB, PUBLISH_DEALER_JOB)):
        report.unavailable.append("publishing")
        return report
    record(_execute(defs, PUBLISHED_DEALERS_JOB, instance, "published dealers", verbose=verbose))
    record(_execute(defs, CATALOGUE_JOB, instance, "catalogue versions", verbose=verbose))
    release_memory()
    partitions = instance.get_dynamic_partitions(PUBLISHED_DEALER)
    chosen = [d for d in partitions if d.split(":", 1)[0] in wanted_sources and (wanted is None or d in wanted)]
    progress.board.expect(len(chosen) * PUBLISHING_STEPS)
    for chunk in wanted_ranges(partitions, chosen, dealers_per_run):
        record(_execute(defs, PUBLISH_DEALER_JOB, instance, _publish_label(chunk), verbose=verbose,
                        tags=range_run_tags(chunk), dealers=list(chunk), **_range_options(chunk)))
        release_memory()
    return report

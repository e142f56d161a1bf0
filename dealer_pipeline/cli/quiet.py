"""A terminal that shows what a command did, not every Dagster event (`--verbose` shows them).

Runs executed in this process without `loggers` run config log to Dagster's default console
logger at the instance's `python_logs.python_log_level`, DEBUG when unset: every step event on the
terminal. The instance returned here sets that level to INFO. Dagster events are stored in the
event log whatever the level, so the runs, their steps and metadata still show in the UI; what the
terminal loses is the event stream (and `context.log.debug` lines, which are then not kept).
"""

from __future__ import annotations

import warnings

import dagster as dg
from dagster._core.instance.ref import InstanceRef  # `DagsterInstance.get()` does the same, without overrides

from dealer_pipeline.paths import dagster_home


def quiet_warnings(verbose: bool) -> None:
    """Dagster's beta/preview notices (partitioned checks, sensor owners) are for developers."""
    if not verbose:
        warnings.filterwarnings("ignore", category=dg.BetaWarning)
        warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def instance(verbose: bool) -> dg.DagsterInstance:
    """The instance in `DAGSTER_HOME`; unless `verbose`, its in-process runs print INFO and above."""
    if verbose:
        return dg.DagsterInstance.get()
    overrides = {"python_logs": {"python_log_level": "INFO"}}
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home()), overrides=overrides))

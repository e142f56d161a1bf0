"""What the vendor harnesses share: reading a Dagster run's results, and pointing the process at a sandbox.

Every harness (Autotrader, Webmotors, the publishing channels, Autocosmos) runs the real assets on an
ephemeral instance against its own sandbox, with the sandbox's URLs and credentials in the
environment and short wait budgets so a scripted 429 costs a second, not thirty.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator

import dagster as dg
import pytest
import sqlalchemy as sa

from dealer_pipeline.sandbox.runner import SandboxHandle
from dealer_pipeline.settings import get_settings


def materializations(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> list[dict[str, Any]]:
    """Metadata (plain values) of each materialization of `key` in a run."""
    out = []
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization  # type: ignore[union-attr]
        if materialization.asset_key == key:
            out.append({k: v.value for k, v in materialization.metadata.items()})
    return out


def metadata_of(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict[str, Any]:
    """Plain metadata values of the one materialization of `key` in a run."""
    found = materializations(result, key)
    if len(found) != 1:
        raise AssertionError(f"{key.to_user_string()} was materialized {len(found)} times, expected once")
    return found[0]


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The error message of the run's first failed step ('' when none failed)."""
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            return error.message if error else ""
    return ""


@contextmanager
def sandbox_run_environment(sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch, *,
                            max_wait_seconds: int = 30) -> Iterator[dg.DagsterInstance]:
    """The sandbox's settings in the environment (a 1 s default 429 pause), no faults, and an
    ephemeral Dagster instance; faults and cached settings are cleared again afterwards."""
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DEALER_PIPELINE_HTTP_MAX_WAIT_SECONDS", str(max_wait_seconds))
    monkeypatch.setenv("DEALER_PIPELINE_DEFAULT_429_PAUSE_SECONDS", "1")
    get_settings.cache_clear()
    sandbox.clear_faults()
    try:
        with dg.DagsterInstance.ephemeral() as instance:
            yield instance
    finally:
        sandbox.clear_faults()
        get_settings.cache_clear()


@dataclass
class SandboxHarness:
    """A vendor test's world: its sandbox, the store, a Dagster instance, and which vendor calls count
    (those the sandbox logged after sequence number `since`)."""

    vendor: ClassVar[str]
    sandbox: SandboxHandle
    engine: sa.Engine
    instance: dg.DagsterInstance
    since: int

    def calls(self, path: str | None = None) -> list[dict[str, Any]]:
        """What the vendor saw since `mark()` (or the start of the test), optionally under one path."""
        records = self.sandbox.calls(vendor=self.vendor, since=self.since)
        return [c for c in records if path is None or c["path"].startswith(path)]

    def mark(self) -> None:
        """Judge only calls from now on."""
        self.since = self.sandbox.last_seq()

"""The Autotrader tests' harness: a sandbox of their own, a fresh store, a real Dagster instance.

Every test runs the real assets (`dg.materialize` on an ephemeral instance) or the real
client against the sandbox subprocess, and judges from the sandbox's call log (only the
calls made since the test started) and from the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from dealer_pipeline.defs.common import range_run_tags
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.defs.sources import autotrader as at
from dealer_pipeline.sandbox.runner import SandboxHandle, start_sandbox
from dealer_pipeline.vendors.autotrader import AutotraderClient
from tests.support.runs import SandboxHarness, sandbox_run_environment

#: 4 advertisers (the 4th, index 3, is not on the integration), 25 vehicles each.
SEED, DEALERS, VEHICLES = 11, 4, 25


@pytest.fixture(scope="module")
def at_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    with start_sandbox(seed=SEED, dealers=DEALERS, vehicles=VEHICLES,
                       workdir=tmp_path_factory.mktemp("at-sandbox")) as handle:
        yield handle


@dataclass
class Harness(SandboxHarness):
    vendor = "autotrader"
    overrides: dict[str, Any] = field(default_factory=dict)

    # ---- running the real assets ----
    def resources(self, **overrides: Any) -> dict[str, Any]:
        return {"autotrader": at.AutotraderResource(**{**self.overrides, **overrides}), "store": StoreResource()}

    def advertisers(self, **overrides: Any) -> dg.ExecuteInProcessResult:
        return dg.materialize([at.advertisers], instance=self.instance, resources=self.resources(**overrides),
                              raise_on_error=False)

    def advertisers_only(self, advertiser_ids: Sequence[str], **overrides: Any) -> dg.ExecuteInProcessResult:
        """The advertisers asset checking only these ids (`?advertiserId=`, AT-ADV-3)."""
        config = {"ops": {"autotrader__advertisers": {"config": {"advertiser_ids": list(advertiser_ids)}}}}
        return dg.materialize([at.advertisers], instance=self.instance, resources=self.resources(**overrides),
                              run_config=config, raise_on_error=False)

    def sync(self, advertiser_id: str, assets: Sequence[dg.AssetsDefinition] = tuple(at.STOCK_ASSETS),
             **overrides: Any) -> dg.ExecuteInProcessResult:
        keys = set(self.instance.get_dynamic_partitions(at.ADVERTISER_PARTITIONS.name))
        if advertiser_id not in keys:
            self.instance.add_dynamic_partitions(at.ADVERTISER_PARTITIONS.name, [advertiser_id])
        return dg.materialize(list(assets), instance=self.instance, resources=self.resources(**overrides),
                              partition_key=advertiser_id, raise_on_error=False)

    def sync_range(self, advertiser_ids: Sequence[str],
                   assets: Sequence[dg.AssetsDefinition] = tuple(at.STOCK_ASSETS),
                   **overrides: Any) -> dg.ExecuteInProcessResult:
        """One run over several advertiser partitions, as a ranged backfill run or `sync` makes it."""
        keys = list(self.instance.get_dynamic_partitions(at.ADVERTISER_PARTITIONS.name))
        self.instance.add_dynamic_partitions(at.ADVERTISER_PARTITIONS.name,
                                             [a for a in advertiser_ids if a not in keys])
        ordered = [k for k in self.instance.get_dynamic_partitions(at.ADVERTISER_PARTITIONS.name)
                   if k in set(advertiser_ids)]
        assert ordered == list(advertiser_ids), "a range is consecutive partitions in the instance's order"
        return dg.materialize(list(assets), instance=self.instance, resources=self.resources(**overrides),
                              tags=range_run_tags(list(advertiser_ids)), raise_on_error=False)

    def client(self, **policy: Any) -> AutotraderClient:
        return AutotraderClient.from_settings(engine=self.engine, policy_overrides=policy)

    # ---- the sandbox's own view ----
    def advertiser_ids(self, *, on_integration: bool = True, stock_sync: bool | None = None,
                       status: str | None = "Active") -> list[str]:
        out = []
        for a in self.sandbox.world(refresh=True)["autotrader"]:
            if a["on_integration"] != on_integration:
                continue
            if stock_sync is not None and a["stock_sync"] != stock_sync:
                continue
            if status is not None and a["status"] != status:
                continue
            out.append(a["advertiser_id"])
        return out

    def record(self, stock_id: str) -> dict[str, Any]:
        return self.sandbox.control("GET", f"/autotrader/stock/{stock_id}")

    def set_access(self, advertiser_id: str, **flags: bool) -> None:
        self.sandbox.control("POST", f"/autotrader/advertisers/{advertiser_id}/access", flags)


@pytest.fixture
def harness(store: sa.Engine, at_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    with sandbox_run_environment(at_sandbox, monkeypatch, max_wait_seconds=30) as instance:
        yield Harness(at_sandbox, store, instance, at_sandbox.last_seq())

"""Harness of the Autochat, Webmotors status and leads tests: a sandbox per test module, a fresh
store per test (SQLite and PostgreSQL), a real Dagster instance, and vehicles put in the store by
the real source assets (`webmotors/stock`, `autotrader/stock`).

Every test judges from the sandbox's call log (only calls since `mark()`), its read routes
(`/_sandbox/autochat/cars`, `/_sandbox/webmotors/status-reports`, `/crm-leads`) and the store.
Before each test the sandbox's Autochat is reset (no cars, default options and switches, no
faults), so tests and backends do not see each other's cars; Webmotors stock changes a test
makes stay, so tests pick their vehicles from what they find.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import dagster as dg
import pytest
import requests
import sqlalchemy as sa

from dealer_pipeline.dealers_file import DealerEntry, load_dealers
from dealer_pipeline.defs.publishing import autochat as ach_defs
from dealer_pipeline.defs.publishing.partitions import PUBLISHED_DEALER
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.defs.sources import autotrader as at_defs
from dealer_pipeline.defs.sources import webmotors as wm_defs
from dealer_pipeline.sandbox.autochat_options import DEFAULT_PROFILE, PROFILES
from dealer_pipeline.sandbox.runner import SandboxHandle, start_sandbox
from dealer_pipeline.store.schema import publications
from tests.support.runs import sandbox_run_environment

SEED, DEALERS, VEHICLES = 7, 3, 8


@dataclass
class Channels:
    sandbox: SandboxHandle
    engine: sa.Engine
    instance: dg.DagsterInstance
    since: int = 0

    # ---- the dealers file the sandbox wrote ----
    def dealers(self) -> list[DealerEntry]:
        return list(load_dealers().dealers)

    def dealer(self, *, source: str, autochat: bool | None = None, autocosmos: bool | None = None) -> DealerEntry:
        for entry in self.dealers():
            if entry.source != source:
                continue
            if autochat is not None and bool(entry.autochat_dealership_id) != autochat:
                continue
            if autocosmos is not None and bool(entry.autocosmos_adminmail) != autocosmos:
                continue
            return entry
        raise LookupError(f"no {source} dealer with autochat={autochat} autocosmos={autocosmos}")

    # ---- vehicles in the store, by the real source assets ----
    def sync(self, entry: DealerEntry) -> None:
        if entry.source == "webmotors":
            assets, parts, refresh, resource = [wm_defs.stock], wm_defs.DEALER_PARTITIONS, wm_defs.dealers, \
                {"webmotors": wm_defs.WebmotorsResource()}
        else:
            assets, parts, refresh, resource = [at_defs.stock], at_defs.ADVERTISER_PARTITIONS, at_defs.advertisers, \
                {"autotrader": at_defs.AutotraderResource()}
        resources = {**resource, "store": StoreResource()}
        if entry.source_dealer_id not in self.instance.get_dynamic_partitions(parts.name):
            result = dg.materialize([refresh], instance=self.instance, resources=resources, raise_on_error=False)
            assert result.success, "refreshing dealers failed"
            if entry.source_dealer_id not in self.instance.get_dynamic_partitions(parts.name):
                self.instance.add_dynamic_partitions(parts.name, [entry.source_dealer_id])
        result = dg.materialize(assets, instance=self.instance, resources=resources,
                                partition_key=entry.source_dealer_id, raise_on_error=False)
        assert result.success, f"syncing {entry.dealer_id} failed"

    # ---- publishing assets ----
    def partition(self, dealer_id: str) -> None:
        if dealer_id not in self.instance.get_dynamic_partitions(PUBLISHED_DEALER.name):
            self.instance.add_dynamic_partitions(PUBLISHED_DEALER.name, [dealer_id])

    def materialize(self, assets: list[Any], dealer_id: str, resources: dict[str, Any]) -> dg.ExecuteInProcessResult:
        self.partition(dealer_id)
        return dg.materialize(assets, instance=self.instance, resources={**resources, "store": StoreResource()},
                              partition_key=dealer_id, raise_on_error=False)

    def publish_autochat(self, dealer_id: str, **config: Any) -> dg.ExecuteInProcessResult:
        return self.materialize([ach_defs.publish_autochat], dealer_id,
                                {"autochat": ach_defs.AutochatResource(**config)})

    # ---- what the vendors saw ----
    def mark(self) -> None:
        self.since = self.sandbox.last_seq()

    def calls(self, vendor: str, path: str | None = None, method: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.sandbox.calls(vendor=vendor, since=self.since)
                if (path is None or c["path"].startswith(path)) and (method is None or c["method"] == method)]

    def cars(self, dealership_id: str | None = None) -> list[dict[str, Any]]:
        params = {"dealershipId": dealership_id} if dealership_id else None
        return self.sandbox.control("GET", "/autochat/cars", params=params)

    def token_requests(self) -> int:
        return int(self.sandbox.control("GET", "/autochat/stats")["token_requests"])

    # ---- the store ----
    def publications(self, target: str, dealer_id: str | None = None) -> dict[str, dict[str, Any]]:
        stmt = sa.select(publications).where(publications.c.target == target)
        if dealer_id is not None:
            stmt = stmt.where(publications.c.dealer_id == dealer_id)
        with self.engine.connect() as conn:
            return {row["vehicle_id"]: dict(row) for row in conn.execute(stmt).mappings()}


def reset_autochat(sandbox: SandboxHandle) -> None:
    """Put the sandbox's Autochat back as a new sandbox has it: no cars, default option lists,
    the world's integration switches, no token limit, no faults."""
    sandbox.clear_faults()
    sandbox.control("POST", "/autochat/config", {
        "options": {name: list(names) for name, names in PROFILES.items()}, "options_profile": DEFAULT_PROFILE,
        "token_limit_per_hour": None})
    for dealership in sandbox.world()["autochat_dealerships"]:
        sandbox.control("POST", f"/autochat/dealerships/{dealership['dealership_id']}",
                        {"integration_enabled": dealership["integration_enabled"]})
    cars = sandbox.control("GET", "/autochat/cars")
    if cars:
        c = sandbox.credentials
        with requests.Session() as session:
            token = session.post(f"{sandbox.url('autochat')}/oauth/token", timeout=30, json={
                "client_id": c["autochat_client_id"], "client_secret": c["autochat_client_secret"],
                "audience": "http://api.autochat.com/", "grant_type": "client_credentials"}).json()["access_token"]
            for car in cars:
                session.delete(f"{sandbox.url('autochat')}/api/cars/{car['internalId']}", timeout=30,
                               headers={"Authorization": f"Bearer {token}"}).raise_for_status()


@pytest.fixture(scope="module")
def channels_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    """One sandbox per test module; `channels` resets its Autochat state before each test."""
    with start_sandbox(seed=SEED, dealers=DEALERS, vehicles=VEHICLES,
                       workdir=tmp_path_factory.mktemp("channels-sandbox")) as handle:
        yield handle


@pytest.fixture
def channels(store: sa.Engine, channels_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[Channels]:
    sandbox = channels_sandbox
    reset_autochat(sandbox)
    with sandbox_run_environment(sandbox, monkeypatch, max_wait_seconds=30) as instance:
        yield Channels(sandbox, store, instance, sandbox.last_seq())

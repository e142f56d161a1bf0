"""The Webmotors tests' harness: a sandbox of their own, a fresh store, a real Dagster instance.

Every test runs the real assets (`dg.materialize` on an ephemeral instance) or the real
client against the sandbox subprocess over HTTP, and judges from the sandbox's call log
(only the calls made since the test started) and from the store. Tests that change the
sandbox (faults, token lifetime, a dealer's Cockpit access) undo it in `finally`/teardown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import dagster as dg
import pytest
import requests
import sqlalchemy as sa

from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.defs.sources import webmotors as wm
from dealer_pipeline.sandbox.runner import SandboxHandle, start_sandbox
from dealer_pipeline.vendors.webmotors import WebmotorsClient
from tests.support.runs import SandboxHarness, sandbox_run_environment

#: 3 Webmotors dealers with 25 ads each (25 = 5 pages of 5, or 2 full pages of 10 and one of 5).
SEED, DEALERS, VEHICLES = 13, 3, 25
TOKEN_PATH, STOCK_PATH = "/oauth/v1/access-token", "/site/v1/estoque"


@pytest.fixture(scope="package")
def wm_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    with start_sandbox(seed=SEED, dealers=DEALERS, vehicles=VEHICLES,
                       workdir=tmp_path_factory.mktemp("wm-sandbox")) as handle:
        yield handle


@dataclass
class Harness(SandboxHarness):
    vendor = "webmotors"

    # ---- running the real assets ----
    def resources(self, **overrides: Any) -> dict[str, Any]:
        return {"webmotors": wm.WebmotorsResource(**overrides), "store": StoreResource()}

    def dealers(self, **overrides: Any) -> dg.ExecuteInProcessResult:
        return dg.materialize([wm.dealers], instance=self.instance, resources=self.resources(**overrides),
                              raise_on_error=False)

    def sync(self, cnpj: str, *, checks: bool = False, **overrides: Any) -> dg.ExecuteInProcessResult:
        """`webmotors/stock` for one dealer partition (with its per-dealer checks when asked)."""
        if cnpj not in self.instance.get_dynamic_partitions(wm.DEALER_PARTITIONS.name):
            self.instance.add_dynamic_partitions(wm.DEALER_PARTITIONS.name, [cnpj])
        assets: list[Any] = [wm.stock, *(wm.STOCK_CHECKS if checks else [])]
        return dg.materialize(assets, instance=self.instance, resources=self.resources(**overrides),
                              partition_key=cnpj, raise_on_error=False)

    def client(self, cnpj: str, **kwargs: Any) -> WebmotorsClient:
        return WebmotorsClient.for_dealer_id(cnpj, engine=self.engine, **kwargs)

    # ---- the sandbox's own view ----
    def dealer(self, index: int) -> dict[str, Any]:
        return self.sandbox.world(refresh=True)["webmotors"][index]

    def cnpj(self, index: int) -> str:
        return self.dealer(index)["cnpj"]

    def set_access(self, cnpj: str, **flags: bool) -> None:
        self.sandbox.control("POST", f"/webmotors/dealers/{cnpj}/access", flags)

    def vendor_hits(self, cnpj: str) -> list[dict[str, Any]]:
        """The dealer's stock as the vendor lists it, read with plain requests (not our client)."""
        dealer = next(d for d in self.sandbox.world()["webmotors"] if d["cnpj"] == cnpj)
        creds = self.sandbox.credentials
        base = self.sandbox.url("webmotors")
        with requests.Session() as session:
            granted = session.post(f"{base}{TOKEN_PATH}", auth=(creds["webmotors_client_id"],
                                                                 creds["webmotors_client_secret"]),
                                   json={"grant_type": "password", "username": dealer["username"],
                                         "password": dealer["password"]}, timeout=10)
            assert granted.status_code == 201, granted.text
            headers = {"client_id": creds["webmotors_client_id"], "access_token": granted.json()["access_token"]}
            listed = session.get(f"{base}{STOCK_PATH}", params={"p": 1, "qty": 100}, headers=headers, timeout=10)
        assert listed.status_code == 200, listed.text
        return listed.json()["hits"]


@pytest.fixture
def harness(store: sa.Engine, wm_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    with sandbox_run_environment(wm_sandbox, monkeypatch, max_wait_seconds=20) as instance:
        yield Harness(wm_sandbox, store, instance, wm_sandbox.last_seq())


def table(engine: sa.Engine, tbl: sa.Table, order: sa.ColumnElement) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.select(tbl).order_by(order)).mappings()]

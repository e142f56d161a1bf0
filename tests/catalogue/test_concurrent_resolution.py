"""AC-MATCH-1 under concurrency: runs resolving the same new spec at once ask the vendor once.

On PostgreSQL a per-spec advisory lock holds the spec while it is asked; the run that waited
re-reads the cache. The sandbox slows bestmatch down so both runs are surely in flight together.
"""

from __future__ import annotations

import threading
from typing import Iterator

import pytest
import sqlalchemy as sa

from dealer_pipeline.catalogue.resolve import resolve_specs
from dealer_pipeline.sandbox.runner import SandboxHandle
from dealer_pipeline.store.engine import create_store_engine
from dealer_pipeline.store.schema import catalog_matches
from dealer_pipeline.vendors.autocosmos import AutocosmosClient
from tests.conftest import fresh_pg_database

VEHICLES = [
    {"vehicle_id": f"autotrader:spec-{n}", "make": "BMW", "model": "3 Series", "derivative": "320d M Sport 4dr Step Auto",
     "model_year": 2019, "body_type": "Saloon", "transmission": "automatic", "fuel_type": "diesel",
     "engine_cc": 1995, "power_kw": 140}
    for n in range(3)
]


@pytest.fixture
def pg_store(pg_admin_url: str, pg_template: str) -> Iterator[sa.Engine]:
    with fresh_pg_database(pg_admin_url, pg_template) as url:
        engine = create_store_engine(url)
        yield engine
        engine.dispose()


def test_ac_match_1_concurrent_runs_ask_a_new_spec_once(pg_store: sa.Engine, sandbox: SandboxHandle) -> None:
    sandbox.fault(vendor="autocosmos", path="/v3/versiones/bestmatch", delay_seconds=1.0, times=2)
    since = sandbox.last_seq()
    reports: list = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        client = AutocosmosClient.from_settings(engine=pg_store, base_url=sandbox.url("autocosmos"))
        try:
            start.wait()
            reports.append(resolve_specs(pg_store, client, VEHICLES))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        sandbox.clear_faults()
    assert not errors, errors
    asked = [c for c in sandbox.calls(vendor="autocosmos", since=since) if "bestmatch" in c["path"]]
    assert len(asked) == 1, f"the spec was asked {len(asked)} times"
    assert sorted(r.asked for r in reports) == [0, 1]
    assert sorted(r.cache_hits for r in reports) == [0, 1]
    with pg_store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(catalog_matches)).scalar_one() == 1

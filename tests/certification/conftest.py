"""One real pipeline run per store backend, shared by this directory's tests (module scope).

`pipeline` runs `scenario.pipeline_run` into a fresh migrated store (SQLite, then PostgreSQL)
and keeps the sandbox up, so tests can read the vendor's call log too. Tests must not commit
changes to that store: crafted violations are applied inside a transaction that is rolled back.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from dealer_pipeline.store.engine import create_store_engine
from tests.certification.scenario import Scenario, pipeline_run
from tests.conftest import fresh_pg_database


@dataclass
class Pipeline:
    backend: str
    store_url: str
    engine: sa.Engine
    scenario: Scenario


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def pipeline(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    backend = request.param
    workdir = tmp_path_factory.mktemp(f"certification-{backend}")
    if backend == "sqlite":
        target = workdir / "store.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        yield from _run(backend, f"sqlite:///{target}", workdir)
        return
    admin = request.getfixturevalue("pg_admin_url")
    with fresh_pg_database(admin, request.getfixturevalue("pg_template")) as url:
        yield from _run(backend, url, workdir)


def _run(backend: str, url: str, workdir: Path) -> Iterator[Pipeline]:
    with pipeline_run(url, workdir / "sandbox") as scenario:
        engine = create_store_engine(url)
        try:
            yield Pipeline(backend, url, engine, scenario)
        finally:
            engine.dispose()

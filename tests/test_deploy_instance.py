"""The production instance config (`deploy/dagster.yaml`) runs against a real PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from dealer_pipeline.paths import project_root
from tests.conftest import fresh_pg_database


@dg.op
def touch() -> int:
    return 1


@dg.job
def smoke_job() -> None:
    touch()


def test_deploy_instance_stores_runs_in_postgres(pg_admin_url: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(project_root() / "deploy" / "dagster.yaml", tmp_path / "dagster.yaml")
    with fresh_pg_database(pg_admin_url, None) as url:
        parts = sa.make_url(url)
        for name, value in {"DAGSTER_PG_HOST": parts.host, "DAGSTER_PG_PORT": str(parts.port),
                            "DAGSTER_PG_DB": parts.database, "DAGSTER_PG_USER": parts.username,
                            "DAGSTER_PG_PASSWORD": parts.password}.items():
            monkeypatch.setenv(name, value)
        with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
            result = smoke_job.execute_in_process(instance=instance)
            assert result.success
            assert instance.get_run_by_id(result.run_id).is_success
            assert instance.get_concurrency_config().pool_config.default_pool_limit == 4
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM runs")).scalar_one() == 1
        engine.dispose()

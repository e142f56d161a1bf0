"""`dealer-pipeline certify` exits 0 when nothing failed ("not exercised" does not fail) and 1 when a check failed."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from dealer_pipeline.cli import cli
from dealer_pipeline.settings import get_settings
from dealer_pipeline.store.engine import create_store_engine, get_engine
from dealer_pipeline.store.schema import api_calls
from dealer_pipeline.store.types import utcnow


@pytest.fixture
def small_store(sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    target = tmp_path / "store.sqlite"
    shutil.copyfile(sqlite_template, target)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield f"sqlite:///{target}"
    get_settings.cache_clear()
    get_engine.cache_clear()


def _run(store_url: str, out: Path, tmp_path: Path) -> tuple[int, str]:
    env = {"DEALER_PIPELINE_DATABASE_URL": store_url, "DAGSTER_HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(cli, ["certify", "--out", str(out)], env=env)
    get_settings.cache_clear()
    return result.exit_code, result.output


def test_certify_exit_status_follows_the_verdicts(small_store: str, tmp_path: Path) -> None:
    code, output = _run(small_store, tmp_path / "clean", tmp_path)
    assert code == 0, output
    assert "0 passed, 0 failed, 62 not exercised of 62 checks" in output

    now = utcnow()
    token = dict(ts=now, vendor="autotrader", service="authenticate", method="POST", path="/authenticate",
                 status=200, duration_ms=3, cf_ray="0123456789abcdef-LHR", attempt=1, run_id="run-a")
    stock = dict(token, service="stock", method="GET", path="/stock?advertiserId=1&page=1&pageSize=5",
                 cf_ray="1123456789abcdef-LHR")
    engine = create_store_engine(small_store)
    with engine.begin() as conn:
        conn.execute(sa.insert(api_calls), [token, dict(stock, ts=now + timedelta(seconds=1)),
                                            dict(token, ts=now + timedelta(seconds=30), run_id="run-b",
                                                 cf_ray="2123456789abcdef-LHR")])
    engine.dispose()
    code, output = _run(small_store, tmp_path / "broken", tmp_path)
    assert code == 1, output
    assert "AT-AUTH-3          failed" in output
    evidence = json.loads((tmp_path / "broken" / "evidence.json").read_text())
    assert "AT-AUTH-3" in evidence["failed"]
    rows = next(c for c in evidence["checks"] if c["id"] == "AT-AUTH-3")["rows"]
    assert rows[0]["cf_ray"] == "2123456789abcdef-LHR" and "second token request" in rows[0]["why"]


def test_certify_defaults_to_dagster_home(small_store: str, tmp_path: Path) -> None:
    env = {"DEALER_PIPELINE_DATABASE_URL": small_store, "DAGSTER_HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(cli, ["certify"], env=env)
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert (tmp_path / "home" / "certification" / "certification.md").is_file()
    assert (tmp_path / "home" / "certification" / "evidence.json").is_file()

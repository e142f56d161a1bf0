"""WM-AUTH-1: one token per dealer user, reused until it expires (shared by every process),
re-granted once on 401."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from dealer_pipeline.defs.sources import webmotors as wm
from dealer_pipeline.http.tokens import derive_fernet, token_key
from dealer_pipeline.settings import get_settings
from dealer_pipeline.store.schema import api_tokens
from tests.support.runs import metadata_of
from tests.webmotors.conftest import STOCK_PATH, TOKEN_PATH, Harness, table

ROOT = Path(__file__).resolve().parents[2]


def _hash(token: str) -> str:
    """As the sandbox's call log shows a token."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_wm_auth_1_one_token_per_dealer_user(harness: Harness) -> None:
    """Two dealers, three baselines: one grant per dealer user, each dealer's calls on its own token."""
    first, second = harness.cnpj(0), harness.cnpj(1)
    for cnpj in (first, second, first):
        assert harness.sync(cnpj, stock_page_size=10).success
    calls = harness.calls()
    grants = [c for c in calls if c["path"] == TOKEN_PATH]
    assert [(c["method"], c["status"]) for c in grants] == [("POST", 201), ("POST", 201)]
    used = {cnpj: {c["token"] for c in calls if c["path"] == STOCK_PATH and c["dealer"] == f"webmotors:{cnpj}"}
            for cnpj in (first, second)}
    assert len(used[first]) == 1 and len(used[second]) == 1 and used[first] != used[second]
    pages = [c for c in calls if c["path"] == STOCK_PATH]
    assert len(pages) == 9 and all(c["status"] == 200 for c in pages)

    # Each token is stored once, under (client_id, dealer username), encrypted with the client secret.
    settings = get_settings()
    with harness.engine.connect() as conn:
        rows = conn.execute(sa.select(api_tokens)).mappings().all()
    assert len(rows) == 2
    for index, cnpj in ((0, first), (1, second)):
        key = token_key("webmotors", (settings.webmotors_base_url, settings.webmotors_client_id,
                                      harness.dealer(index)["username"]))
        (row,) = [r for r in rows if r["token_key"] == key]
        token = derive_fernet(settings.webmotors_client_secret, key).decrypt(row["ciphertext"].encode()).decode()
        assert {_hash(token)} == used[cnpj] and token not in row["ciphertext"]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_wm_auth_1_reused_until_expires_in_minus_60_s(harness: Harness) -> None:
    """A 64 s token is fresh for 4 s (60 s margin): reused within, re-granted before the next call after."""
    harness.sandbox.configure(token_ttl={"webmotors": 64})
    try:
        with harness.client(harness.cnpj(0), stock_page_size=5) as client:
            client.stock_page(1)
            granted = time.monotonic()
            client.stock_page(2)
            client.stock_page(3)
            assert len(harness.calls(TOKEN_PATH)) == 1
            time.sleep(max(0.0, 4.3 - (time.monotonic() - granted)))
            client.stock_page(4)
    finally:
        harness.sandbox.configure(token_ttl={"webmotors": 3600})
    calls = harness.calls()
    assert [(c["path"], c["status"]) for c in calls] == [
        (TOKEN_PATH, 201), (STOCK_PATH, 200), (STOCK_PATH, 200), (STOCK_PATH, 200), (TOKEN_PATH, 201),
        (STOCK_PATH, 200)]
    tokens = [c["token"] for c in calls if c["path"] == STOCK_PATH]
    assert tokens[0] == tokens[1] == tokens[2] != tokens[3]
    with harness.engine.connect() as conn:
        row = conn.execute(sa.select(api_tokens)).mappings().one()
    assert (row["expires_at"] - row["obtained_at"]).total_seconds() == 64  # expires_in, from before the request


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_wm_auth_1_regranted_once_on_401(harness: Harness) -> None:
    """The token dies mid-baseline (expired at the vendor): one new grant, the page retried once."""
    cnpj = harness.cnpj(2)
    harness.sandbox.fault(vendor="webmotors", path=STOCK_PATH, query={"p": "2"}, dealer=cnpj, expire_token=True)
    result = harness.sync(cnpj, stock_page_size=10)
    assert result.success
    assert [(c["path"], c["query"].get("p"), c["status"]) for c in harness.calls()] == [
        (TOKEN_PATH, None, 201), (STOCK_PATH, "1", 200), (STOCK_PATH, "2", 401), (TOKEN_PATH, None, 201),
        (STOCK_PATH, "2", 200), (STOCK_PATH, "3", 200)]
    tokens = [c["token"] for c in harness.calls(STOCK_PATH)]
    assert tokens[0] == tokens[1] != tokens[2] == tokens[3]
    meta = metadata_of(result, wm.STOCK_KEY)
    assert (meta["complete"], meta["token_requests"], meta["records"]) == (True, 2, 25)


def test_wm_auth_1_two_processes_share_one_token(harness: Harness, store_url: str) -> None:
    """Two processes calling for the same dealer at once make one token request between them."""
    dealer = f"webmotors:{harness.cnpj(0)}"
    env = {**os.environ, **harness.sandbox.env(), "DEALER_PIPELINE_DATABASE_URL": store_url}
    start = time.time() + 2.0  # both imported and connected before the first call
    procs = [subprocess.Popen([sys.executable, "-m", "tests.webmotors.worker", dealer, str(start), "6"], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert all(not r["errors"] and r["calls"] == 6 for r in results), results
    assert sum(r["token_requests"] for r in results) == 1
    assert [c["status"] for c in harness.calls(TOKEN_PATH)] == [201]
    pages = harness.calls(STOCK_PATH)
    assert len(pages) == 12 and len({c["token"] for c in pages}) == 1 and None not in {c["token"] for c in pages}
    assert len(table(harness.engine, api_tokens, api_tokens.c.token_key)) == 1

"""Scripted faults (`/_sandbox/faults`) and the call log (`/_sandbox/calls`), over real HTTP."""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any, Callable, Iterator

import pytest
import requests

from dealer_pipeline.sandbox.runner import SandboxHandle, start_sandbox

CF_RAY = re.compile(r"^[0-9a-f]{16}-LHR$")


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    with start_sandbox(dealers=2, vehicles=5, workdir=tmp_path_factory.mktemp("faults")) as handle:
        yield handle


@pytest.fixture
def sb(box: SandboxHandle) -> Iterator[SandboxHandle]:
    box.clear_faults()
    yield box
    box.clear_faults()


@pytest.fixture(scope="module")
def at_token(box: SandboxHandle) -> str:
    return requests.post(f"{box.url('autotrader')}/authenticate",
                         data={"key": "sandbox-at-key", "secret": "sandbox-at-secret"}, timeout=10).json()["access_token"]


@pytest.fixture
def stock(sb: SandboxHandle, at_token: str) -> Callable[..., requests.Response]:
    advertisers = [a["advertiser_id"] for a in sb.world()["autotrader"]]

    def call(index: int = 0, token: str | None = None, **params: Any) -> requests.Response:
        return requests.get(f"{sb.url('autotrader')}/stock",
                            params={"advertiserId": advertisers[index], "page": 1, "pageSize": 5, **params},
                            headers={"Authorization": f"Bearer {token or at_token}"}, timeout=10)
    call.advertisers = advertisers  # type: ignore[attr-defined]
    return call


@pytest.mark.parametrize("status", [400, 401, 500, 503, 504])
def test_status_faults_answer_with_the_vendor_body_and_cf_ray(sb: SandboxHandle, stock: Callable[..., Any],
                                                              status: int) -> None:
    sb.fault(vendor="autotrader", path="/stock", status=status)
    answer = stock()
    assert answer.status_code == status
    assert CF_RAY.match(answer.headers["CF-RAY"])
    if status in (400, 401):
        assert answer.json()["warnings"][0]["type"] == "ERROR"
    if status == 401:
        assert answer.json() == {"warnings": [{"type": "ERROR",
                                               "message": "Access token is missing, invalid or expired"}]}
    assert stock().status_code == 200  # times defaults to 1


@pytest.mark.parametrize("kind,message", [("A", "Advertiser {id} is not on your integration"),
                                          ("B", "Advertiser {id} does not have access to the Stock Sync product")])
def test_403_faults_for_one_advertiser(sb: SandboxHandle, stock: Callable[..., Any], kind: str, message: str) -> None:
    target = stock.advertisers[1]  # type: ignore[attr-defined]
    sb.fault(vendor="autotrader", path="/stock", status=403, kind=kind, advertiser_id=target, times=None)
    assert stock(0).status_code == 200
    for _ in range(2):
        answer = stock(1)
        assert answer.status_code == 403
        assert answer.json() == {"warnings": [{"type": "ERROR", "message": message.format(id=target)}]}
        assert CF_RAY.match(answer.headers["CF-RAY"])


def test_429_with_and_without_retry_after_counts_down(sb: SandboxHandle, stock: Callable[..., Any]) -> None:
    sb.fault(vendor="autotrader", path="/stock", status=429, times=2, retry_after=1)
    first, second, third = stock(), stock(), stock()
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert first.headers["Retry-After"] == "1" and CF_RAY.match(first.headers["CF-RAY"])
    sb.fault(vendor="autotrader", path="/stock", status=429)
    bare = stock()
    assert bare.status_code == 429 and "Retry-After" not in bare.headers


def test_delay_reset_and_malformed_json(sb: SandboxHandle, stock: Callable[..., Any]) -> None:
    sb.fault(vendor="autotrader", path="/stock", delay_seconds=0.5)
    started = time.monotonic()
    assert stock().status_code == 200
    assert time.monotonic() - started >= 0.5
    sb.fault(vendor="autotrader", path="/stock", reset=True)
    with pytest.raises(requests.ConnectionError):
        stock()
    sb.fault(vendor="autotrader", path="/stock", malformed_json=True)
    broken = stock()
    assert broken.status_code == 200 and broken.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.content)
    assert broken.text.startswith('{"results":[')
    assert stock().json()["totalResults"] == 5


def test_expire_token_makes_the_presented_token_fail(sb: SandboxHandle, stock: Callable[..., Any]) -> None:
    token = requests.post(f"{sb.url('autotrader')}/authenticate",
                          data={"key": "sandbox-at-key", "secret": "sandbox-at-secret"}, timeout=10).json()["access_token"]
    assert stock(token=token).status_code == 200
    sb.fault(vendor="autotrader", path="/stock", expire_token=True)
    assert stock(token=token).status_code == 401
    assert stock(token=token).status_code == 401  # it stays expired
    assert stock().status_code == 200  # other tokens are untouched


def test_matching_by_method_query_skip_and_dealer(sb: SandboxHandle, stock: Callable[..., Any]) -> None:
    sb.fault(vendor="autotrader", path="/stock", method="POST", status=500)
    assert stock().status_code == 200
    sb.clear_faults()
    sb.fault(vendor="autotrader", path="/stock", query={"page": "3"}, reset=True, times=None)
    assert stock(page=2).status_code == 200
    with pytest.raises(requests.ConnectionError):
        stock(page=3)
    sb.clear_faults()
    sb.fault(vendor="autotrader", path="/stock", status=503, skip=2)
    assert [stock().status_code for _ in range(4)] == [200, 200, 503, 200]
    dealer = sb.world()["webmotors"][0]
    sb.fault(vendor="webmotors", dealer=dealer["dealer_id"], status=429, retry_after=2, times=None)
    tokens = []
    for entry in sb.world()["webmotors"][:2]:
        answer = requests.post(f"{sb.url('webmotors')}/oauth/v1/access-token", auth=("sandbox-wm-client",
                               "sandbox-wm-secret"), json={"grant_type": "password", "username": entry["username"],
                                                           "password": entry["password"]}, timeout=10)
        tokens.append(answer.json()["access_token"])
    headers = [{"client_id": "sandbox-wm-client", "access_token": t} for t in tokens]
    limited = requests.get(f"{sb.url('webmotors')}/site/v1/estoque", headers=headers[0], timeout=10)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert limited.json() == {"status": 429, "message": "Limite de requisições excedido"}
    assert requests.get(f"{sb.url('webmotors')}/site/v1/estoque", headers=headers[1], timeout=10).status_code == 200


def test_fault_rules_are_listed_cleared_and_validated(sb: SandboxHandle) -> None:
    rule = sb.fault(vendor="autotrader", path="/stock", status=503, times=3)
    assert rule["times"] == 3 and rule["id"] > 0
    assert [r["id"] for r in sb.control("GET", "/faults")] == [rule["id"]]
    assert sb.control("DELETE", "/faults") == {"cleared": 1}
    for bad in ({"vendor": "ebay", "status": 500}, {"vendor": "autotrader"}, {"vendor": "autotrader", "status": 200},
                {"vendor": "autotrader", "status": 500, "kind": "A"}, {"vendor": "autotrader", "status": 500,
                                                                      "colour": 1}):
        answer = requests.post(f"{sb.base_url}/_sandbox/faults", json=bad, timeout=10)
        assert answer.status_code == 400 and answer.json()["error"], bad


def test_call_log_records_every_call_with_a_hashed_token(sb: SandboxHandle, stock: Callable[..., Any],
                                                         at_token: str) -> None:
    since = sb.last_seq()
    sb.fault(vendor="autotrader", path="/stock", status=503)
    stock(page=1)
    stock(page=2)
    requests.get(f"{sb.base_url}/media/abc.png?w=10&h=10", timeout=10)
    records = sb.calls(since=since)
    assert [r["vendor"] for r in records] == ["autotrader", "autotrader", "media"]
    faulted, served, image = records
    assert [r["seq"] for r in records] == sorted(r["seq"] for r in records) and records[0]["seq"] > since
    assert set(served) >= {"seq", "ts", "vendor", "method", "path", "query", "status", "token", "cf_ray",
                           "duration_ms"}
    assert served["method"] == "GET" and served["path"] == "/stock"
    assert served["query"] == {"advertiserId": stock.advertisers[0], "page": "2", "pageSize": "5"}  # type: ignore
    assert served["status"] == 200 and faulted["status"] == 503 and faulted["fault"].endswith("status 503")
    assert served["token"] == hashlib.sha256(at_token.encode()).hexdigest()[:16]
    assert at_token not in json.dumps(records)
    assert CF_RAY.match(served["cf_ray"]) and CF_RAY.match(faulted["cf_ray"])
    assert served["dealer"] == f"autotrader:{stock.advertisers[0]}"  # type: ignore[attr-defined]
    assert image["cf_ray"] is None and image["token"] is None and image["status"] == 200
    assert faulted["ts"] <= served["ts"] and isinstance(served["duration_ms"], float)
    assert sb.calls(vendor="media", since=since) == [image]


def test_cf_ray_header_matches_the_call_log(sb: SandboxHandle, stock: Callable[..., Any]) -> None:
    since = sb.last_seq()
    answer = stock()
    assert sb.calls(since=since)[0]["cf_ray"] == answer.headers["CF-RAY"]


def test_call_log_clear_keeps_sequence_numbers_increasing(sb: SandboxHandle, stock: Callable[..., Any]) -> None:
    stock()
    last = sb.last_seq()
    sb.clear_calls()
    assert sb.calls() == []
    stock()
    assert sb.calls()[0]["seq"] == last + 1

"""Property-based fuzzing of the three receiver routes over real HTTP (Hypothesis).

For any request: no 5xx; a validly signed one is answered 2xx and its event is in the store
with the body as received; a refused one leaves at most a bounded number of bytes in
`webhook_rejections`. The counts are printed (run with `-s` to see them).
"""

from __future__ import annotations

import http.client
import json
import uuid
from collections import Counter
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealer_pipeline.webhooks.runner import ROUTES as ROUTE_PATHS
from dealer_pipeline.webhooks.runner import ReceiverHandle
from dealer_pipeline.webhooks.storage import storable_text
from tests.webhooks.fixtures import MAX_BYTES, WM_TOKEN, ac_headers, at_headers, rows
from tests.webhooks.test_receiver_edges import REJECTION_BYTES, rejection_bytes

EXAMPLES_PER_ROUTE = 200
ROUTES = ("autotrader", "autocosmos", "webmotors")

_header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80).map(str.strip)
_header_names = st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20).map(lambda n: "x-" + n)
_scalars = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**80), max_value=2**80), st.text(max_size=30),
)
_json = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                     max_leaves=20)
_versions = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.text(max_size=25),
                      st.sampled_from(["²", "٣", "00012", " 7 ", "1e3", str(2**63), str(2**63 - 1)]), _json)


@st.composite
def _stock_update(draw: st.DrawFn) -> dict[str, Any]:
    stock_id = draw(st.one_of(st.text(max_size=40), st.integers(), st.none()))
    return {"id": stock_id, "type": draw(st.sampled_from(["STOCK_UPDATE", "ADVERTISER", "DEAL_CREATE", ""])),
            "data": {"metadata": {"stockId": stock_id, "versionNumber": draw(_versions)},
                     "advertiser": {"advertiserId": draw(_json)}}}


@st.composite
def _body(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "deep", "stock", "lead", "large"]))
    if kind == "bytes":
        return draw(st.binary(max_size=2000))
    if kind == "deep":
        depth = draw(st.integers(min_value=1, max_value=4000))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        return b'{"x":' + opener * depth + b"1" + closer * depth + b"}"
    if kind == "large":
        return b"z" * draw(st.integers(min_value=MAX_BYTES - 10, max_value=MAX_BYTES + 10))
    value: Any = draw(_json) if kind == "json" else draw(_stock_update()) if kind == "stock" else \
        {"IdLead": draw(st.one_of(st.text(max_size=30), st.integers(), _json)), "Cnpj": draw(_json)}
    return json.dumps(value, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


@st.composite
def _request(draw: st.DrawFn) -> dict[str, Any]:
    body = draw(_body())
    signed = draw(st.sampled_from(["valid", "valid", "forged", "missing", "twice"]))
    extra = draw(st.dictionaries(_header_names, _header_text, max_size=5))
    return {"body": body, "signed": signed, "extra": extra}


def _prepare(route: str, body: bytes, signed: str) -> tuple[str, str, list[tuple[str, str]]]:
    """(method, path suffix, headers) for one request; "twice" repeats the credential."""
    if route == "webmotors":
        token = {"valid": WM_TOKEN, "forged": "wm-cb-wrong", "missing": None, "twice": WM_TOKEN}[signed]
        suffix = "" if token is None else f"?token={token}" + (f"&token={token}" if signed == "twice" else "")
        return "POST", suffix, []
    if route == "autotrader":
        headers = at_headers(body, secret="forged-secret") if signed == "forged" else at_headers(body)
        name, method = "Autotrader-Signature", "PUT"
    else:
        hook = str(uuid.uuid4())
        headers = ac_headers(hook, secret="forged-secret") if signed == "forged" else ac_headers(hook)
        name, method = "Notification-Signature", "POST"
    if signed == "missing":
        headers.pop(name)
    pairs = list(headers.items())
    if signed == "twice":
        pairs.append((name, headers[name]))
    return method, "", pairs


def _send(base_url: str, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, bytes]:
    """One request on its own connection; http.client sends a repeated header name as given."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class _Tally:
    def __init__(self) -> None:
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.requests = 0
        self.stored = 0
        self.signed = 0
        self.duplicates = 0
        self.stored_status: Counter[str] = Counter()

    def report(self) -> str:
        by_status = ", ".join(f"{route} {status}: {n}" for (route, status), n in sorted(self.statuses.items()))
        kept = ", ".join(f"{status} {n}" for status, n in sorted(self.stored_status.items()))
        return (f"fuzz: {self.requests} requests, {self.signed} validly signed (within the size cap): "
                f"{self.stored} new rows verified in the store ({kept}), {self.duplicates} answered as duplicates "
                f"of a row already stored; answers: {by_status}")


@pytest.fixture(scope="module")
def tally() -> Iterator[_Tally]:
    counts = _Tally()
    yield counts
    print("\n" + counts.report())


@pytest.mark.parametrize("route", ROUTES)
def test_fuzz_receiver_route(route: str, receiver: ReceiverHandle, module_engine: sa.Engine, tally: _Tally) -> None:
    backend = module_engine.dialect.name
    first_rejection = rows(module_engine, "SELECT COALESCE(MAX(id), 0) AS m FROM webhook_rejections")[0]["m"]

    @settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, database=None, derandomize=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(request=_request())
    def one(request: dict[str, Any]) -> None:
        body, signed = request["body"], request["signed"]
        method, suffix, headers = _prepare(route, body, signed)
        path = ROUTE_PATHS[route] + suffix
        status, answer = _send(receiver.base_url, method, path, headers + list(request["extra"].items()), body)
        tally.requests += 1
        tally.statuses[(f"{backend} {route}", status)] += 1
        assert status < 500, (status, answer[:200])
        if signed == "valid" and len(body) <= MAX_BYTES:
            tally.signed += 1
            assert status == 200, answer[:200]
            outcome = json.loads(answer)
            if outcome["status"] == "duplicate":
                tally.duplicates += 1
                return  # the same body (or stock version) drawn twice: stored the first time
            (row,) = rows(module_engine, "SELECT source, body, status FROM webhook_events WHERE id = :i",
                          i=outcome["id"])
            assert row["source"] == route and row["body"] == storable_text(body)
            tally.stored += 1
            tally.stored_status[row["status"]] += 1
        elif signed == "valid":
            assert status == 413
        else:
            assert status in (403, 413), status

    one()
    stored = rows(module_engine, "SELECT reason, headers, body, remote_addr FROM webhook_rejections WHERE id > :i",
                  i=first_rejection)
    assert stored, "refused requests were recorded"
    assert max(rejection_bytes(r) for r in stored) <= REJECTION_BYTES

"""AC-SIGN-1 judged as the vendor judges it: different signed POSTs within one second are fine; the same
signed request sent twice is a replay. Against the sandbox over real HTTP, and on both call logs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from dealer_pipeline.certification import Verdict, all_rules, certify
from dealer_pipeline.certification import report as report_module
from dealer_pipeline.certification.calls import OURS, VENDOR_LOG, Call
from dealer_pipeline.certification.model import Context
from dealer_pipeline.certification.rules import signing
from dealer_pipeline.sandbox.runner import SandboxHandle, start_sandbox
from dealer_pipeline.settings import Secret
from dealer_pipeline.store.types import utcnow
from dealer_pipeline.vendors.autocosmos import AutocosmosSigner

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
COLLECTION = "/v3/publicaciones/ventas@agencia.com.ar"


def _call(at: float, method: str = "POST", path: str = COLLECTION, *, signature: str | None = None,
          attempt: int | None = None, run_id: str | None = None, status: int = 201) -> Call:
    return Call(ts=T0 + timedelta(seconds=at), vendor="autocosmos", method=method, path=path, status=status,
                signature=signature, attempt=attempt, run_id=run_id)


# ---- the rule on call records -------------------------------------------------------------------------
def test_different_signed_posts_within_one_second_are_not_replays() -> None:
    vendor_log = [_call(0.1, signature="a1"), _call(0.4, signature="b2"), _call(0.7, signature="c3"),
                  _call(0.8, "PATCH", f"{COLLECTION}/x-1", signature="d4"),
                  _call(0.9, "PATCH", f"{COLLECTION}/x-1", signature="e5")]
    assert signing.violations(vendor_log, VENDOR_LOG) == ([], 0, 0)
    ours = [_call(0.1, attempt=1, run_id="r"), _call(0.4, attempt=1, run_id="r"), _call(0.6, attempt=1, run_id="r"),
            _call(0.8, "PATCH", f"{COLLECTION}/x-1", attempt=1, run_id="r"),
            _call(0.9, "PATCH", f"{COLLECTION}/x-1", attempt=1, run_id="r")]
    assert signing.violations(ours, OURS) == ([], 0, 0)


def test_a_retry_a_second_later_is_signed_anew_and_is_not_a_replay() -> None:
    ours = [_call(0.2, attempt=1, run_id="r", status=502), _call(0.3, attempt=1, run_id="r"),
            _call(1.3, attempt=2, run_id="r")]
    assert signing.violations(ours, OURS) == ([], 0, 0)


def test_the_same_signature_twice_is_a_replay_whenever_it_arrives() -> None:
    vendor_log = [_call(0.1, signature="a1"), _call(0.3, signature="b2"), _call(0.5, signature="a1", status=401)]
    rows, replayed, refused = signing.violations(vendor_log, VENDOR_LOG)
    assert (replayed, refused, len(rows)) == (1, 1, 1)
    assert "identical signature" in rows[0]["why"] and "refused by the vendor (401)" in rows[0]["why"]
    assert rows[0]["signature#"] == "a1"


def test_our_log_finds_an_attempt_resent_within_the_second_of_the_one_before() -> None:
    ours = [_call(0.1, attempt=1, run_id="r", status=502), _call(0.2, attempt=1, run_id="r"),
            _call(0.6, attempt=2, run_id="r")]
    rows, replayed, refused = signing.violations(ours, OURS)
    assert (replayed, refused) == (1, 0) and rows[0]["attempt"] == 2
    other_run = [_call(0.1, attempt=1, run_id="r", status=502), _call(0.6, attempt=2, run_id="s")]
    assert signing.violations(other_run, OURS)[1] == 0


# ---- against the sandbox --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    with start_sandbox(seed=11, dealers=3, vehicles=3, workdir=tmp_path_factory.mktemp("sign-sandbox")) as handle:
        yield handle


def _signed(sandbox: SandboxHandle, method: str, path: str, body: dict, at: float) -> requests.PreparedRequest:
    """A request signed as our client signs it, with its `Date` fixed to the second `at`."""
    env = sandbox.env()
    signer = AutocosmosSigner(env["AUTOCOSMOS_APP_KEY"], Secret(env["AUTOCOSMOS_APP_SECRET"]), clock=lambda: at)
    request = requests.Request(method, f"{sandbox.url('autocosmos')}{path}", data=json.dumps(body).encode(),
                               headers={"Content-Type": "application/json"}).prepare()
    signer.sign(request)
    return request


def _collection(sandbox: SandboxHandle) -> str:
    return f"/v3/publicaciones/{sandbox.world()['autocosmos_agencies'][0]['adminmail']}"


def _sign_rule(sandbox: SandboxHandle, since: int) -> tuple[Verdict, list[dict]]:
    records = sandbox.calls(vendor="autocosmos", since=since)
    with sa.create_engine("sqlite://").connect() as conn:  # judged from the vendor's log alone
        evidence = all_rules()["AC-SIGN-1"](conn, Context(now=utcnow(), vendor_calls=records, deliveries=[]))
    assert "vendor" in evidence.basis
    return evidence.verdict, [dict(r) for r in evidence.rows]


def test_different_posts_and_patches_in_one_second_pass_on_the_vendor_log(sandbox: SandboxHandle) -> None:
    sandbox.settle()
    since = sandbox.last_seq()
    collection, second = _collection(sandbox), float(int(time.time()))
    with requests.Session() as session:
        answers = [session.send(_signed(sandbox, method, path, body, second)) for method, path, body in (
            ("POST", collection, {"ExternalId": "sign-a"}), ("POST", collection, {"ExternalId": "sign-b"}),
            ("PATCH", f"{collection}/sign-a", {"Activa": False}), ("PATCH", f"{collection}/sign-a", {"Activa": True}))]
    assert all(a.status_code != 401 for a in answers), [(a.status_code, a.text[:200]) for a in answers]
    sandbox.settle()
    logged = sandbox.calls(vendor="autocosmos", since=since)
    assert len(logged) == 4 and len({r["signature"] for r in logged}) == 4 and all(r["signature"] for r in logged)
    verdict, rows = _sign_rule(sandbox, since)
    assert verdict is Verdict.PASSED, rows


def test_an_identical_signed_request_sent_twice_fails_on_the_vendor_log(sandbox: SandboxHandle) -> None:
    sandbox.settle()
    since = sandbox.last_seq()
    request = _signed(sandbox, "POST", _collection(sandbox), {"ExternalId": "sign-replayed"}, time.time())
    with requests.Session() as session:
        first, again = session.send(request), session.send(request)
    assert first.status_code != 401 and again.status_code == 401, (first.text[:200], again.text[:200])
    sandbox.settle()
    verdict, rows = _sign_rule(sandbox, since)
    assert verdict is Verdict.FAILED
    assert len(rows) == 1 and "identical signature" in rows[0]["why"] and rows[0]["status"] == 401


def test_certify_shows_its_own_verdict_beside_the_vendor_log(sandbox: SandboxHandle, store: sa.Engine,
                                                            tmp_path: Path) -> None:
    """The replay never went through our client, so `api_calls` cannot show it: the vendor's log fails
    the check and certify shows, beside it, what our own log alone says."""
    sandbox.settle()
    window = utcnow()
    request = _signed(sandbox, "POST", _collection(sandbox), {"ExternalId": "sign-beside"}, time.time())
    with requests.Session() as session:
        session.send(request)
        session.send(request)
    sandbox.settle()
    cert = certify(store, since=window, sandbox_url=sandbox.base_url)
    sign = next(e for e in cert.evidence if e.id == "AC-SIGN-1")
    assert sign.verdict is Verdict.FAILED and sign.ours is not None
    assert sign.ours.verdict is Verdict.NOT_EXERCISED and "api_calls" in sign.ours.basis
    assert sign in cert.differing()
    markdown = report_module.as_markdown(cert)
    assert "Beside it, from our own `api_calls` alone: **not exercised.**" in markdown
    assert report_module.as_json(cert)["checks"][[e.id for e in cert.evidence].index("AC-SIGN-1")][
        "from_api_calls"]["verdict"] == "not exercised"
    assert "AC-SIGN-1" in (report_module.own_log_summary(cert) or "")

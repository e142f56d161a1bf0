"""The vendor-neutral HTTP client: one `request()` that applies a vendor's policy.

Each attempt is sent once and classified (`_attempt`): refuse if an unresolved block covers
it; wait out any shared pause (vendor-wide after a 429, per service after a 5xx); attach the
shared token (or sign); send with timeouts over a pooled `requests.Session`; log the call
with the policy's verdict. Then the client acts on the verdict (`_act`): return, treat as
absent, pause and retry, re-authenticate once, block and raise, or fail. What a vendor does
differently is its policy's hooks (`refine`, `resends`, `refused_again`, `error`), never a
loop of its own. All waiting (pauses, backoff) is charged to one budget per call
(`DEALER_PIPELINE_HTTP_MAX_WAIT_SECONDS`); a wait that would exceed it fails at once with
`WaitBudgetExceeded` instead of sleeping.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests
import sqlalchemy as sa
from requests.adapters import HTTPAdapter

from dealer_pipeline import progress
from dealer_pipeline.http.auth import RequestSigner, TokenAuth, TokenGrant
from dealer_pipeline.http.blocks import BAD_INPUT, BlockRegistry, is_request_block
from dealer_pipeline.http.calllog import CallLog
from dealer_pipeline.http.errors import (
    AuthFailed,
    BadRequest,
    MalformedResponse,
    UnexpectedStatus,
    VendorBlocked,
    VendorError,
    VendorUnavailable,
    WaitBudgetExceeded,
)
from dealer_pipeline.http.pauses import PauseBoard
from dealer_pipeline.http.policy import Action, VendorPolicy, Verdict
from dealer_pipeline.http.tokens import TokenCache
from dealer_pipeline.store.types import utcnow

#: How stale this process's copy of the shared pauses and blocks may be: one set by another process
#: stops this one's calls within this time plus one query (golive AT-FAIR-429 asks for 0.1 s).
STALENESS_SECONDS = 0.05
log = logging.getLogger(__name__)

#: A response as sent: the response, its text, when it was sent, its perf-counter start, the token carried.
_Sent = tuple[requests.Response, str, datetime, float, TokenGrant | None]
_TRANSPORT_ERRORS = (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)
_BLOCKING = {Action.BLOCK_DEALER, Action.BLOCK_SERVICE, Action.BLOCK_VENDOR, Action.FLAG_BAD_INPUT}


@dataclass(frozen=True)
class VendorResponse:
    status: int
    body: Any                   # the parsed JSON (None for an empty body)
    headers: Mapping[str, str]
    cf_ray: str | None
    absent: bool = False        # the policy said "absent" (404): no resource, not an error
    attempts: int = 1


@dataclass
class WaitBudget:
    """Total seconds one call may spend waiting; exceeding it fails instead of sleeping."""

    limit: float
    vendor: str
    method: str
    path: str
    spent: float = 0.0

    def sleep(self, seconds: float, *, why: str, status: int | None, cf_ray: str | None) -> None:
        if seconds <= 0:
            return
        if self.spent + seconds > self.limit:
            raise WaitBudgetExceeded(
                f"waiting {seconds:.1f}s more ({why}) would exceed the {self.limit:g}s wait budget "
                f"({self.spent:.1f}s already spent)",
                vendor=self.vendor, method=self.method, path=self.path, status=status, cf_ray=cf_ray,
            )
        time.sleep(seconds)
        self.spent += seconds


@dataclass
class _Call:
    """One logical call as it goes through its attempts."""

    method: str
    path: str
    service: str
    logged: str  # the path as logged: secret query values replaced
    params: Mapping[str, Any] | None
    data: Mapping[str, Any] | None
    json_body: Any
    dealer_id: str | None
    authenticated: bool
    expect_json: bool
    budget: WaitBudget
    attempt: int = 0
    reauthed: bool = False
    last_status: int | None = None
    last_ray: str | None = None

    def where(self, **override: Any) -> dict[str, Any]:
        """The context every error of this call carries (vendor, method, logged path, last status, CF-RAY)."""
        return {"vendor": self.budget.vendor, "method": self.method, "path": self.logged,
                "status": self.last_status, "cf_ray": self.last_ray, **override}

    def why(self, why: str) -> dict[str, Any]:
        """Arguments of a wait charged to the budget."""
        return {"why": why, "status": self.last_status, "cf_ray": self.last_ray}


@dataclass(frozen=True)
class _Outcome:
    """One attempt, sent once and classified: the transport error, or the policy's verdict on the response."""

    error: BaseException | None = None
    verdict: Verdict | None = None
    response: requests.Response | None = None
    body: Any = None
    malformed: bool = False  # a 2xx whose body is not JSON
    grant: TokenGrant | None = None  # the token it carried


@dataclass
class ClientStats:
    """What this client did, for Dagster metadata and benchmarks."""

    calls: Counter = field(default_factory=Counter)      # sent requests by service
    token_requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0


class _QueryScrubber(logging.Filter):
    """urllib3 logs request URLs at DEBUG; replace secret query values there too."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, names: frozenset[str]) -> None:
        if names - self.names:
            self.names |= names
            alternatives = "|".join(sorted(re.escape(n) for n in self.names))
            self._pattern = re.compile(rf"([?&](?:{alternatives})=)[^&\s\"']*")

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is not None:
            pattern = self._pattern
            record.msg = pattern.sub(r"\1***", str(record.msg))
            if isinstance(record.args, tuple):
                record.args = tuple(pattern.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        return True


_SCRUBBER = _QueryScrubber()
logging.getLogger("urllib3.connectionpool").addFilter(_SCRUBBER)


def new_session(base_url: str | None = None, pool_size: int = 16) -> requests.Session:
    """A pooled session. With `base_url`, the proxy and CA settings requests would read from
    the environment on every call are resolved once for that host (a measurable share of a
    small call's CPU otherwise)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if base_url:
        resolved = session.merge_environment_settings(base_url, {}, None, None, None)
        session.proxies = resolved["proxies"]
        session.verify = resolved["verify"]
        session.trust_env = False
    return session


class VendorClient:
    """Calls one vendor with one credential; safe to share between threads."""

    def __init__(
        self,
        policy: VendorPolicy,
        *,
        engine: sa.Engine,
        auth: TokenAuth | RequestSigner | None,
        max_wait_seconds: float,
        run_id: str | None = None,
        session: requests.Session | None = None,
        call_log: CallLog | None = None,
        pause_cache_seconds: float = STALENESS_SECONDS,
        block_cache_seconds: float = STALENESS_SECONDS,
        max_in_flight: int = 16,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy
        self.vendor = policy.vendor
        self.engine = engine
        self.auth = auth
        self.max_wait_seconds = max_wait_seconds
        self.run_id = run_id
        self._own_session = session is None
        self.session = session or new_session(policy.base_url, pool_size=max(1, max_in_flight))
        self.call_log = call_log or CallLog(engine)
        self.pauses = PauseBoard(engine, self.vendor, cache_seconds=pause_cache_seconds)
        self.blocks = BlockRegistry(engine, self.vendor, cache_seconds=block_cache_seconds)
        self.tokens = (
            TokenCache(engine, vendor=self.vendor, auth=auth, refresh_margin_seconds=policy.refresh_margin_seconds)
            if isinstance(auth, TokenAuth) else None
        )
        self.stats = ClientStats()
        _SCRUBBER.add(policy.secret_query_params)
        self._rng = rng or random.Random()
        self._stats_lock = threading.Lock()
        self.max_in_flight = max(1, max_in_flight)
        self._in_flight = threading.BoundedSemaphore(self.max_in_flight)

    # ---- lifecycle -----------------------------------------------------------------
    def close(self) -> None:
        self.call_log.flush()
        if self._own_session:
            self.session.close()

    def __enter__(self) -> VendorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the one entry point ----------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        json_body: Any = None,
        dealer_id: str | None = None,
        service: str | None = None,
        authenticated: bool = True,
        expect_json: bool = True,
    ) -> VendorResponse:
        """Send one logical call (retries included) and return its usable response, or raise."""
        service = service if service is not None else self.policy.service_of(path)
        logged = self.policy.redact(path, params)
        call = _Call(method, path, service, logged, params, data, json_body, dealer_id, authenticated, expect_json,
                     WaitBudget(self.max_wait_seconds, self.vendor, method, logged))
        try:
            with self._vendor_errors():
                while True:
                    done = self._act(call, self._attempt(call))
                    if done is not None:
                        return done
        finally:
            with self._stats_lock:
                self.stats.waited_seconds += call.budget.spent

    def current_token(self) -> TokenGrant:
        """The shared token (obtained from the vendor only if no fresh one is cached)."""
        if self.tokens is None:
            raise TypeError(f"{self.vendor} calls are not authorised with a token")
        with self._vendor_errors():
            return self.tokens.current(self._obtain_token)

    def helper(self, policy: VendorPolicy, *, session: requests.Session | None = None) -> VendorClient:
        """An unauthenticated client for a side call (a token grant) that shares this one's store, call
        log, run and wait limit; `session` (e.g. with Basic credentials) defaults to this one's."""
        return VendorClient(policy, engine=self.engine, auth=None, max_wait_seconds=self.max_wait_seconds,
                            run_id=self.run_id, session=session or self.session, call_log=self.call_log)

    # ---- send once and classify -------------------------------------------------------
    def _attempt(self, call: _Call) -> _Outcome:
        """One attempt: sent once (holding an in-flight slot) and classified by the policy; logged.
        A token that went stale while the attempt waited is not sent: the slot is released and the
        attempt starts over (not counted) with a token from `current()`, refreshed outside the slot."""
        call.attempt += 1
        while True:
            grant: TokenGrant | None = None
            if call.authenticated and self.tokens is not None:  # before taking a slot: it may call the vendor
                grant = self.tokens.current(self._obtain_token)
            self._in_flight.acquire()
            try:
                sent = self._send(call, grant)
            finally:
                self._in_flight.release()
            if sent is not None:
                return sent if isinstance(sent, _Outcome) else self._classify(call, *sent)

    def _send(self, call: _Call, grant: TokenGrant | None) -> _Sent | _Outcome | None:
        """Send once no block covers the call and no pause holds it: the response, or the transport error
        (logged); None, unsent, when the waits outlived the token and no process has a newer one yet."""
        block = self.blocks.find(dealer_id=call.dealer_id, service=call.service, method=call.method, path=call.logged)
        if block is not None:
            raise VendorBlocked(f"not sent: block {block.id} ({block.reason}) is unresolved: {block.action}",
                                block_id=block.id, reason=block.reason, action=block.action,
                                **call.where(cf_ray=block.cf_ray))
        self._wait_for_pauses(call)
        headers = {"Accept": "application/json"}
        if grant is not None and self.tokens is not None:
            grant = self.tokens.newest(grant)
            if not self.tokens.usable(grant):
                return None
            self.tokens.auth.authorize(headers, grant.token)
        prepared = self.session.prepare_request(requests.Request(
            call.method, self.policy.url(call.path), params=call.params, data=call.data, json=call.json_body,
            headers=headers))
        if call.authenticated and isinstance(self.auth, RequestSigner):
            self.auth.sign(prepared)
        sent_at, started = utcnow(), time.perf_counter()
        with self._stats_lock:
            self.stats.calls[call.service] += 1
            self.stats.retries += int(call.attempt > 1)
        progress.board.call()
        try:
            response = self.session.send(  # a redirect is never followed: it would carry our credentials
                prepared, timeout=(self.policy.connect_timeout_seconds, self.policy.read_timeout_seconds),
                allow_redirects=False,
            )
            return response, response.text, sent_at, started, grant
        except _TRANSPORT_ERRORS as exc:
            self._log(call, sent_at, started, None, None, f"{type(exc).__name__}: {self._scrub(str(exc), call)}")
            return _Outcome(error=exc)

    def _classify(self, call: _Call, response: requests.Response, text: str, sent_at: datetime, started: float,
                  grant: TokenGrant | None) -> _Outcome:
        """The policy's verdict on a response, its parsed body, and the call logged with both."""
        status = response.status_code
        call.last_status, call.last_ray = status, self.policy.cf_ray(response.headers)
        verdict = self.policy.classify(status, response.headers, text)
        body: Any = None
        malformed = False
        if verdict.action in (Action.OK, Action.ABSENT) and call.expect_json and text.strip():
            try:
                body = json.loads(text)
            except ValueError:
                malformed = verdict.action is Action.OK
        error = "malformed JSON body" if malformed else None
        if verdict.action is not Action.OK:
            error = f"{verdict.action.value}: {verdict.message or 'no message'}"
        self._log(call, sent_at, started, status, call.last_ray, error)
        return _Outcome(verdict=verdict, response=response, body=body, malformed=malformed, grant=grant)

    # ---- act on the verdict -------------------------------------------------------------
    def _act(self, call: _Call, outcome: _Outcome) -> VendorResponse | None:
        """The usable response, None to send again (after any wait), or raise."""
        if outcome.verdict is None:
            self._again_after(call, None, f"no response after {call.attempt} attempts "
                                          f"({type(outcome.error).__name__})", VendorUnavailable)
            call.budget.sleep(self._backoff(call.attempt), **call.why(type(outcome.error).__name__))
            return None
        verdict, response = outcome.verdict, outcome.response
        assert response is not None
        if verdict.action in (Action.OK, Action.ABSENT) and not outcome.malformed:
            return VendorResponse(response.status_code, outcome.body, response.headers, call.last_ray,
                                  absent=verdict.action is Action.ABSENT, attempts=call.attempt)
        if verdict.action is Action.OK:  # a 2xx we cannot read: retry, the body may have been cut short
            self._again_after(call, Action.OK, "response body is not valid JSON", MalformedResponse)
            call.budget.sleep(self._backoff(call.attempt), **call.why("malformed body"))
        elif verdict.action is Action.REAUTH_ONCE:
            self._reauth(call, outcome)
        elif verdict.action in (Action.PAUSE_VENDOR, Action.PAUSE_SERVICE):
            self._pause(call, verdict)
            self._again_after(call, verdict.action, self._still(call), VendorUnavailable, verdict)
        elif verdict.action is Action.RETRY:
            self._again_after(call, Action.RETRY, self._still(call), VendorUnavailable, verdict)
            wait = max(self._backoff(call.attempt), verdict.retry_after or 0.0)
            call.budget.sleep(wait, **call.why(f"backoff after {call.last_status}"))
        else:
            self._refuse(call, verdict)
        return None

    def _again_after(self, call: _Call, action: Action | None, message: str, error: type[VendorError],
                     verdict: Verdict | None = None) -> None:
        """Raise `error` unless the call may be sent again: attempts left and the policy allows re-sending."""
        if call.attempt < self.policy.max_attempts and self.policy.resends(call.method, action):
            return
        raise error(message, **call.where(), **_said(verdict)) from None

    @staticmethod
    def _still(call: _Call) -> str:
        return f"still {call.last_status} after {call.attempt} attempts"

    def _reauth(self, call: _Call, outcome: _Outcome) -> None:
        """A 401: drop the token everywhere (or re-sign) and send once more; a second 401 fails, or blocks
        when the vendor's policy says a refusal of fresh credentials is the dealer's to fix."""
        verdict, grant = outcome.verdict, outcome.grant
        assert verdict is not None
        signs = call.authenticated and isinstance(self.auth, RequestSigner)
        if call.reauthed or (grant is None and not signs):
            again = self.policy.refused_again(verdict) if call.reauthed else None
            if again is not None:
                log.warning("%s refused %s %s for %s with %s after new credentials; %s said: %s", self.vendor,
                            call.method, call.logged, call.dealer_id, call.last_status, self.vendor, verdict.message)
                self._block(call, again, note=" after one new token")
            message = ("a freshly obtained token was refused too (second 401)" if call.reauthed and grant is not None
                       else f"credentials refused: {verdict.message or 'no message'}")
            raise AuthFailed(message, **call.where(), **_said(verdict))
        if grant is not None and self.tokens is not None:
            self.tokens.invalidate(grant)
        call.reauthed = True

    def _refuse(self, call: _Call, verdict: Verdict) -> None:
        if verdict.action in _BLOCKING:
            self._block(call, verdict)
        raise UnexpectedStatus(f"unexpected status: {verdict.message or 'no message'}", **call.where(),
                               **_said(verdict))

    # ---- helpers -----------------------------------------------------------------------
    @contextmanager
    def _vendor_errors(self) -> Iterator[None]:
        """Failures leave as the vendor's own error types (the policy's `error` hook)."""
        try:
            yield
        except VendorError as exc:
            translated = self.policy.error(exc)
            if translated is exc:
                raise
            raise translated from None

    def _obtain_token(self) -> TokenGrant:
        assert isinstance(self.auth, TokenAuth)
        grant = self.auth.obtain(self)
        with self._stats_lock:
            self.stats.token_requests += 1
        return grant

    def _wait_for_pauses(self, call: _Call) -> None:
        while True:
            remaining, scope = self.pauses.remaining(call.service)
            if remaining <= 0:
                return
            call.budget.sleep(remaining + self._rng.uniform(0.0, 0.05), **call.why(f"pause on {scope}"))

    def _pause(self, call: _Call, verdict: Verdict) -> None:
        policy = self.policy
        reason = f"{verdict.reason or ''} on {call.method} {call.logged}"
        if verdict.action is Action.PAUSE_VENDOR:
            seconds = verdict.retry_after if verdict.retry_after is not None else policy.default_429_pause_seconds
            self.pauses.pause(None, seconds, reason=reason, cf_ray=call.last_ray)
        else:
            seconds = max(policy.service_pause_seconds, verdict.retry_after or 0.0, self._backoff(call.attempt))
            self.pauses.pause(call.service, seconds, reason=reason, cf_ray=call.last_ray)

    def _block(self, call: _Call, verdict: Verdict, note: str = "") -> None:
        """Record the block the verdict asks for and raise it (`BadRequest` for flagged input)."""
        action = verdict.action
        reason = BAD_INPUT if action is Action.FLAG_BAD_INPUT else verdict.reason or str(call.last_status)
        block_service = call.service if action is Action.BLOCK_SERVICE or is_request_block(reason) else None
        block_dealer = None if action is Action.BLOCK_VENDOR else call.dealer_id
        what = self.policy.block_action(reason, block_dealer, block_service, verdict.message)
        block = self.blocks.record(reason=reason, dealer_id=block_dealer, service=block_service,
                                   message=verdict.message, action=what, method=call.method, path=call.logged,
                                   cf_ray=call.last_ray)
        said = verdict.message or "no message"
        if action is Action.FLAG_BAD_INPUT:
            raise BadRequest(f"bad input, flagged as block {block.id}: {said}", block_id=block.id,
                             vendor_message=verdict.message or "", **call.where())
        raise VendorBlocked(f"{reason}{note}: {said}; block {block.id}: {what}", block_id=block.id, reason=reason,
                            action=what, **call.where(), **_said(verdict))

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: base * 2^(attempt-1), capped, times U(0.5, 1)."""
        policy = self.policy
        ceiling = min(policy.backoff_cap_seconds, policy.backoff_base_seconds * 2 ** (attempt - 1))
        return ceiling * self._rng.uniform(0.5, 1.0)

    def _scrub(self, text: str, call: _Call) -> str:
        for name in self.policy.secret_query_params:
            value = (call.params or {}).get(name)
            if value:
                text = text.replace(str(value), "***")
        return re.sub(r"\s+", " ", text)[:300]

    def _log(self, call: _Call, sent_at: datetime, started: float, status: int | None, cf_ray: str | None,
             error: str | None) -> None:
        self.call_log.record(
            ts=sent_at, vendor=self.vendor, service=call.service, method=call.method, path=call.logged,
            status=status, duration_ms=int((time.perf_counter() - started) * 1000), cf_ray=cf_ray,
            dealer_id=call.dealer_id, attempt=call.attempt, error=error, run_id=self.run_id,
        )


def _said(verdict: Verdict | None) -> dict[str, Any]:
    """What the vendor said, as carried beside an error's message."""
    return {} if verdict is None else {"vendor_message": verdict.message, "details": verdict.details}

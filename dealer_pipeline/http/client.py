"""The vendor-neutral HTTP client: one `request()` that applies a vendor's policy.

Per call, in order: refuse if an unresolved block covers it; wait out any shared pause
(vendor-wide after a 429, per service after a 5xx); attach the shared token (or sign);
send with timeouts over a pooled `requests.Session`; log the call; then act on the
policy's verdict: return, treat as absent, pause and retry, re-authenticate once, block
and raise, or fail. All waiting (pauses, backoff) is charged to one budget per call
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
from collections.abc import Mapping
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
#: One attempt's outcome: the response, its text, when it was sent, its perf-counter start, the token carried.
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
        self._in_flight = threading.BoundedSemaphore(max(1, max_in_flight))

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
        policy = self.policy
        service = service if service is not None else policy.service_of(path)
        logged = policy.redact(path, params)
        budget = WaitBudget(self.max_wait_seconds, self.vendor, method, logged)
        reauthed = False
        last_status: int | None = None
        last_ray: str | None = None
        attempt = 0
        try:
            while True:
                attempt += 1
                grant: TokenGrant | None = None
                if authenticated and self.tokens is not None:  # before taking a slot: it may call the vendor
                    grant = self.tokens.current(self._obtain_token)
                self._in_flight.acquire()
                try:
                    sent = self._send(method, path, service, logged, params, data, json_body, dealer_id,
                                      authenticated, grant, attempt, budget, last_status, last_ray)
                finally:
                    self._in_flight.release()
                if isinstance(sent, BaseException):
                    if attempt >= policy.max_attempts:
                        raise VendorUnavailable(
                            f"no response after {attempt} attempts ({type(sent).__name__})", vendor=self.vendor,
                            method=method, path=logged, status=last_status, cf_ray=last_ray,
                        ) from None
                    budget.sleep(self._backoff(attempt), why=type(sent).__name__, status=last_status, cf_ray=last_ray)
                    continue
                response, text, sent_at, started, grant = sent

                status = response.status_code
                cf_ray = policy.cf_ray(response.headers)
                last_status, last_ray = status, cf_ray
                verdict = policy.classify(status, response.headers, text)
                body: Any = None
                error: str | None = None
                if verdict.action in (Action.OK, Action.ABSENT) and expect_json and text.strip():
                    try:
                        body = json.loads(text)
                    except ValueError:
                        if verdict.action is Action.OK:
                            error = "malformed JSON body"
                if verdict.action is not Action.OK:
                    error = f"{verdict.action.value}: {verdict.message or 'no message'}"
                self._log(sent_at, started, service, method, logged, status, cf_ray, dealer_id, attempt, error)

                action = verdict.action
                if action is Action.OK and error is None:
                    return VendorResponse(status, body, response.headers, cf_ray, attempts=attempt)
                if action is Action.ABSENT:
                    return VendorResponse(status, body, response.headers, cf_ray, absent=True, attempts=attempt)
                if action is Action.OK:  # a 2xx we cannot read: retry, the body may have been cut short
                    if attempt >= policy.max_attempts:
                        raise MalformedResponse("response body is not valid JSON", vendor=self.vendor,
                                                method=method, path=logged, status=status, cf_ray=cf_ray)
                    budget.sleep(self._backoff(attempt), why="malformed body", status=status, cf_ray=cf_ray)
                    continue
                said = dict(vendor_message=verdict.message, details=verdict.details)
                if action is Action.REAUTH_ONCE:
                    if grant is None or self.tokens is None:
                        raise AuthFailed(f"credentials refused: {verdict.message or 'no message'}",
                                         vendor=self.vendor, method=method, path=logged, status=status,
                                         cf_ray=cf_ray, **said)
                    if reauthed:
                        raise AuthFailed("a freshly obtained token was refused too (second 401)",
                                         vendor=self.vendor, method=method, path=logged, status=status,
                                         cf_ray=cf_ray, **said)
                    self.tokens.invalidate(grant)
                    reauthed = True
                    continue
                if action in (Action.PAUSE_VENDOR, Action.PAUSE_SERVICE):
                    self._pause(verdict, service, method, logged, attempt, cf_ray)
                    if attempt >= policy.max_attempts:
                        raise VendorUnavailable(f"still {status} after {attempt} attempts", vendor=self.vendor,
                                                method=method, path=logged, status=status, cf_ray=cf_ray, **said)
                    continue
                if action is Action.RETRY:
                    if attempt >= policy.max_attempts:
                        raise VendorUnavailable(f"still {status} after {attempt} attempts", vendor=self.vendor,
                                                method=method, path=logged, status=status, cf_ray=cf_ray, **said)
                    wait = max(self._backoff(attempt), verdict.retry_after or 0.0)
                    budget.sleep(wait, why=f"backoff after {status}", status=status, cf_ray=cf_ray)
                    continue
                if action in _BLOCKING:
                    self._block(verdict, action, dealer_id, service, method, logged, status, cf_ray)
                raise UnexpectedStatus(f"unexpected status: {verdict.message or 'no message'}", vendor=self.vendor,
                                       method=method, path=logged, status=status, cf_ray=cf_ray, **said)
        finally:
            with self._stats_lock:
                self.stats.waited_seconds += budget.spent

    def _send(self, method: str, path: str, service: str, logged: str, params: Mapping[str, Any] | None,
              data: Mapping[str, Any] | None, json_body: Any, dealer_id: str | None, authenticated: bool,
              grant: TokenGrant | None, attempt: int, budget: WaitBudget, last_status: int | None,
              last_ray: str | None) -> _Sent | BaseException:
        """Send one attempt once no block covers it and no pause holds it: the response, its text and
        the token it carried, or the transport error (logged). Runs holding one of the client's
        in-flight slots; the token is the newest by then (a wait may have outlived the one given)."""
        block = self.blocks.find(dealer_id=dealer_id, service=service, method=method, path=logged)
        if block is not None:
            raise VendorBlocked(
                f"not sent: block {block.id} ({block.reason}) is unresolved: {block.action}",
                block_id=block.id, reason=block.reason, action=block.action, vendor=self.vendor,
                method=method, path=logged, status=last_status, cf_ray=block.cf_ray,
            )
        self._wait_for_pauses(service, budget, last_status, last_ray)
        headers = {"Accept": "application/json"}
        if grant is not None and self.tokens is not None:
            grant = self.tokens.newest(grant)
            self.tokens.auth.authorize(headers, grant.token)
        prepared = self.session.prepare_request(
            requests.Request(method, self.policy.url(path), params=params, data=data, json=json_body,
                             headers=headers)
        )
        if authenticated and isinstance(self.auth, RequestSigner):
            self.auth.sign(prepared)
        sent_at = utcnow()
        started = time.perf_counter()
        with self._stats_lock:
            self.stats.calls[service] += 1
            if attempt > 1:
                self.stats.retries += 1
        progress.board.call()
        try:
            response = self.session.send(  # a redirect is never followed: it would carry our credentials
                prepared, timeout=(self.policy.connect_timeout_seconds, self.policy.read_timeout_seconds),
                allow_redirects=False,
            )
            return response, response.text, sent_at, started, grant
        except _TRANSPORT_ERRORS as exc:
            error = f"{type(exc).__name__}: {self._scrub(str(exc), params)}"
            self._log(sent_at, started, service, method, logged, None, None, dealer_id, attempt, error)
            return exc

    def current_token(self) -> TokenGrant:
        """The shared token (obtained from the vendor only if no fresh one is cached)."""
        if self.tokens is None:
            raise TypeError(f"{self.vendor} calls are not authorised with a token")
        return self.tokens.current(self._obtain_token)

    # ---- helpers -----------------------------------------------------------------------
    def _obtain_token(self) -> TokenGrant:
        assert isinstance(self.auth, TokenAuth)
        grant = self.auth.obtain(self)
        with self._stats_lock:
            self.stats.token_requests += 1
        return grant

    def _wait_for_pauses(self, service: str, budget: WaitBudget, status: int | None, cf_ray: str | None) -> None:
        while True:
            remaining, scope = self.pauses.remaining(service)
            if remaining <= 0:
                return
            budget.sleep(remaining + self._rng.uniform(0.0, 0.05), why=f"pause on {scope}", status=status,
                         cf_ray=cf_ray)

    def _pause(self, verdict: Verdict, service: str, method: str, path: str, attempt: int,
               cf_ray: str | None) -> None:
        policy = self.policy
        status = verdict.reason or ""
        if verdict.action is Action.PAUSE_VENDOR:
            seconds = verdict.retry_after if verdict.retry_after is not None else policy.default_429_pause_seconds
            self.pauses.pause(None, seconds, reason=f"{status} on {method} {path}", cf_ray=cf_ray)
        else:
            seconds = max(policy.service_pause_seconds, verdict.retry_after or 0.0, self._backoff(attempt))
            self.pauses.pause(service, seconds, reason=f"{status} on {method} {path}", cf_ray=cf_ray)

    def _block(self, verdict: Verdict, action: Action, dealer_id: str | None, service: str, method: str,
               path: str, status: int, cf_ray: str | None) -> None:
        reason = verdict.reason or str(status)
        if action is Action.FLAG_BAD_INPUT:
            reason = BAD_INPUT  # request-scoped, whatever status the vendor used (400, 422)
        block_service = service if action is Action.BLOCK_SERVICE or is_request_block(reason) else None
        block_dealer = None if action is Action.BLOCK_VENDOR else dealer_id
        what = self.policy.block_action(reason, block_dealer, block_service, verdict.message)
        block = self.blocks.record(reason=reason, dealer_id=block_dealer, service=block_service,
                                   message=verdict.message, action=what, method=method, path=path, cf_ray=cf_ray)
        if action is Action.FLAG_BAD_INPUT:
            raise BadRequest(f"bad input, flagged as block {block.id}: {verdict.message or 'no message'}",
                             block_id=block.id, vendor_message=verdict.message or "", vendor=self.vendor,
                             method=method, path=path, status=status, cf_ray=cf_ray)
        raise VendorBlocked(f"{reason}: {verdict.message or 'no message'}; block {block.id}: {what}",
                            block_id=block.id, reason=reason, action=what, vendor=self.vendor, method=method,
                            path=path, status=status, cf_ray=cf_ray, vendor_message=verdict.message,
                            details=verdict.details)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: base * 2^(attempt-1), capped, times U(0.5, 1)."""
        policy = self.policy
        ceiling = min(policy.backoff_cap_seconds, policy.backoff_base_seconds * 2 ** (attempt - 1))
        return ceiling * self._rng.uniform(0.5, 1.0)

    def _scrub(self, text: str, params: Mapping[str, Any] | None) -> str:
        for name in self.policy.secret_query_params:
            value = (params or {}).get(name)
            if value:
                text = text.replace(str(value), "***")
        return re.sub(r"\s+", " ", text)[:300]

    def _log(self, sent_at: datetime, started: float, service: str, method: str, path: str, status: int | None,
             cf_ray: str | None, dealer_id: str | None, attempt: int, error: str | None) -> None:
        self.call_log.record(
            ts=sent_at, vendor=self.vendor, service=service, method=method, path=path, status=status,
            duration_ms=int((time.perf_counter() - started) * 1000), cf_ray=cf_ray, dealer_id=dealer_id,
            attempt=attempt, error=error, run_id=self.run_id,
        )

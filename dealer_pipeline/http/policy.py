"""What a vendor's responses mean: the status -> action table and the per-vendor knobs.

The client (`client.py`) is vendor-neutral; everything a vendor does differently lives in
a `VendorPolicy` subclass: which statuses are retried, paused, blocked or treated as
absent, how a path maps to a service, which query parameters are secrets, how a 403 body
tells its kind (`refine`), which calls may be sent again (`resends`), what a refusal of fresh
credentials means (`refused_again`), the vendor's own error types (`error`), and what an
operator should do about a block.
"""

from __future__ import annotations

import email.utils
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from urllib.parse import urlencode, urlsplit

from dealer_pipeline.http.blocks import is_request_block
from dealer_pipeline.http.errors import VendorError


class Action(str, Enum):
    OK = "ok"
    ABSENT = "absent"                  # 404: the resource is not there; not an error
    RETRY = "retry"                    # backoff and try again (this call only)
    PAUSE_VENDOR = "pause_vendor"      # 429: every process stops calling the vendor for a while
    PAUSE_SERVICE = "pause_service"    # 500/503/504: every process stops calling that service for a while
    REAUTH_ONCE = "reauth_once"        # 401: drop the token everywhere, get a new one, retry once
    BLOCK_DEALER = "block_dealer"      # 403 kind A: nothing more for that dealer until resolved
    BLOCK_SERVICE = "block_service"    # 403 kind B: nothing more on that service for that dealer
    BLOCK_VENDOR = "block_vendor"      # the whole integration is refused (e.g. disabled by the vendor)
    FLAG_BAD_INPUT = "flag_bad_input"  # 400/422: never retried; that request is blocked with the vendor's message
    FAIL = "fail"                      # anything else: fail clearly


#: The default table; vendors override entries (e.g. Autotrader refines 403 by its body).
DEFAULT_STATUS_TABLE: Mapping[int, Action] = {
    400: Action.FLAG_BAD_INPUT,
    401: Action.REAUTH_ONCE,
    403: Action.BLOCK_DEALER,
    404: Action.ABSENT,
    408: Action.RETRY,
    409: Action.FAIL,
    422: Action.FLAG_BAD_INPUT,
    429: Action.PAUSE_VENDOR,
    500: Action.PAUSE_SERVICE,
    502: Action.RETRY,
    503: Action.PAUSE_SERVICE,
    504: Action.PAUSE_SERVICE,
}


def status_table(changes: Mapping[int, Action], *, without: tuple[int, ...] = ()) -> dict[int, Action]:
    """The default table with one vendor's differences (`without`: statuses it leaves to the fallback:
    a 5xx is retried, anything else fails)."""
    table = {status: action for status, action in DEFAULT_STATUS_TABLE.items() if status not in without}
    return {**table, **changes}


@dataclass(frozen=True)
class Verdict:
    """The policy's reading of one response."""

    action: Action
    reason: str | None = None           # block reason as stored in api_blocks: 403A, 403B, 400, ...
    message: str | None = None          # the vendor's own message, when the body has one
    retry_after: float | None = None    # seconds, from Retry-After
    details: Any = None                 # what a vendor's `refine` read from the body (e.g. field errors)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


#: Policy fields about transport etiquette (not about what a vendor's statuses mean).
TRANSPORT_FIELDS = ("max_attempts", "backoff_base_seconds", "backoff_cap_seconds", "service_pause_seconds",
                    "default_429_pause_seconds", "connect_timeout_seconds", "read_timeout_seconds")


@dataclass
class VendorPolicy:
    """Vendor-neutral defaults; subclass per vendor and override what differs."""

    vendor: str
    base_url: str
    status_table: Mapping[int, Action] = field(default_factory=lambda: dict(DEFAULT_STATUS_TABLE))
    max_attempts: int = 5
    backoff_base_seconds: float = 0.5
    backoff_cap_seconds: float = 30.0
    service_pause_seconds: float = 2.0
    default_429_pause_seconds: float = 30.0
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 60.0
    refresh_margin_seconds: float = 60.0
    secret_query_params: frozenset[str] = frozenset()

    def transport_knobs(self) -> dict[str, Any]:
        """Retry, pause and timeout settings, for a helper client (e.g. a token grant) that must
        behave like this one."""
        return {name: getattr(self, name) for name in TRANSPORT_FIELDS}

    # ---- paths -----------------------------------------------------------------
    def url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"

    def service_of(self, path: str) -> str:
        """The service a path belongs to (pauses and 403 B blocks are per service)."""
        segments = [s for s in path.split("?", 1)[0].split("/") if s]
        return segments[0] if segments else ""

    def redact(self, path: str, params: Mapping[str, Any] | None) -> str:
        """Path and query as logged: secret query parameters replaced, never the value."""
        if not params:
            return path
        safe = [(k, "***" if k in self.secret_query_params else v) for k, v in params.items() if v is not None]
        return f"{path}?{urlencode(safe, doseq=True)}" if safe else path

    # ---- responses -------------------------------------------------------------
    def classify(self, status: int, headers: Mapping[str, str], body: str) -> Verdict:
        if 200 <= status < 300:
            return Verdict(Action.OK)
        if 300 <= status < 400:  # not followed: keys, secrets and tokens go to the base URL only
            target = urlsplit(headers.get("Location") or "").hostname or "the same host"
            return Verdict(Action.FAIL, reason=str(status),
                           message=f"redirect ({status}) to {target} not followed: credentials are never re-sent")
        action = self.status_table.get(status)
        if action is None:
            action = Action.RETRY if status >= 500 else Action.FAIL
        verdict = Verdict(
            action,
            reason=str(status),
            message=self.vendor_message(body),
            retry_after=parse_retry_after(headers.get("Retry-After")),
        )
        return self.refine(verdict, status, body)

    def refine(self, verdict: Verdict, status: int, body: str) -> Verdict:
        """Hook for vendors whose body changes the action (Autotrader's 403 kinds)."""
        return verdict

    def resends(self, method: str, action: Action | None) -> bool:
        """Whether a call answered with `action` (None: no response at all) may be sent again while
        attempts are left. Hook for calls the vendor may already have acted on (a created lead)."""
        return True

    def refused_again(self, verdict: Verdict) -> Verdict | None:
        """What a 401 to freshly obtained credentials means. None: ours are wrong (`AuthFailed`); a
        blocking verdict: the cause is the dealer's to fix, so the client records that block."""
        return None

    def error(self, exc: VendorError) -> VendorError:
        """The vendor's own error type for a failure leaving the client (e.g. rejected input)."""
        return exc

    def vendor_message(self, body: str) -> str | None:
        """The human message in an error body: `message`, or `warnings[].message` joined."""
        try:
            doc = json.loads(body) if body else None
        except ValueError:
            text = body.strip()
            return text[:500] or None
        if isinstance(doc, dict):
            warnings = doc.get("warnings") or doc.get("errors")
            if isinstance(warnings, list):
                parts = [str(w.get("message")) for w in warnings if isinstance(w, dict) and w.get("message")]
                if parts:
                    return "; ".join(parts)[:500]
            for key in ("message", "Message", "error_description", "error"):
                if isinstance(doc.get(key), str):
                    return doc[key][:500]
        return None

    def cf_ray(self, headers: Mapping[str, str]) -> str | None:
        return headers.get("CF-RAY") or headers.get("cf-ray")

    # ---- operator actions --------------------------------------------------------
    def block_action(self, reason: str, dealer_id: str | None, service: str | None, message: str | None) -> str:
        """What a person should do about a block, stored beside it in `api_blocks`."""
        who = f"dealer {dealer_id}" if dealer_id else "the integration"
        if is_request_block(reason):
            return f"fix the input of this request for {who}, then resolve the block; {self.vendor} said: {message}"
        scope = f"service {service}" if service else "every service"
        return f"contact {self.vendor} about {who} ({scope}); then resolve the block"


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A configurable message pattern: a regular expression, matched case-insensitively."""
    return re.compile(pattern, re.IGNORECASE)

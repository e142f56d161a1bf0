"""Mutable state the simulated vendors share: configuration, tokens, call log, faults,
outgoing deliveries and background work.

Vendor modules receive one `SandboxRuntime` in `build_vendor_app(world, runtime)`. They issue
and check tokens through `runtime.tokens` (so the `expire_token` fault and token lifetimes work
the same for every vendor), deliver notifications with `runtime.deliver(...)` (recorded in
`runtime.deliveries`, visible at `/_sandbox/deliveries`), schedule work that must outlive a
request with `runtime.spawn(...)` (awaited by `/_sandbox/settle`), and may register how
their errors look (`error_renderers`) and which dealer a request concerns (`dealer_resolvers`)
so scripted faults answer in the vendor's own format and can target one dealer.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any, Awaitable, Callable, Mapping

import httpx

from dealer_pipeline.sandbox.calllog import CallLog
from dealer_pipeline.sandbox.faults import FaultRule, FaultTable

#: Credentials the sandbox accepts unless overridden; they equal the pipeline's defaults.
DEFAULT_CREDENTIALS: dict[str, str] = {
    "autotrader_key": "sandbox-at-key",
    "autotrader_secret": "sandbox-at-secret",
    "autotrader_webhook_secret": "sandbox-at-webhook-secret",
    "webmotors_client_id": "sandbox-wm-client",
    "webmotors_client_secret": "sandbox-wm-secret",
    "webmotors_leads_token": "sandbox-wm-leads-token",
    "autocosmos_app_key": "sandbox-ac-app-key",
    "autocosmos_app_secret": "sandbox-ac-app-secret",
    "autocosmos_webhook_secret": "sandbox-ac-webhook-secret-0001",
    "autochat_client_id": "sandbox-ach-client",
    "autochat_client_secret": "sandbox-ach-secret",
}

#: Environment variables of the sandbox process that override `DEFAULT_CREDENTIALS`.
CREDENTIAL_ENV = {name: f"SANDBOX_{name.upper()}" for name in DEFAULT_CREDENTIALS}

#: Vendor token lifetimes in seconds (api/*.md): Autotrader 15 min, Webmotors 1 h, Autochat 24 h.
DEFAULT_TOKEN_TTL = {"autotrader": 900.0, "webmotors": 3600.0, "autochat": 86400.0}

#: Receiver routes of interface.md, relative to the receiver base URL.
RECEIVER_PATHS = {
    "autotrader": "/webhooks/autotrader",
    "autocosmos": "/webhooks/autocosmos",
    "webmotors": "/webhooks/webmotors/leads",
}


class ConfigError(ValueError):
    """A configuration change names an unknown setting or a bad value."""


@dataclass
class SandboxConfig:
    """Settings tests change at run time through `POST /_sandbox/config`."""

    credentials: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CREDENTIALS))
    token_ttl: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TOKEN_TTL))
    #: Receiver base URL; each vendor's notification URL is this plus `RECEIVER_PATHS[vendor]`.
    receiver_url: str | None = None
    #: Per-vendor full URLs that override the derived ones.
    notification_urls: dict[str, str] = field(default_factory=dict)
    #: Autotrader delivers once (api/autotrader.md 2.6); tests may enable re-sends on non-2xx.
    autotrader_notification_retries: int = 0
    autotrader_notification_retry_interval: float = 1.0
    #: Webmotors re-sends a lead notice that got no 2xx up to 3 times, every 30 min by default.
    webmotors_lead_retries: int = 3
    webmotors_lead_retry_interval: float = 1800.0
    delivery_timeout: float = 10.0
    #: Base of every URL the sandbox writes into records (image hrefs, photos).
    public_url: str = "http://127.0.0.1:8765"
    #: Anything a vendor module wants configurable without a field here.
    extra: dict[str, Any] = field(default_factory=dict)

    def credential(self, name: str) -> str:
        return self.credentials[name]

    def ttl(self, vendor: str) -> float:
        return float(self.token_ttl.get(vendor, 3600.0))

    def notification_url(self, vendor: str) -> str | None:
        """Where `vendor`'s notifications go, or None when no receiver is registered."""
        if vendor in self.notification_urls:
            return self.notification_urls[vendor]
        if self.receiver_url and vendor in RECEIVER_PATHS:
            return self.receiver_url.rstrip("/") + RECEIVER_PATHS[vendor]
        return None

    def public(self) -> dict[str, Any]:
        """The configuration as JSON, secrets replaced by their length (never echoed)."""
        shown: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "credentials":
                value = {k: (v if not _is_secret(k) else f"<{len(v)} chars>") for k, v in value.items()}
            shown[item.name] = value
        shown["resolved_notification_urls"] = {v: self.notification_url(v) for v in RECEIVER_PATHS}
        return shown

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply a partial change; dict-valued settings are merged, others replaced."""
        known = {item.name: item for item in fields(self)}
        for key, value in changes.items():
            if key not in known:
                raise ConfigError(f"unknown setting {key!r}; known: {sorted(known)}")
            current = getattr(self, key)
            if key == "token_ttl" and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = {vendor: float(value) for vendor in current}
            if isinstance(current, dict):
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{key} takes an object")
                if key == "credentials":
                    unknown = set(value) - set(DEFAULT_CREDENTIALS)
                    if unknown:
                        raise ConfigError(f"unknown credentials {sorted(unknown)}")
                if key == "token_ttl":
                    value = {k: _positive(f"token_ttl.{k}", v) for k, v in value.items()}
                merged = dict(current)
                merged.update(value)
                setattr(self, key, merged)
            elif key in ("autotrader_notification_retries", "webmotors_lead_retries"):
                if not isinstance(value, int) or value < 0:
                    raise ConfigError(f"{key} must be a whole number >= 0")
                setattr(self, key, value)
            elif key in ("autotrader_notification_retry_interval", "webmotors_lead_retry_interval",
                         "delivery_timeout"):
                setattr(self, key, _positive(key, value))
            elif key in ("receiver_url", "public_url"):
                if value is not None and not (isinstance(value, str) and value.startswith(("http://", "https://"))):
                    raise ConfigError(f"{key} must be an http(s) URL or null")
                setattr(self, key, value.rstrip("/") if value else value)
            else:
                setattr(self, key, value)


def _is_secret(name: str) -> bool:
    return name.endswith(("secret", "token")) and name != "webmotors_client_id"


def _positive(name: str, value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{name} must be a number > 0")
    return float(value)


@dataclass
class IssuedToken:
    vendor: str
    token: str
    subject: dict[str, Any]
    issued_at: float
    expires_at: float

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at


class TokenStore:
    """Opaque bearer tokens per vendor, with lifetimes and forced expiry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], IssuedToken] = {}
        self._issued: dict[str, int] = {}

    def issue(self, vendor: str, subject: Mapping[str, Any], ttl: float, *, value: str | None = None) -> IssuedToken:
        """A new token (`value`, or 96 random URL-safe characters) valid for `ttl` seconds."""
        now = time.time()
        issued = IssuedToken(vendor, value or secrets.token_urlsafe(72), dict(subject), now, now + ttl)
        with self._lock:
            self._tokens[(vendor, issued.token)] = issued
            self._issued[vendor] = self._issued.get(vendor, 0) + 1
            if len(self._tokens) > 100_000:  # drop long-expired tokens
                self._tokens = {k: t for k, t in self._tokens.items() if t.expires_at > now - 3600}
        return issued

    def lookup(self, vendor: str, token: str | None) -> IssuedToken | None:
        """The token as issued (possibly expired), or None if this vendor never issued it."""
        if not token:
            return None
        with self._lock:
            return self._tokens.get((vendor, token))

    def valid(self, vendor: str, token: str | None) -> IssuedToken | None:
        issued = self.lookup(vendor, token)
        return issued if issued is not None and not issued.expired else None

    def expire(self, vendor: str, token: str | None = None) -> int:
        """Expire one token, or every token of `vendor` when none is given; returns how many."""
        now = time.time()
        count = 0
        with self._lock:
            for (v, value), issued in self._tokens.items():
                if v == vendor and (token is None or value == token) and issued.expires_at > now:
                    issued.expires_at = now
                    count += 1
        return count

    def issued_count(self) -> dict[str, int]:
        with self._lock:
            return dict(self._issued)


class DeliveryLog:
    """Every outgoing notification attempt (receiver status or error), for tests to read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []
        self._seq = itertools.count(1)

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            record["seq"] = next(self._seq)
            self._records.append(record)
        return record

    def records(self, *, vendor: str | None = None, since: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self._records
                    if (vendor is None or r["vendor"] == vendor) and (since is None or r["seq"] > since)]

    def clear(self) -> None:
        with self._lock:
            self._records = []


ErrorRenderer = Callable[[int, "FaultRule | None", Mapping[str, Any]], tuple[bytes, str]]
DealerResolver = Callable[[Mapping[str, Any]], "set[str]"]


class SandboxRuntime:
    """One per sandbox process; see the module docstring for what vendors use it for."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.calls = CallLog()
        self.faults = FaultTable()
        self.tokens = TokenStore()
        self.deliveries = DeliveryLog()
        self.http: httpx.AsyncClient | None = None
        #: vendor -> fn(status, rule, request_facts) -> (body bytes, content type) for scripted errors.
        self.error_renderers: dict[str, ErrorRenderer] = {}
        #: vendor -> fn(scope-like dict with headers/query/path) -> identifiers of the dealer concerned.
        self.dealer_resolvers: dict[str, DealerResolver] = {}
        #: Free-form per-vendor state (e.g. Webmotors leads, Autocosmos publications).
        self.state: dict[str, Any] = {}
        self._tasks: set[asyncio.Task] = set()

    # -- background work -------------------------------------------------------------------
    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task:
        """Run `coro` after the current request; `settle()` waits for it."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def settle(self, timeout: float = 30.0) -> bool:
        """Wait until no background work is pending (including work spawned meanwhile)."""
        deadline = time.monotonic() + timeout
        while self._tasks:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=remaining)
        return True

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def start(self) -> None:
        if self.http is None:
            self.http = httpx.AsyncClient(timeout=self.config.delivery_timeout, follow_redirects=False)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.http is not None:
            await self.http.aclose()
            self.http = None

    # -- outgoing notifications ------------------------------------------------------------
    async def deliver(self, vendor: str, method: str, url: str, headers: Mapping[str, str], body: bytes,
                      *, event: str | None = None, attempt: int = 1) -> dict[str, Any]:
        """Send one notification; returns (and records) {status | error, duration_ms}."""
        await self.start()
        assert self.http is not None
        started = time.perf_counter()
        record: dict[str, Any] = {"vendor": vendor, "event": event, "method": method, "url": _redact_url(url),
                                  "attempt": attempt, "ts": round(time.time(), 6)}
        try:
            response = await self.http.request(method, url, headers=dict(headers), content=body,
                                               timeout=self.config.delivery_timeout)
            record["status"] = response.status_code
        except httpx.HTTPError as exc:
            record["status"] = None
            record["error"] = f"{type(exc).__name__}: {exc}"
        record["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
        return self.deliveries.append(record)


def _redact_url(url: str) -> str:
    """Hide the value of a `token` query parameter (the Webmotors lead callback secret)."""
    if "token=" not in url:
        return url
    head, _, query = url.partition("?")
    parts = [p if not p.startswith("token=") else "token=***" for p in query.split("&")]
    return head + "?" + "&".join(parts)


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON, as the vendors send it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

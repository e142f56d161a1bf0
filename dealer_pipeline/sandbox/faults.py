"""Scripted faults: make a vendor misbehave on chosen calls, the way real ones do.

A rule matches by vendor, optional method, a vendor-relative path prefix, optional query
values and an optional dealer (Autotrader `advertiserId`, or the dealer a vendor resolves
from the request), and fires for `times` matching calls (after letting `skip` through).
What it does: answer a status (with the vendor's error body, `Retry-After` if asked, 403 of
kind A or B for Autotrader), wait `delay_seconds` first, reset the connection, answer 200
with a broken JSON body, or expire the presented token so the call meets a real 401.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

VENDORS = ("autotrader", "webmotors", "autocosmos", "autochat", "media")
_FIELDS = {
    "vendor", "path", "method", "query", "advertiser_id", "dealer", "status", "kind", "product", "retry_after",
    "delay_seconds", "reset", "malformed_json", "expire_token", "body", "headers", "times", "skip",
}


class FaultError(ValueError):
    """A rule that cannot be applied; the message says which field is wrong."""


@dataclass
class FaultRule:
    vendor: str
    path: str = ""
    method: str | None = None
    query: dict[str, str] = field(default_factory=dict)
    advertiser_id: str | None = None
    dealer: str | None = None
    status: int | None = None
    kind: str | None = None
    product: str | None = None
    retry_after: float | None = None
    delay_seconds: float = 0.0
    reset: bool = False
    malformed_json: bool = False
    expire_token: bool = False
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = 1
    skip: int = 0
    id: int = 0
    fired: int = 0

    def describe(self) -> str:
        """Short text for the call log: what the rule did."""
        parts = []
        if self.delay_seconds:
            parts.append(f"delay {self.delay_seconds:g}s")
        if self.expire_token:
            parts.append("expire_token")
        if self.reset:
            parts.append("reset")
        elif self.malformed_json:
            parts.append("malformed_json")
        elif self.status is not None:
            parts.append(f"status {self.status}{self.kind or ''}")
        return f"fault#{self.id} " + ", ".join(parts)

    def public(self) -> dict[str, Any]:
        return asdict(self)


def parse_rule(raw: Mapping[str, Any]) -> FaultRule:
    """Validate a rule as posted to `/_sandbox/faults`."""
    if not isinstance(raw, Mapping):
        raise FaultError("a fault rule must be a JSON object")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise FaultError(f"unknown fault fields: {sorted(unknown)}")
    vendor = raw.get("vendor")
    if vendor not in VENDORS:
        raise FaultError(f"vendor must be one of {list(VENDORS)}, got {vendor!r}")
    rule = FaultRule(vendor=vendor)
    path = raw.get("path", "")
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise FaultError("path must be a vendor-relative prefix starting with '/'")
    rule.path = path
    if raw.get("method") is not None:
        rule.method = str(raw["method"]).upper()
    query = raw.get("query") or {}
    if not isinstance(query, Mapping):
        raise FaultError("query must be an object of parameter -> value")
    rule.query = {str(k): str(v) for k, v in query.items()}
    for key in ("advertiser_id", "dealer", "product"):
        if raw.get(key) is not None:
            setattr(rule, key, str(raw[key]))
    status = raw.get("status")
    if status is not None:
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise FaultError(f"status must be an HTTP error code 400-599, got {status!r}")
        rule.status = status
    kind = raw.get("kind")
    if kind is not None:
        if kind not in ("A", "B") or rule.status != 403:
            raise FaultError("kind is 'A' or 'B' and only with status 403")
        rule.kind = kind
    elif rule.status == 403 and vendor == "autotrader":
        rule.kind = "A"
    for key in ("retry_after", "delay_seconds"):
        value = raw.get(key)
        if value is not None:
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise FaultError(f"{key} must be a number >= 0")
            setattr(rule, key, value)
    for key in ("reset", "malformed_json", "expire_token"):
        value = raw.get(key, False)
        if not isinstance(value, bool):
            raise FaultError(f"{key} must be true or false")
        setattr(rule, key, value)
    rule.body = raw.get("body")
    headers = raw.get("headers") or {}
    if not isinstance(headers, Mapping):
        raise FaultError("headers must be an object")
    rule.headers = {str(k): str(v) for k, v in headers.items()}
    times = raw.get("times", 1)
    if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
        raise FaultError("times must be a whole number >= 1, or null for every matching call")
    rule.times = times
    skip = raw.get("skip", 0)
    if not isinstance(skip, int) or skip < 0:
        raise FaultError("skip must be a whole number >= 0")
    rule.skip = skip
    effects = [rule.status is not None, rule.reset, rule.malformed_json, rule.expire_token, rule.delay_seconds > 0]
    if not any(effects):
        raise FaultError("a rule needs an effect: status, delay_seconds, reset, malformed_json or expire_token")
    if sum([rule.status is not None, rule.reset, rule.malformed_json]) > 1:
        raise FaultError("status, reset and malformed_json exclude each other")
    return rule


@dataclass(frozen=True)
class RequestFacts:
    """What a rule can match on."""

    vendor: str
    method: str
    path: str
    query: Mapping[str, str]
    dealers: frozenset[str]


class FaultTable:
    """The active rules; `match` consumes one firing of the first rule that applies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)

    def add(self, raw: Mapping[str, Any]) -> FaultRule:
        rule = parse_rule(raw)
        with self._lock:
            rule.id = next(self._ids)
            self._rules.append(rule)
        return rule

    def clear(self) -> int:
        with self._lock:
            count = len(self._rules)
            self._rules = []
            return count

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def match(self, facts: RequestFacts) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if not _applies(rule, facts):
                    continue
                if rule.skip > 0:
                    rule.skip -= 1
                    continue
                rule.fired += 1
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
                return rule
        return None


def _applies(rule: FaultRule, facts: RequestFacts) -> bool:
    if rule.vendor != facts.vendor:
        return False
    if rule.method is not None and rule.method != facts.method:
        return False
    if rule.path and not facts.path.startswith(rule.path):
        return False
    for key, value in rule.query.items():
        if facts.query.get(key) != value:
            return False
    if rule.advertiser_id is not None and facts.query.get("advertiserId") != rule.advertiser_id:
        return False
    if rule.dealer is not None and rule.dealer not in facts.dealers:
        return False
    return True

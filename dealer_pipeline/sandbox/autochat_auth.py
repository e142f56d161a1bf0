"""Autochat's OAuth 2.0 client-credentials token endpoint and bearer check (api/autochat.md 2.1).

The vendor warns that a high rate of token requests may get access limited; the sandbox
counts every token request (tests read the count) and can refuse with 429 above a
configured number per hour, so a client that authenticates on every call is caught.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol

AUDIENCE = "http://api.autochat.com/"
GRANT_TYPE = "client_credentials"
DEFAULT_TTL_SECONDS = 86400
HOUR = 3600.0


@dataclass(frozen=True)
class TokenAnswer:
    status: int
    body: dict[str, Any]
    headers: Mapping[str, str]


class Tokens(Protocol):
    """The sandbox's shared token store (`runtime.tokens`), so faults can expire our tokens too."""

    def issue(self, vendor: str, subject: Mapping[str, Any], ttl: float) -> Any: ...

    def valid(self, vendor: str, token: str | None) -> Any: ...


def _invalid(description: str) -> TokenAnswer:
    return TokenAnswer(400, {"error": "invalid_request", "error_description": description}, {})


class TokenIssuer:
    """Issues bearer tokens into the shared store; counts and optionally limits token requests."""

    def __init__(
        self,
        tokens: Tokens,
        vendor: str,
        credentials: Callable[[], Mapping[str, str]],
        ttl_seconds: Callable[[], float] = lambda: DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = tokens
        self._vendor = vendor
        self._credentials = credentials
        self._ttl = ttl_seconds
        self._clock = clock
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()
        self.requests = 0
        self.issued = 0
        self.limit_per_hour: int | None = None

    def request(self, body: Any) -> TokenAnswer:
        """Answer one `POST /oauth/token` body (already parsed JSON, or None if it was not JSON)."""
        now = self._clock()
        with self._lock:
            self.requests += 1
            while self._recent and now - self._recent[0] > HOUR:
                self._recent.popleft()
            self._recent.append(now)
            over_limit = self.limit_per_hour is not None and len(self._recent) > self.limit_per_hour
        if over_limit:
            oldest = self._recent[0] if self._recent else now
            retry_after = max(1, int(HOUR - (now - oldest)) + 1)
            body = {"error": "too_many_requests", "error_description": "Too many token requests"}
            return TokenAnswer(429, body, {"Retry-After": str(retry_after)})
        if not isinstance(body, dict):
            return _invalid("the request body must be a JSON object")
        missing = [k for k in ("client_id", "client_secret", "audience", "grant_type") if not body.get(k)]
        if missing:
            return _invalid(f"missing required parameter(s): {', '.join(missing)}")
        if body["grant_type"] != GRANT_TYPE:
            return _invalid(f"unsupported grant_type, expected {GRANT_TYPE}")
        if body["audience"] != AUDIENCE:
            return _invalid(f"unknown audience, expected {AUDIENCE}")
        expected = self._credentials().get(str(body["client_id"]))
        if expected is None or not secrets.compare_digest(str(body["client_secret"]).encode(), expected.encode()):
            return TokenAnswer(401, {"error": "access_denied", "error_description": "Unauthorized"}, {})
        ttl = max(1, int(self._ttl()))
        issued = self._store.issue(self._vendor, {"client_id": str(body["client_id"])}, ttl)
        with self._lock:
            self.issued += 1
        return TokenAnswer(200, {"access_token": issued.token, "token_type": "Bearer", "expires_in": ttl}, {})

    def client_for(self, authorization: str | None) -> str | None:
        """The client id behind a live `Bearer` token; None when missing, unknown or expired."""
        if not authorization:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        issued = self._store.valid(self._vendor, token.strip())
        return None if issued is None else str(issued.subject["client_id"])

    def stats(self) -> dict[str, Any]:
        now = self._clock()
        with self._lock:
            last_hour = sum(1 for t in self._recent if now - t <= HOUR)
            return {
                "token_requests": self.requests,
                "tokens_issued": self.issued,
                "token_requests_last_hour": last_hour,
                "limit_per_hour": self.limit_per_hour,
            }

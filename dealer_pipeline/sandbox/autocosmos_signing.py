"""ACS-HMAC verification as the Autocosmos v3 server applies it (api/autocosmos.md 2.1).

Kept free of any web framework so the canonical string can be checked against the
contract's worked vectors directly. The sandbox has its own implementation on purpose:
it must catch a client that signs wrongly, so it shares nothing with the client side.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections import deque
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Iterable, Mapping

SCHEME = "ACS-HMAC"
CLOCK_SKEW_SECONDS = 300.0
NON_IDEMPOTENT = frozenset({"POST", "PATCH"})


class SignatureError(Exception):
    """The request is not properly signed; the message is safe to show (no secrets)."""


def body_digest(body: bytes) -> str:
    """The `Digest` header value for a body: `sha-256=<base64>`."""
    return "sha-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def canonical_string(
    method: str, digest: str | None, date: str, acs_headers: Iterable[tuple[str, str]], path_and_query: str
) -> str:
    """The five parts of 2.1 joined by LF; the `x-acs-*` block has no line when empty."""
    lines = [method.upper(), digest or "", date]
    lines += [f"{name}:{value}" for name, value in sorted((n.lower(), v.strip()) for n, v in acs_headers)]
    lines.append(path_and_query)
    return "\n".join(lines)


def signature(secret: str, canonical: str) -> str:
    mac = hmac.new(secret.encode("utf-8"), canonical.encode("utf-8"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


@dataclass(frozen=True)
class SignedRequest:
    """What verification established: the caller, and the key a replay would repeat."""

    app_key: str
    replay_key: tuple[str, str, str, str, str]


class ReplayGuard:
    """Remembers signed POST/PATCH requests for the clock-skew window.

    A request with the same AppKey, method, path and query, `Date` and `Digest` that
    arrives again is a replay: the `Date` has one-second precision, so the client did
    not re-sign within the same second (or is repeating a captured request).
    """

    def __init__(self, window_seconds: float = CLOCK_SKEW_SECONDS * 2 + 1) -> None:
        # A Date may be up to the skew ahead of the clock and stay acceptable until the skew
        # after it, so a request can be replayed for twice the skew.
        self._window = window_seconds
        self._seen: set[tuple[str, ...]] = set()
        self._order: deque[tuple[float, tuple[str, ...]]] = deque()
        self._lock = threading.Lock()

    def first_time(self, key: tuple[str, ...], now: float | None = None) -> bool:
        """Record `key`; False when it was already seen inside the window."""
        now = time.monotonic() if now is None else now
        with self._lock:
            while self._order and now - self._order[0][0] > self._window:
                self._seen.discard(self._order.popleft()[1])
            if key in self._seen:
                return False
            self._seen.add(key)
            self._order.append((now, key))
            return True


def verify(
    *,
    method: str,
    path_and_query: Iterable[str],
    headers: Mapping[str, str],
    acs_headers: Iterable[tuple[str, str]],
    body: bytes,
    credentials: Mapping[str, str],
    now: float | None = None,
) -> SignedRequest:
    """Check one request against 2.1; raise `SignatureError` with the reason.

    `headers` must be case-insensitive (lower-case lookups). `path_and_query` lists the
    forms the client may have signed (the request line as sent; the sandbox also accepts
    it without its mount prefix, which is how the vendor, served at the root, sees it).
    Replay detection is left to the caller (`ReplayGuard`) so that a bad signature never
    consumes a replay slot.
    """
    authorization = headers.get("authorization")
    if not authorization:
        raise SignatureError("Falta el encabezado Authorization.")
    scheme, _, rest = authorization.strip().partition(" ")
    app_key, sep, given = rest.strip().rpartition(":")
    if scheme != SCHEME or not sep or not app_key or not given:
        raise SignatureError(f"Authorization debe ser '{SCHEME} <AppKey>:<firma>'.")
    secret = credentials.get(app_key)
    if secret is None:
        raise SignatureError("AppKey desconocida.")

    date = headers.get("date")
    if not date:
        raise SignatureError("Falta el encabezado Date.")
    try:
        sent_at = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        sent_at = None
    if sent_at is None or sent_at.tzinfo is None or not date.rstrip().endswith("GMT"):
        raise SignatureError("Date no es una fecha HTTP (IMF-fixdate) válida.")
    now = time.time() if now is None else now
    if abs(now - sent_at.timestamp()) > CLOCK_SKEW_SECONDS:
        raise SignatureError(f"Date difiere en más de {int(CLOCK_SKEW_SECONDS)} s del reloj del servidor.")

    digest = headers.get("digest")
    if body and not digest:
        raise SignatureError("Falta el encabezado Digest para un cuerpo no vacío.")
    if digest is not None and not hmac.compare_digest(digest.strip(), body_digest(body)):
        raise SignatureError("Digest no coincide con el cuerpo recibido.")

    acs = list(acs_headers)
    for candidate in dict.fromkeys(path_and_query):
        expected = signature(secret, canonical_string(method, digest, date, acs, candidate))
        if hmac.compare_digest(expected, given):
            replay_key = (app_key, method.upper(), candidate, date, digest or "")
            return SignedRequest(app_key=app_key, replay_key=replay_key)
    raise SignatureError("La firma no coincide.")

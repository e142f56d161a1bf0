"""Authenticating a delivery from its raw bytes and headers, per vendor.

Each verifier returns `None` when the delivery is authentic, else a short reason for the
rejection log. Reasons never contain the secret or the expected signature. Comparisons are
constant-time (`hmac.compare_digest`); timestamps must be within `tolerance` seconds of
now in either direction, so a captured request cannot be replayed later, nor one signed
with a clock far ahead accepted early.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

TOLERANCE_SECONDS = 300


def _hmac_sha256(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()


def _timestamp(raw: str | None) -> int | None:
    if raw is None:
        return None
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        return None
    return int(raw)


def _too_far(t: int, now: float, tolerance: int) -> str | None:
    skew = now - t
    if skew > tolerance:
        return f"timestamp {t} is {int(skew)} s old (tolerance {tolerance} s)"
    if -skew > tolerance:
        return f"timestamp {t} is {int(-skew)} s in the future (tolerance {tolerance} s)"
    return None


def parse_autotrader_header(header: str) -> tuple[int | None, list[str]]:
    """`t=<unix seconds>,v1=<hex>[,v1=<hex>...]` into (t, [v1...]); unknown keys are ignored."""
    t: int | None = None
    t_seen = 0
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "t":
            t_seen += 1
            t = _timestamp(value)
        elif key == "v1":
            signatures.append(value.lower())
    if t_seen != 1:
        t = None
    return t, signatures


def autotrader_signature(secret: str, t: int, raw: bytes) -> str:
    """hex(HMAC-SHA256(secret, "<t>." + raw body)), api/autotrader.md 1.10."""
    return _hmac_sha256(secret, str(t).encode("ascii") + b"." + raw).hex()


def verify_autotrader(
    header: str | None, raw: bytes, secret: str, *, now: float, tolerance: int = TOLERANCE_SECONDS
) -> str | None:
    """Valid when one `v1` matches the HMAC of `t.body` and `t` is within the tolerance."""
    if not header:
        return "missing Autotrader-Signature header"
    t, candidates = parse_autotrader_header(header)
    if t is None:
        return "Autotrader-Signature has no single numeric t"
    if not candidates:
        return "Autotrader-Signature has no v1"
    if (stale := _too_far(t, now, tolerance)) is not None:
        return stale
    expected = autotrader_signature(secret, t, raw).encode("ascii")
    matched = False
    for candidate in candidates:  # every candidate is compared: no early exit on a match
        matched |= hmac.compare_digest(expected, candidate.encode("ascii", "replace"))
    return None if matched else "no v1 signature matches the body"


def autocosmos_signature(secret: str, hook_id: str, timestamp: str, topic: str | None) -> str:
    """base64(HMAC-SHA256(secret, hook_id \\n timestamp [\\n topic])), api/autocosmos.md 2.5."""
    parts = [hook_id, timestamp] + ([topic] if topic is not None else [])
    return base64.b64encode(_hmac_sha256(secret, "\n".join(parts).encode("utf-8"))).decode("ascii")


def verify_autocosmos(
    hook_id: str | None,
    timestamp: str | None,
    topic: str | None,
    signature: str | None,
    secret: str,
    *,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> str | None:
    """Valid when `Notification-Signature` matches and `Notification-Timestamp` is recent.

    The body is not covered by the vendor's signature: what the body claims is confirmed
    through the API before it matters (publishing checks the agency link).
    """
    if not signature:
        return "missing Notification-Signature header"
    if not hook_id:
        return "missing Notification-Hook-ID header"
    t = _timestamp(timestamp)
    if t is None:
        return "Notification-Timestamp is missing or not unix seconds"
    if (stale := _too_far(t, now, tolerance)) is not None:
        return stale
    expected = autocosmos_signature(secret, hook_id, timestamp.strip(), topic).encode("ascii")  # type: ignore[union-attr]
    if hmac.compare_digest(expected, signature.strip().encode("ascii", "replace")):
        return None
    return "Notification-Signature does not match"


def verify_token(given: str | None, expected: str) -> str | None:
    """The Webmotors lead callback's secret `token` query parameter, compared in constant time."""
    if not given:
        return "missing token query parameter"
    if hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        return None
    return "token query parameter does not match"

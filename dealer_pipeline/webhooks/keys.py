"""What identifies a stored event: its dedupe key per source, type, subject and dealer.

Keys make redelivery harmless: the same notification delivered again maps to the same
`(source, event_key)` and is stored once. Autotrader `STOCK_UPDATE` is keyed by
`stockId:versionNumber` (its `id` is the stockId, not an event id); other Autotrader types
by a hash of their content; Autocosmos by `Notification-Hook-ID` (unchanged on
redelivery); Webmotors lead notices by `IdLead`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

AUTOTRADER, AUTOCOSMOS, WEBMOTORS = "autotrader", "autocosmos", "webmotors"
#: Largest version kept in `subject_version` (a signed 64-bit column on both backends).
MAX_VERSION = 2**63 - 1


class UnusableField(ValueError):
    """A field the event's identity needs holds a value no column can take; the message says which."""


@dataclass(frozen=True)
class EventIdentity:
    event_key: str
    event_type: str | None
    subject_id: str | None = None
    subject_version: int | None = None
    dealer_id: str | None = None


def content_hash(payload: Any | None, raw: bytes) -> str:
    """SHA-256 of the canonical JSON (key order and spacing do not matter), or of the raw bytes."""
    if payload is None:
        return "sha256:" + hashlib.sha256(raw).hexdigest()
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (str, int)):
        text = str(value).strip()
        return text or None
    return None


def _version(value: Any) -> int | None:
    """A whole number 0..MAX_VERSION (ASCII digits when a string); None when absent or not a number;
    `UnusableField` for a number out of range or written in other digits ("²", "٣")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit():
            return None
        if not text.isascii() or len(text) > 19:
            raise UnusableField(f"versionNumber {text[:40]!r} is not a whole number of ASCII digits up to 2^63-1")
        value = int(text)
    if isinstance(value, int):
        if not 0 <= value <= MAX_VERSION:
            raise UnusableField(f"versionNumber {str(value)[:40]} is outside 0..2^63-1")
        return value
    return None


def _section(mapping: Any, key: str) -> Mapping[str, Any]:
    value = mapping.get(key) if isinstance(mapping, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def autotrader_identity(payload: Mapping[str, Any], raw: bytes) -> EventIdentity:
    event_type = _text(payload.get("type"))
    data = _section(payload, "data")
    if event_type == "STOCK_UPDATE":
        metadata = _section(data, "metadata")
        stock_id = _text(metadata.get("stockId")) or _text(payload.get("id"))
        version = _version(metadata.get("versionNumber"))
        advertiser_id = _text(_section(data, "advertiser").get("advertiserId"))
        key = f"{stock_id}:{version}" if stock_id and version is not None else content_hash(payload, raw)
        return EventIdentity(
            event_key=key,
            event_type=event_type,
            subject_id=stock_id,
            subject_version=version,
            dealer_id=f"autotrader:{advertiser_id}" if advertiser_id else None,
        )
    subject = _text(payload.get("id"))
    dealer = None
    if event_type == "ADVERTISER":
        advertiser_id = _text(data.get("advertiserId")) or subject
        dealer = f"autotrader:{advertiser_id}" if advertiser_id else None
    return EventIdentity(content_hash(payload, raw), event_type, subject_id=subject, dealer_id=dealer)


def autocosmos_identity(hook_id: str, topic: str | None, payload: Any) -> EventIdentity:
    adminmail = _text(payload.get("AdminMail")) if isinstance(payload, Mapping) else None
    return EventIdentity(hook_id.strip(), topic, subject_id=adminmail.lower() if adminmail else None)


_NOT_DIGIT = re.compile(r"\D")


def webmotors_identity(payload: Mapping[str, Any], raw: bytes) -> EventIdentity:
    lead_id = _text(payload.get("IdLead"))
    cnpj = _NOT_DIGIT.sub("", _text(payload.get("Cnpj")) or "")
    return EventIdentity(
        event_key=lead_id or content_hash(payload, raw),
        event_type="lead",
        subject_id=lead_id,
        dealer_id=f"webmotors:{cnpj}" if len(cnpj) == 14 else None,
    )

"""Autocosmos webhooks, sandbox to receiver (api/autocosmos.md 2.5).

The signature covers the hook id, timestamp and topic only (the body is unsigned), which
is why a receiver must confirm agency access through the API before acting on one.
A redelivery keeps the hook id, so receivers can dedupe on it. Sending goes through the
sandbox runtime (`runtime.deliver`), which records every attempt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

TOPIC_INVITATION_ACCEPTED = "invitacionagencia_aceptada"


def notification_signature(secret: str, hook_id: str, timestamp: str, topic: str | None) -> str:
    """base64(HMAC-SHA256(secret, hook_id \\n timestamp [\\n topic]))."""
    parts = [hook_id, timestamp] + ([topic] if topic else [])
    mac = hmac.new(secret.encode("utf-8"), "\n".join(parts).encode("utf-8"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


@dataclass(frozen=True)
class Notification:
    """One signed notification, ready to send (and to send again unchanged)."""

    url: str
    headers: dict[str, str]
    body: bytes

    def describe(self) -> dict[str, Any]:
        return {"url": self.url, "headers": dict(self.headers), "body": json.loads(self.body)}


def build_notification(
    url: str, secret: str, topic: str, payload: dict[str, Any], *, timestamp: int | None = None
) -> Notification:
    """A notification with a fresh hook id; send it as often as needed, it stays the same."""
    hook_id = str(uuid.uuid4())
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "Content-Type": "application/json",
        "Notification-Hook-ID": hook_id,
        "Notification-Timestamp": ts,
        "Notification-Topic": topic,
        "Notification-Signature": notification_signature(secret, hook_id, ts, topic),
    }
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Notification(url, headers, body)

"""One delivery in, one answer out: authenticate, identify, store (framework-free).

`decide` is pure CPU work (signature, parsing, keys): the ASGI app runs it on the event loop
for ordinary bodies and in a worker thread for large ones. Order matters: the raw bytes are
authenticated before anything parses them; an authentic body that is not JSON is still
stored (as `failed`, with the reason) and answered 200, so it is kept and it does not hold
up the events after it. `handle` is the blocking whole (decide, then write).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping

import sqlalchemy as sa

from dealer_pipeline.settings import Secret, Settings
from dealer_pipeline.webhooks import keys, signatures, storage
from dealer_pipeline.webhooks.budget import RejectionBudget

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """An HTTP request as received: lower-cased header names, the raw body bytes."""

    source: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    raw: bytes
    received_at: datetime
    remote_addr: str | None = None
    repeated: frozenset[str] = frozenset()  # header names (and "?param" names) given more than once


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any] | None = field(default=None)


@dataclass(frozen=True)
class Decision:
    """Either a row to store (and how to answer once stored) or a rejection to record."""

    row: dict[str, Any] | None = None
    failed_reason: str | None = None  # stored as failed, answered 200 with the reason
    reject_status: int | None = None
    reject_reason: str | None = None

    def answer(self, stored: storage.Stored) -> Answer:
        if not stored.created:
            return Answer(200, {"status": "duplicate"})
        if self.failed_reason is not None:  # kept for an operator: the vendor must not resend it
            return Answer(200, {"status": "failed", "id": stored.event_id, "error": self.failed_reason})
        return Answer(200, {"status": "stored", "id": stored.event_id})


#: Deeper JSON than any vendor sends; refused before anything walks it recursively.
MAX_DEPTH = 64
#: The credentials of each route: given twice, which one counts would be a guess.
_AUTH_NAMES = {
    keys.AUTOTRADER: ("autotrader-signature",),
    keys.AUTOCOSMOS: ("notification-signature", "notification-timestamp", "notification-hook-id",
                      "notification-topic"),
    keys.WEBMOTORS: ("?token",),
}


def _too_deep(payload: Any, limit: int = MAX_DEPTH) -> bool:
    stack: list[tuple[Any, int]] = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _parse(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    try:
        payload = json.loads(raw)
    except RecursionError:
        return None, f"body is JSON nested deeper than {MAX_DEPTH} levels"
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"body is not JSON: {str(exc)[:200]}"
    if not isinstance(payload, dict):
        return None, f"body is JSON but not an object (got {type(payload).__name__})"
    if _too_deep(payload):
        return None, f"body is JSON nested deeper than {MAX_DEPTH} levels"
    return payload, None


def _repeated_credential(delivery: Delivery) -> str | None:
    for name in _AUTH_NAMES[delivery.source]:
        if name in delivery.repeated:
            what = f"query parameter {name[1:]}" if name.startswith("?") else f"header {name}"
            return f"{what} given more than once"
    return None


def _secrets(current: Secret, previous: Secret | None) -> tuple[str, ...]:
    return (current.reveal(),) + ((previous.reveal(),) if previous is not None else ())


def _first_valid(secrets: tuple[str, ...], verify: Callable[[str], str | None]) -> str | None:
    """None when `verify` accepts the delivery with any of `secrets`, else the current secret's reason."""
    reasons = [verify(secret) for secret in secrets]  # every secret is tried: no timing hint of which
    return None if None in reasons else reasons[0]


class Intake:
    """Decides on deliveries for the three vendors against one store and one set of secrets."""

    def __init__(
        self,
        engine: sa.Engine,
        settings: Settings,
        *,
        writer: storage.EventWriter | None = None,
        clock: Callable[[], float] = time.time,
        rejections: RejectionBudget | None = None,
    ) -> None:
        self.engine = engine
        self.rejections = rejections or RejectionBudget()
        self.writer = writer
        # The current secret, then the one being rotated out (our rotation: both are accepted).
        self._at_secrets = _secrets(settings.autotrader_webhook_secret, settings.autotrader_webhook_secret_previous)
        self._ac_secrets = _secrets(settings.autocosmos_webhook_secret, settings.autocosmos_webhook_secret_previous)
        self._wm_tokens = _secrets(settings.webmotors_leads_token, settings.webmotors_leads_token_previous)
        self._clock = clock

    def handle(self, delivery: Delivery) -> Answer:
        """Decide and act, blocking until the event is committed."""
        decision = self.decide(delivery)
        if decision.row is None:
            return self.reject(delivery, decision.reject_status or 403, decision.reject_reason or "rejected")
        stored = self.writer.store(decision.row) if self.writer else storage.insert_events(self.engine, [decision.row])[0]
        return self.answered(delivery, decision, stored)

    def decide(self, delivery: Delivery) -> Decision:
        if (repeated := _repeated_credential(delivery)) is not None:
            return Decision(reject_status=403, reject_reason=repeated)
        decide = {
            keys.AUTOTRADER: self._autotrader,
            keys.AUTOCOSMOS: self._autocosmos,
            keys.WEBMOTORS: self._webmotors,
        }[delivery.source]
        return decide(delivery)

    def answered(self, delivery: Delivery, decision: Decision, stored: storage.Stored) -> Answer:
        if decision.failed_reason is not None and stored.created:  # a duplicate was logged the first time
            log.warning("stored %s webhook as failed (id %s): %s", delivery.source, stored.event_id,
                        decision.failed_reason)
        return decision.answer(stored)

    def reject(self, delivery: Delivery, status: int, reason: str, *, body_bytes: int | None = None) -> Answer:
        """Record an invalid request, within the source's budget; `body_bytes` set means the body was
        over the cap and not kept. The answer does not depend on the budget."""
        log.info("rejected %s webhook (%s): %s", delivery.source, status, reason)
        record, suppressed = self.rejections.admit(delivery.source)
        if not record:
            return Answer(status)
        if suppressed:
            log.warning("%d refused %s webhooks were not recorded (over the rejection budget)", suppressed,
                        delivery.source)
            reason = f"{reason} (and {suppressed} earlier refused requests not recorded: over the budget)"
        storage.store_rejection(
            self.engine,
            source=delivery.source,
            received_at=delivery.received_at,
            http_status=status,
            reason=reason,
            remote_addr=delivery.remote_addr,
            headers=delivery.headers,
            raw=delivery.raw if body_bytes is None else None,
            body_bytes=len(delivery.raw) if body_bytes is None else body_bytes,
        )
        return Answer(status)

    def _autotrader(self, delivery: Delivery) -> Decision:
        reason = _first_valid(self._at_secrets, lambda secret: signatures.verify_autotrader(
            delivery.headers.get("autotrader-signature"), delivery.raw, secret, now=self._clock()))
        if reason:
            return Decision(reject_status=403, reject_reason=reason)
        payload, problem = _parse(delivery.raw)
        if payload is None:
            return self._failed(delivery, problem or "unparseable body")
        return self._store(delivery, lambda: keys.autotrader_identity(payload, delivery.raw))

    def _autocosmos(self, delivery: Delivery) -> Decision:
        hook_id = delivery.headers.get("notification-hook-id")
        topic = delivery.headers.get("notification-topic")
        reason = _first_valid(self._ac_secrets, lambda secret: signatures.verify_autocosmos(
            hook_id, delivery.headers.get("notification-timestamp"), topic,
            delivery.headers.get("notification-signature"), secret, now=self._clock()))
        if reason:
            return Decision(reject_status=403, reject_reason=reason)
        assert hook_id is not None
        payload, problem = _parse(delivery.raw)
        if payload is None:
            return self._failed(delivery, problem or "unparseable body", keys.autocosmos_identity(hook_id, topic, None))
        return self._store(delivery, lambda: keys.autocosmos_identity(hook_id, topic, payload))

    def _webmotors(self, delivery: Delivery) -> Decision:
        reason = _first_valid(self._wm_tokens, lambda token: signatures.verify_token(delivery.query.get("token"), token))
        if reason:
            return Decision(reject_status=403, reject_reason=reason)
        payload, problem = _parse(delivery.raw)
        if payload is None:
            return self._failed(delivery, problem or "unparseable body")
        return self._store(delivery, lambda: keys.webmotors_identity(payload, delivery.raw))

    def _store(self, delivery: Delivery, identify: Callable[[], keys.EventIdentity]) -> Decision:
        try:
            identity = identify()
        except keys.UnusableField as exc:
            return self._failed(delivery, str(exc))
        return Decision(row=storage.event_row(
            source=delivery.source,
            identity=identity,
            received_at=delivery.received_at,
            headers=delivery.headers,
            raw=delivery.raw,
        ))

    def _failed(self, delivery: Delivery, reason: str, identity: keys.EventIdentity | None = None) -> Decision:
        identity = identity or keys.EventIdentity(keys.content_hash(None, delivery.raw), None)
        row = storage.event_row(
            source=delivery.source,
            identity=identity,
            received_at=delivery.received_at,
            headers=delivery.headers,
            raw=delivery.raw,
            status=storage.FAILED,
            error=reason,
        )
        return Decision(row=row, failed_reason=reason)

"""Fair-usage pauses shared by every process (`api_pauses`).

A 429 pauses the whole vendor (scope `vendor`), a 5xx pauses one service (scope
`vendor/service`). Every call first asks how long to wait; the answer comes from a copy
of the vendor's rows read at most every `cache_seconds` (200 ms), so the check costs
one small query per 200 ms per process, not one per call. A pause only ever extends:
a shorter pause never overwrites a longer one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.repository import upsert
from dealer_pipeline.store.schema import api_pauses
from dealer_pipeline.store.types import utcnow


def scope_of(vendor: str, service: str | None) -> str:
    return f"{vendor}/{service}" if service else vendor


class PauseBoard:
    """Read and set the pauses of one vendor."""

    def __init__(
        self, engine: sa.Engine, vendor: str, *, cache_seconds: float = 0.2, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.engine = engine
        self.vendor = vendor
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._until: dict[str, datetime] = {}
        self._read_at = float("-inf")
        self._refreshing = False

    def remaining(self, service: str | None) -> tuple[float, str | None]:
        """Seconds to wait before calling `service`, and the scope that imposes it."""
        until = self._snapshot()
        now = self.clock()
        best, scope = 0.0, None
        for candidate in (self.vendor, scope_of(self.vendor, service)):
            when = until.get(candidate)
            if when is not None and (when - now).total_seconds() > best:
                best, scope = (when - now).total_seconds(), candidate
        return best, scope

    def pause(self, service: str | None, seconds: float, *, reason: str, cf_ray: str | None) -> datetime:
        """Pause the vendor (`service=None`) or one service for `seconds` from now; returns the end."""
        now = self.clock()
        until = now + timedelta(seconds=seconds)
        scope = scope_of(self.vendor, service)
        row = {"scope": scope, "vendor": self.vendor, "paused_until": until, "reason": reason,
               "cf_ray": cf_ray, "set_at": now}
        with transaction(self.engine) as conn:
            upsert(conn, api_pauses, [row], only_if=lambda new: api_pauses.c.paused_until < new.paused_until)
        with self._lock:
            if self._until.get(scope) is None or self._until[scope] < until:
                self._until[scope] = until
        return until

    def _snapshot(self) -> dict[str, datetime]:
        # One thread re-reads; the others keep using the copy meanwhile (no connection pile-up).
        with self._lock:
            fresh = time.monotonic() - self._read_at < self.cache_seconds
            if fresh or (self._refreshing and self._read_at > float("-inf")):
                return dict(self._until)
            self._refreshing = True
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(api_pauses.c.scope, api_pauses.c.paused_until).where(
                        api_pauses.c.vendor == self.vendor, api_pauses.c.paused_until > self.clock()
                    )
                ).all()
            with self._lock:
                # Keep pauses this process set meanwhile; the store copy wins otherwise.
                merged = {scope: until for scope, until in rows}
                for scope, until in self._until.items():
                    if until > merged.get(scope, until):
                        merged[scope] = until
                    merged.setdefault(scope, until)
                self._until = {s: u for s, u in merged.items() if u > self.clock()}
                self._read_at = time.monotonic()
                return dict(self._until)
        finally:
            self._refreshing = False

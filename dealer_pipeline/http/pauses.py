"""Fair-usage pauses shared by every process (`api_pauses`).

A 429 pauses the whole vendor (scope `vendor`), a 5xx pauses one service (scope
`vendor/service`). Every call first asks how long to wait; the answer comes from a copy
of the vendor's rows read at most every `cache_seconds` (50 ms by default, so a pause set by
another process stops this one's calls within 0.1 s), one small query per 50 ms per process,
not one per call. A pause only ever extends:
a shorter pause never overwrites a longer one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from dealer_pipeline.http.snapshot import StoreSnapshot
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.repository import upsert
from dealer_pipeline.store.schema import api_pauses
from dealer_pipeline.store.types import utcnow


def scope_of(vendor: str, service: str | None) -> str:
    return f"{vendor}/{service}" if service else vendor


class PauseBoard:
    """Read and set the pauses of one vendor."""

    def __init__(
        self, engine: sa.Engine, vendor: str, *, cache_seconds: float = 0.05, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.engine = engine
        self.vendor = vendor
        self.clock = clock
        self._until: StoreSnapshot[dict[str, datetime]] = StoreSnapshot({}, cache_seconds=cache_seconds, copy=dict)

    @property
    def cache_seconds(self) -> float:
        return self._until.cache_seconds

    @cache_seconds.setter
    def cache_seconds(self, seconds: float) -> None:
        self._until.cache_seconds = seconds

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
        self._until.update(lambda held: held if held.get(scope, until) > until else {**held, scope: until})
        return until

    def _snapshot(self) -> dict[str, datetime]:
        return self._until.get(self._read, self._merge)

    def _read(self) -> dict[str, datetime]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(api_pauses.c.scope, api_pauses.c.paused_until).where(
                    api_pauses.c.vendor == self.vendor, api_pauses.c.paused_until > self.clock()
                )
            ).all()
        return {scope: until for scope, until in rows}

    def _merge(self, held: dict[str, datetime], read: dict[str, datetime], _started: float) -> dict[str, datetime]:
        """Keep pauses this process set meanwhile (the longer one wins); drop those that ended."""
        merged = dict(read)
        for scope, until in held.items():
            if until > merged.get(scope, until) or scope not in merged:
                merged[scope] = until
        now = self.clock()
        return {s: u for s, u in merged.items() if u > now}

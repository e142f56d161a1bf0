"""Every vendor call, written to `api_calls`.

Rows are buffered and written in one short transaction per batch (`batch_size` rows or
`max_age_seconds`, whichever comes first), so logging stays a small share of a sync;
a failed call (status >= 400 or no response) is flushed at once, so its CF-RAY is in the
store even if the process dies right after. `flush()` runs on client close.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.repository import insert_many
from dealer_pipeline.store.schema import api_calls

log = logging.getLogger(__name__)

MAX_BUFFERED = 50_000  # a store outage must not grow memory without bound


class CallLog:
    def __init__(self, engine: sa.Engine, *, batch_size: int = 200, max_age_seconds: float = 1.0) -> None:
        self.engine = engine
        self.batch_size = batch_size
        self.max_age_seconds = max_age_seconds
        self._lock = threading.Lock()
        self._rows: list[dict[str, Any]] = []
        self._oldest = 0.0
        self.written = 0
        self.flush_seconds = 0.0  # time spent writing, for the benchmark's share-of-time figure

    def record(
        self,
        *,
        ts: datetime,
        vendor: str,
        service: str | None,
        method: str,
        path: str,
        status: int | None,
        duration_ms: int,
        cf_ray: str | None,
        dealer_id: str | None,
        attempt: int,
        error: str | None,
        run_id: str | None,
    ) -> None:
        row = dict(ts=ts, vendor=vendor, service=service, method=method, path=path, status=status,
                   duration_ms=duration_ms, cf_ray=cf_ray, dealer_id=dealer_id, attempt=attempt,
                   error=error, run_id=run_id)
        failed = status is None or status >= 400 or error is not None
        with self._lock:
            if not self._rows:
                self._oldest = time.monotonic()
            self._rows.append(row)
            due = (failed or len(self._rows) >= self.batch_size
                   or time.monotonic() - self._oldest >= self.max_age_seconds)
        if due:
            self.flush()

    def flush(self) -> int:
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return 0
        started = time.perf_counter()
        try:
            with transaction(self.engine) as conn:
                insert_many(conn, api_calls, rows)
        except sa.exc.SQLAlchemyError as exc:
            with self._lock:
                self._rows = (rows + self._rows)[-MAX_BUFFERED:]
            log.warning("could not write %d api_calls rows (kept for the next flush): %s", len(rows), exc)
            return 0
        finally:
            self.flush_seconds += time.perf_counter() - started
        self.written += len(rows)
        return len(rows)

"""The sandbox's call log: every request a simulated vendor saw, in arrival order.

Certification checks are judged "from the call log" (shared golive.md), so the log records
what a vendor's server would see: method, vendor-relative path, query, status, a hash of the
credential presented (never the credential), Autotrader's CF-RAY and how long the answer took.
Each record carries a monotonically increasing `seq` so a reader can ask for what is new.
"""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import datetime, timezone
from typing import Any, Iterable

#: Records kept before the oldest half is dropped (a long demo must not grow without bound).
DEFAULT_CAPACITY = 2_000_000


def hash_token(token: str | None) -> str | None:
    """First 16 hex characters of SHA-256: enough to tell tokens apart, useless to replay."""
    if not token:
        return None
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class CallLog:
    """Thread-safe, append-only list of call records with a monotonic sequence number."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []
        self._first_seq = 1  # seq of self._records[0]
        self._next_seq = 1
        self._capacity = capacity

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Stamp `seq` (and `ts`/`at` when absent) and store the record; returns it."""
        now = time.time()
        record.setdefault("ts", round(now, 6))
        record.setdefault("at", datetime.fromtimestamp(record["ts"], timezone.utc).isoformat(timespec="milliseconds")
                          .replace("+00:00", "Z"))
        with self._lock:
            record["seq"] = self._next_seq
            self._next_seq += 1
            self._records.append(record)
            if len(self._records) > self._capacity:
                dropped = len(self._records) // 2
                del self._records[:dropped]
                self._first_seq += dropped
        return record

    def records(self, *, vendor: str | None = None, since: int | None = None) -> list[dict[str, Any]]:
        """Records with `seq > since`, optionally of one vendor, oldest first."""
        with self._lock:
            start = 0 if since is None else max(0, since + 1 - self._first_seq)
            selected: Iterable[dict[str, Any]] = self._records[start:]
            if vendor is not None:
                selected = [r for r in selected if r.get("vendor") == vendor]
            return list(selected)

    def clear(self) -> int:
        """Forget every record (sequence numbers keep increasing); returns how many were dropped."""
        with self._lock:
            dropped = len(self._records)
            self._first_seq = self._next_seq
            self._records = []
            return dropped

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._next_seq - 1

"""How many refused requests the receiver records: a token bucket per source.

Every refused request is answered 403/413 whatever happens here; what the bucket limits is
the forensic row in `webhook_rejections`, so a flood of forged requests cannot fill the
store. Beyond the budget the requests are counted, and the count is logged (and recorded as
one summary row) once the bucket refills.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: Rows a source may record in a burst, and the steady rate after it.
BURST = 200
PER_MINUTE = 120
#: A refused body is kept up to this size; `body_bytes` still tells its full length.
MAX_STORED_BODY = 64 * 1024


@dataclass
class _Bucket:
    tokens: float
    updated: float
    suppressed: int = 0


@dataclass
class RejectionBudget:
    """`admit(source)` -> (record this one?, requests suppressed since the last recorded one)."""

    burst: int = BURST
    per_minute: float = PER_MINUTE
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, source: str) -> tuple[bool, int]:
        now = self.clock()
        with self._lock:
            bucket = self._buckets.setdefault(source, _Bucket(tokens=float(self.burst), updated=now))
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.per_minute / 60)
            bucket.updated = now
            if bucket.tokens < 1:
                bucket.suppressed += 1
                return False, 0
            bucket.tokens -= 1
            suppressed, bucket.suppressed = bucket.suppressed, 0
            return True, suppressed

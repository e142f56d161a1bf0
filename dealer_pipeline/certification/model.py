"""What a certification rule returns, and what every rule is given.

A verdict is one of three: `passed` (the check was exercised and nothing contradicts it),
`failed` (the evidence shows a violation; the offending rows are listed), `not exercised`
(nothing in this store or call log exercises the check; the summary says what would). A
reviewer must be able to tell "we never did it" from "we did it wrong", so they are never
merged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from dealer_pipeline.certification.checklist import BY_ID

#: Evidence rows kept per check (the report is for a person; the counts say how many there were).
MAX_ROWS = 20


class Verdict(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_EXERCISED = "not exercised"


@dataclass(frozen=True)
class Evidence:
    """One check's outcome: the verdict, a one-line summary, and the rows that show it."""

    id: str
    title: str
    judged_by: str
    verdict: Verdict
    summary: str
    rows: tuple[dict[str, Any], ...] = ()
    rows_total: int = 0
    basis: str = "store"        # where the verdict comes from: "store", "api_calls", "vendor call log"
    limits: str | None = None   # what the store does not keep that a fuller judgement would need
    #: The same check judged from our own `api_calls` alone, beside a verdict from the vendor's log.
    ours: Evidence | None = None

    def as_dict(self) -> dict[str, Any]:
        found = {"id": self.id, "title": self.title, "judged_by": self.judged_by, "verdict": self.verdict.value,
                 "summary": self.summary, "basis": self.basis, "limits": self.limits,
                 "rows_total": self.rows_total, "rows": [dict(r) for r in self.rows]}
        if self.ours is not None:
            found["from_api_calls"] = {"verdict": self.ours.verdict.value, "summary": self.ours.summary,
                                       "rows_total": self.ours.rows_total, "rows": [dict(r) for r in self.ours.rows]}
        return found


def plain(value: Any) -> Any:
    """A JSON-friendly scalar for an evidence cell (timestamps as ISO-8601 UTC)."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, timedelta):
        return round(value.total_seconds(), 3)
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


def evidence(check_id: str, verdict: Verdict, summary: str, rows: Sequence[Mapping[str, Any]] = (), *,
             basis: str = "store", limits: str | None = None, max_rows: int = MAX_ROWS) -> Evidence:
    """An `Evidence` for a check of the checklist (title and judging mode filled from it)."""
    check = BY_ID[check_id]
    kept = tuple({k: plain(v) for k, v in row.items()} for row in list(rows)[:max_rows])
    return Evidence(check.id, check.title, check.judged_by, verdict, summary, kept, len(rows), basis, limits)


@dataclass
class Context:
    """What every rule is given besides the store connection.

    `vendor_calls` is the vendor-side call log (the sandbox's `/_sandbox/calls`, or None when
    not read); `deliveries` the vendor's notification attempts to our receiver (same source).
    `since` limits the judgement to activity from that moment on (e.g. the certification
    window). `cache` memoises what rules share (call logs, table reads) for one run.
    """

    now: datetime
    since: datetime | None = None
    vendor_calls: list[dict[str, Any]] | None = None
    deliveries: list[dict[str, Any]] | None = None
    sandbox_url: str | None = None
    cache: dict[str, Any] = field(default_factory=dict)

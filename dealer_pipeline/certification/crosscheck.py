"""Our call log against the vendor's: does `api_calls` hold every call the vendor saw, and only those?

Only the time span the vendor's log covers is compared (a sandbox keeps what it saw since it
started). Calls are matched by vendor, method, path, query and status; a call matched only
when the status is ignored is reported as a status disagreement (e.g. no response reached
us although the vendor answered). Photo downloads are not vendor API calls and are skipped.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from dealer_pipeline.certification.calls import Call, our_calls, vendor_calls
from dealer_pipeline.certification.model import Context, plain

VENDORS = ("autotrader", "webmotors", "autocosmos", "autochat")
EDGE = timedelta(seconds=1)


@dataclass
class VendorComparison:
    vendor: str
    theirs: int = 0
    ours: int = 0
    matched: int = 0
    status_differs: list[dict[str, Any]] = field(default_factory=list)
    only_theirs: list[dict[str, Any]] = field(default_factory=list)
    only_ours: list[dict[str, Any]] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return not (self.status_differs or self.only_theirs or self.only_ours)

    def as_dict(self) -> dict[str, Any]:
        return {"vendor": self.vendor, "vendor_saw": self.theirs, "we_logged": self.ours, "matched": self.matched,
                "status_differs": len(self.status_differs), "only_in_vendor_log": len(self.only_theirs),
                "only_in_api_calls": len(self.only_ours),
                "examples": (self.only_theirs + self.only_ours + self.status_differs)[:10]}


def _key(call: Call, with_status: bool) -> tuple[Any, ...]:
    query = tuple(sorted((k, v) for k, v in call.query.items() if v != "***"))
    return (call.method, call.path.rstrip("/").lower(), query) + ((call.status,) if with_status else ())


def _example(call: Call, side: str) -> dict[str, Any]:
    return {"side": side, "ts": plain(call.ts), "method": call.method, "path": call.target()[:120],
            "status": call.status, "cf_ray": call.cf_ray}


def compare(conn: sa.Connection, ctx: Context) -> list[VendorComparison]:
    """Per vendor, the calls both logs agree on and the ones only one of them has."""
    found = []
    for vendor in VENDORS:
        theirs = vendor_calls(ctx, vendor)
        if theirs is None:
            return []
        result = VendorComparison(vendor, theirs=len(theirs))
        if not theirs:
            found.append(result)
            continue
        start, end = theirs[0].ts - EDGE, theirs[-1].ts + EDGE
        ours = [c for c in our_calls(conn, ctx, vendor) if start <= c.ts <= end]
        result.ours = len(ours)
        pending: dict[tuple[Any, ...], list[Call]] = defaultdict(list)
        for call in ours:
            pending[_key(call, True)].append(call)
        leftover = []
        for call in theirs:
            bucket = pending.get(_key(call, True))
            if bucket:
                bucket.pop(0)
                result.matched += 1
            else:
                leftover.append(call)
        loose: dict[tuple[Any, ...], list[Call]] = defaultdict(list)
        for bucket in pending.values():
            for call in bucket:
                loose[_key(call, False)].append(call)
        for call in leftover:
            bucket = loose.get(_key(call, False))
            if bucket:
                mine = bucket.pop(0)
                result.status_differs.append({**_example(call, "vendor"), "our_status": mine.status})
            else:
                result.only_theirs.append(_example(call, "vendor log only"))
        result.only_ours = [_example(c, "api_calls only") for bucket in loose.values() for c in bucket]
        found.append(result)
    return found


def summary(comparisons: list[VendorComparison]) -> str:
    if not comparisons:
        return "the vendor's call log was not read"
    gaps = Counter()
    for c in comparisons:
        gaps["only in the vendor's log"] += len(c.only_theirs)
        gaps["only in api_calls"] += len(c.only_ours)
        gaps["status differs"] += len(c.status_differs)
    if not sum(gaps.values()):
        return f"both logs agree on all {sum(c.matched for c in comparisons)} calls in the vendor log's time span"
    return "the logs disagree: " + ", ".join(f"{n} {what}" for what, n in gaps.items() if n)

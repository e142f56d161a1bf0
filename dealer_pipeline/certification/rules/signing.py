"""AC-SIGN-1 as the vendor judges it: a replay is the same signed request arriving again.

An ACS-HMAC signature covers the method, the path and query, the `Date` (one-second precision)
and the body's `Digest`. Two POSTs to one collection path within a second, with different bodies,
carry different signatures: two requests, both fine. Only an identical signature seen twice is a
replay (the vendor refuses it with 401).

The vendor's call log records each signed request's signature (hashed), so a replay is found
exactly. Our own `api_calls` keeps neither bodies nor signatures: there a replay is an attempt
re-sent within the same second as the attempt before it, by the same run, to the same target
(same body, same `Date`, hence the same signature).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dealer_pipeline.certification.calls import OURS, Call

NON_IDEMPOTENT = ("POST", "PATCH")


def _replay_by_signature(calls: Sequence[Call]) -> list[tuple[Call, Call]]:
    first: dict[tuple[str, str, str], Call] = {}
    found = []
    for call in calls:
        if call.method not in NON_IDEMPOTENT or call.signature is None:
            continue
        key = (call.method, call.target(), call.signature)
        if key in first:
            found.append((call, first[key]))
        else:
            first[key] = call
    return found


def _replay_by_attempt(calls: Sequence[Call]) -> list[tuple[Call, Call]]:
    last: dict[tuple[str | None, str, str], Call] = {}
    found = []
    for call in calls:
        if call.method not in NON_IDEMPOTENT:
            continue
        key = (call.run_id, call.method, call.target())
        before = last.get(key)
        if (before is not None and (call.attempt or 1) == (before.attempt or 1) + 1
                and int(call.ts.timestamp()) == int(before.ts.timestamp())):
            found.append((call, before))
        last[key] = call
    return found


def replays(calls: Sequence[Call], source: str) -> list[tuple[Call, Call]]:
    """(the repeat, the request it repeats) for each non-idempotent request sent again as it was signed."""
    return _replay_by_attempt(calls) if source == OURS else _replay_by_signature(calls)


def violations(calls: Sequence[Call], source: str) -> tuple[list[dict[str, Any]], int, int]:
    """Evidence rows (replays and refusals, one row per call), how many replays, how many refusals."""
    repeated = {id(call): first for call, first in replays(calls, source)}
    rows, refused = [], 0
    for call in calls:
        why = []
        if id(call) in repeated:
            first = repeated[id(call)]
            why.append(f"the same signed {call.method} sent again (identical signature), first sent at "
                       f"{first.ts.isoformat(timespec='milliseconds')}")
        if call.status == 401:
            refused += 1
            why.append("refused by the vendor (401): signature, Digest or Date not accepted, or a replay")
        if why:
            extra = {"signature#": call.signature} if call.signature else {}
            rows.append(call.row(why="; ".join(why), **extra))
    return rows, len(repeated), refused

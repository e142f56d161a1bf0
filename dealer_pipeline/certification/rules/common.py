"""Helpers the rules share: verdicts from violations, token analysis, blocks honoured, gaps after a status."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from dealer_pipeline.certification import facts
from dealer_pipeline.certification.calls import OURS, Call
from dealer_pipeline.certification.model import Context, Evidence, Verdict, evidence

#: How long after a change another process may still act on its cached view (blocks are
#: re-read every second, pauses every 200 ms, tokens memoised 200 ms), plus clock jitter.
BLOCK_SLACK = timedelta(seconds=1.5)
PAUSE_SLACK = timedelta(seconds=0.5)
#: How long after a token was granted another process may still send the older one (tokens memoised 200 ms).
TOKEN_SLACK = timedelta(seconds=1.0)

#: Token calls per vendor, recognised by path (the vendor log has no service column).
TOKEN_PATHS = {
    "autotrader": re.compile(r"^/authenticate$"),
    "webmotors": re.compile(r"/oauth/.*access-token$"),
    "autochat": re.compile(r"/oauth/token$"),
}
#: Token lifetimes assumed when the store holds no token of the vendor (contracts' values).
DEFAULT_LIFETIME = {"autotrader": 900.0, "webmotors": 3600.0, "autochat": 86400.0}


def judge(check_id: str, *, exercised: bool, violations: Sequence[dict[str, Any]], ok_rows: Sequence[dict[str, Any]],
          passed: str, failed: str, not_exercised: str, basis: str = "store", limits: str | None = None) -> Evidence:
    """Failed when there are violations (they are the rows), else passed when exercised."""
    if violations:
        return evidence(check_id, Verdict.FAILED, failed, violations, basis=basis, limits=limits)
    if exercised:
        return evidence(check_id, Verdict.PASSED, passed, ok_rows, basis=basis, limits=limits)
    return evidence(check_id, Verdict.NOT_EXERCISED, not_exercised, ok_rows, basis=basis, limits=limits)


def basis_of(source: str) -> str:
    return "our call log (api_calls)" if source == OURS else "the vendor's call log (sandbox)"


def seconds(delta: timedelta) -> float:
    return round(delta.total_seconds(), 3)


def is_token_call(call: Call) -> bool:
    if call.service in ("authenticate", "oauth"):
        return True
    pattern = TOKEN_PATHS.get(call.vendor)
    return bool(pattern and pattern.search(call.path))


def api_only(calls: Iterable[Call]) -> list[Call]:
    return [c for c in calls if not is_token_call(c)]


# ---- tokens ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Lifetime:
    seconds: float
    window: float    # two token requests closer than this, with no 401 between, are one too many
    source: str

    def describe(self) -> str:
        return f"token lifetime {round(self.seconds):g} s ({self.source})"


def lifetime(conn: sa.Connection, ctx: Context, vendor: str) -> Lifetime:
    """The vendor's token lifetime: from the tokens cached in the store, else the contract's.

    A token is refreshed when less than the refresh margin (60 s) is left, so requests are at
    least lifetime − 60 s apart; short test lifetimes get half their length as the window.
    """
    found = facts.token_lifetimes(conn, ctx, vendor)
    value, source = ((min(found), "from api_tokens") if found
                     else (DEFAULT_LIFETIME[vendor], "the contract's; no token in api_tokens"))
    window = value - 60.0 if value > 120.0 else value / 2.0
    return Lifetime(value, window, source)


def extra_grants(grants: Sequence[Call], calls: Sequence[Call], life: Lifetime) -> list[dict[str, Any]]:
    """Token requests made while the previous token was still valid and nothing refused it (no 401).

    Only a refusal of the token `before` granted excuses the next request: a call that still
    carried an older token (in flight while the grant was answered, or from a process whose
    cache had not yet seen it) says nothing about the newer one.
    """
    first_use = {g.token: g.first.ts for g in generations(api_only(calls))}
    refused = [c for c in calls if c.status == 401 and not is_token_call(c)]
    found = []
    for before, after in zip(grants, grants[1:]):
        gap = (after.ts - before.ts).total_seconds()
        if gap >= life.window:
            continue
        if any(_refuses_grant(c, before, first_use) and c.ts <= after.ts for c in refused):
            continue
        found.append(after.row(previous_grant=before.ts, gap_s=round(gap, 3),
                               why=f"second token request {gap:.1f} s after the previous one "
                                   f"(lifetime {life.seconds:g} s, no 401 between)"))
    return found


def _refuses_grant(refusal: Call, grant: Call, first_use: dict[str, datetime]) -> bool:
    """Whether a 401 refused the token `grant` obtained rather than an older one."""
    if refusal.token is not None and refusal.token in first_use:  # the vendor's log names the token
        return first_use[refusal.token] >= grant.ts
    answered = grant.ts + timedelta(milliseconds=grant.duration_ms or 0.0)
    if refusal.ts < answered:  # sent while the grant was in flight: with the older token
        return False
    if refusal.run_id == grant.run_id:  # the process that obtained it uses it at once
        return True
    return refusal.ts >= answered + TOKEN_SLACK  # other processes may hold the older one a moment longer


@dataclass
class Generation:
    """One token as the vendor saw it used: first and last use, by whom."""

    token: str
    first: Call
    last: Call
    uses: int


def generations(calls: Iterable[Call]) -> list[Generation]:
    by_token: dict[str, Generation] = {}
    for call in calls:
        if not call.token:
            continue
        gen = by_token.get(call.token)
        if gen is None:
            by_token[call.token] = Generation(call.token, call, call, 1)
        else:
            gen.last, gen.uses = call, gen.uses + 1
    return sorted(by_token.values(), key=lambda g: g.first.ts)


def extra_generations(gens: Sequence[Generation], calls: Sequence[Call], life: Lifetime) -> list[dict[str, Any]]:
    """A new token first used while the previous one was young and unrefused (vendor-side view)."""
    found = []
    for before, after in zip(gens, gens[1:]):
        gap = (after.first.ts - before.first.ts).total_seconds()
        if gap >= life.window:
            continue
        if any(c.status == 401 and c.token == before.token for c in calls):
            continue
        found.append(after.first.row(previous_token=before.token, gap_s=round(gap, 3),
                                     why=f"a new token {gap:.1f} s after the previous one came into use "
                                         f"(lifetime {life.seconds:g} s, no 401 on it)"))
    return found


# ---- blocks ------------------------------------------------------------------------------------------
#: Block reasons that stop one exact request (bad input), not a dealer or a service.
REQUEST_REASONS = ("400", "422")


def covered(block: dict[str, Any], call: Call) -> bool:
    """Whether an api_blocks row forbids this call: the exact request for bad input, else its dealer
    (and its service unless the whole dealer is blocked)."""
    if block["reason"] in REQUEST_REASONS:
        return call.method == block["method"] and call.target() == _display(block["path"])
    if block["dealer_id"] is not None and call.dealer_id != block["dealer_id"]:
        return False
    return block["service"] is None or (call.service or _service_of_path(call.path)) == block["service"]


def _display(path: str | None) -> str:
    from dealer_pipeline.certification.calls import split_target

    p, q = split_target(path or "")
    return p + ("?" + "&".join(f"{k}={v}" for k, v in q.items()) if q else "")


def _service_of_path(path: str) -> str:
    segments = [s for s in path.split("/") if s]
    if segments and re.fullmatch(r"v\d+", segments[0]):
        segments = segments[1:]
    return segments[0] if segments else ""


def calls_after_blocks(blocks: Sequence[dict[str, Any]], calls: Sequence[Call]) -> list[dict[str, Any]]:
    """Calls a block covered, sent after it was set (beyond the caches' slack) and before it was lifted."""
    found = []
    for block in blocks:
        start = block["created_at"] + BLOCK_SLACK
        end = block["resolved_at"]
        for call in calls:
            if call.ts <= start or (end is not None and call.ts >= end):
                continue
            if covered(block, call):
                found.append(call.row(block=block["id"], reason=block["reason"],
                                      why=f"sent while block {block['id']} ({block['reason']}) was unresolved"))
    return found


def block_row(block: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"block": block["id"], "created_at": block["created_at"], "reason": block["reason"],
            "dealer": block["dealer_id"] or "*", "service": block["service"] or "*", "cf_ray": block["cf_ray"],
            "message": (block["message"] or "")[:120] or None, "action": (block["action"] or "")[:160] or None,
            "resolved_at": block["resolved_at"], **extra}


def json_value(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def first_after(calls: Sequence[Call], when: datetime, *, exclude: Call | None = None) -> Call | None:
    for call in calls:
        if call.ts > when and call is not exclude:
            return call
    return None

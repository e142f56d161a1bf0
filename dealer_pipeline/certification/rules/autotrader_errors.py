"""Autotrader errors and fair usage: AT-FAIR-429/503, AT-ERR-400/401/403A/403B/CFRAY, AT-BASE-4.

These are demonstrations: judged from our own call log (`api_calls`: run id and attempt
included), the blocks raised for a person (`api_blocks`) and the pauses shared by every
process (`api_pauses`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from dealer_pipeline.certification import facts
from dealer_pipeline.certification.calls import Call, our_calls
from dealer_pipeline.certification.model import Context, Evidence
from dealer_pipeline.certification.registry import rule
from dealer_pipeline.certification.rules.common import (
    PAUSE_SLACK,
    api_only,
    block_row,
    calls_after_blocks,
    covered,
    is_token_call,
    judge,
    lifetime,
    seconds,
)
from dealer_pipeline.store.schema import api_pauses

VENDOR = "autotrader"
SERVICE_PAUSE_MIN = 2.0
BASIS = "our call log (api_calls), api_blocks, api_pauses"


def _answered(call: Call) -> Any:
    """When the answer arrived (the pause or block is set right after)."""
    return call.ts + timedelta(milliseconds=call.duration_ms or 0)


def _pauses(conn: sa.Connection, ctx: Context) -> list[dict[str, Any]]:
    return facts.memo(ctx, "pauses:autotrader", lambda: facts.select(
        conn, ctx, api_pauses, "scope", "paused_until", "reason", "cf_ray", "set_at",
        where=[api_pauses.c.vendor == VENDOR]))


def _pause_for(conn: sa.Connection, ctx: Context, call: Call, scope: str) -> dict[str, Any] | None:
    """The api_pauses row this failure set, if it is still the latest of its scope."""
    answered = _answered(call)
    for pause in _pauses(conn, ctx):
        if pause["scope"] == scope and call.ts <= pause["set_at"] <= answered + timedelta(seconds=2):
            return pause
    return None


def _retry_of(calls: list[Call], call: Call) -> Call | None:
    for other in calls:
        if other.ts > call.ts and other.run_id == call.run_id and other.method == call.method \
                and other.target() == call.target() and (other.attempt or 0) == (call.attempt or 0) + 1:
            return other
    return None


@rule("AT-FAIR-429")
def at_fair_429(conn: sa.Connection, ctx: Context) -> Evidence:
    calls = our_calls(conn, ctx, VENDOR)
    limited = [c for c in calls if c.status == 429]
    violations, rows, judged = [], [], 0
    for call in limited:
        pause = _pause_for(conn, ctx, call, VENDOR)
        retry = _retry_of(calls, call)
        nxt = next((c for c in calls if c.ts > _answered(call) + PAUSE_SLACK), None)
        row = call.row(retry_at=retry.ts if retry else None,
                       next_call_gap_s=seconds(nxt.ts - _answered(call)) if nxt else None)
        if pause is None:
            rows.append({**row, "pause_s": None, "note": "pause no longer in api_pauses (it keeps the latest per "
                                                         "scope): not judged"})
            continue
        judged += 1
        length = pause["paused_until"] - pause["set_at"]
        rows.append({**row, "pause_s": seconds(length), "paused_until": pause["paused_until"]})
        for other in calls:
            if pause["set_at"] + PAUSE_SLACK < other.ts < pause["paused_until"] - timedelta(milliseconds=50):
                violations.append(other.row(during_pause_of=call.ts, paused_until=pause["paused_until"],
                                            why="sent while every Autotrader call was paused after a 429"))
    return judge("AT-FAIR-429", exercised=judged > 0, violations=violations, ok_rows=rows,
                 passed=f"{len(limited)} responses 429; {judged} pauses judged: no Autotrader call by any process "
                        "during the pause (Retry-After, else the configured pause)",
                 failed=f"{len(violations)} calls were sent during a 429 pause",
                 not_exercised=(f"{len(limited)} responses 429, but their pauses are no longer in api_pauses"
                                if limited else "no 429 in api_calls"),
                 basis=BASIS,
                 limits="api_pauses keeps only the latest pause per scope and api_calls does not record Retry-After, "
                        "so only the most recent 429 can be judged exactly")


@rule("AT-FAIR-503")
def at_fair_503(conn: sa.Connection, ctx: Context) -> Evidence:
    calls = our_calls(conn, ctx, VENDOR)
    failures = [c for c in calls if c.status in (500, 503, 504)]
    violations, rows = [], []
    for call in failures:
        service = call.service or call.path.strip("/").split("/")[0]
        pause = _pause_for(conn, ctx, call, f"{VENDOR}/{service}")
        start = pause["set_at"] if pause else _answered(call)
        length = max(SERVICE_PAUSE_MIN, (pause["paused_until"] - pause["set_at"]).total_seconds() if pause else 0.0)
        end = start + timedelta(seconds=length)
        same = [c for c in calls if start + PAUSE_SLACK < c.ts < end - timedelta(milliseconds=50)]
        others = [c for c in same if (c.service or c.path.strip("/").split("/")[0]) != service]
        for c in same:
            if c not in others:
                violations.append(c.row(during_pause_of=call.ts, service=service,
                                        why=f"sent to /{service} less than {length:g} s after a {call.status}"))
        nxt = next((c for c in calls if c.ts > start + PAUSE_SLACK
                    and (c.service or c.path.strip("/").split("/")[0]) == service), None)
        rows.append(call.row(service=service, pause_s=length, next_call_on_service_gap_s=seconds(nxt.ts - start)
                             if nxt else None, other_services_meanwhile=len(others)))
    return judge("AT-FAIR-503", exercised=bool(failures), violations=violations, ok_rows=rows,
                 passed=f"{len(failures)} responses 500/503/504; the service was left alone for at least "
                        f"{SERVICE_PAUSE_MIN:g} s each time (other services continued)",
                 failed=f"{len(violations)} calls reached a paused service within {SERVICE_PAUSE_MIN:g} s",
                 not_exercised="no 500/503/504 from Autotrader in api_calls", basis=BASIS)


@rule("AT-ERR-400")
def at_err_400(conn: sa.Connection, ctx: Context) -> Evidence:
    calls = our_calls(conn, ctx, VENDOR)
    bad = [c for c in calls if c.status == 400]
    blocks = [b for b in facts.blocks(conn, ctx, VENDOR) if b["reason"] == "400"]
    violations, rows = [], []
    for call in bad:
        block = next((b for b in blocks if covered(b, call) and call.ts - timedelta(seconds=1) <= b["created_at"]
                      <= _answered(call) + timedelta(seconds=5)), None)
        if block is None:
            block = next((b for b in blocks if covered(b, call) and b["created_at"] <= call.ts
                          and (b["resolved_at"] is None or b["resolved_at"] > call.ts)), None)
            if block is not None:
                violations.append(call.row(block=block["id"], why="re-sent while its 400 block was unresolved"))
            else:
                violations.append(call.row(why="400 without a block flagging the input to an operator"))
            continue
        if not block["message"]:
            violations.append(block_row(block, why="the block lacks the vendor's message"))
        retry = _retry_of(calls, call)
        if retry is not None:
            violations.append(retry.row(why="a 400 was retried"))
        rows.append(block_row(block, request=f"{call.method} {call.target()}", status=call.status))
    violations += calls_after_blocks(blocks, calls)
    return judge("AT-ERR-400", exercised=bool(bad), violations=violations, ok_rows=rows,
                 passed=f"{len(bad)} responses 400, each flagged in api_blocks with the vendor's message and never "
                        "sent again while unresolved",
                 failed=f"{len(violations)} breaches of the 400 rule",
                 not_exercised="no 400 from Autotrader in api_calls",
                 basis=BASIS)


@rule("AT-ERR-401")
def at_err_401(conn: sa.Connection, ctx: Context) -> Evidence:
    calls = our_calls(conn, ctx, VENDOR)
    api = api_only(calls)
    grants = [c for c in calls if is_token_call(c) and c.ok]
    refused = [c for c in api if c.status == 401]
    life = lifetime(conn, ctx, VENDOR)
    violations, rows = [], []
    for call in refused:
        if any(call.ts - timedelta(seconds=5) <= g.ts <= call.ts for g in grants):
            rows.append(call.row(note="a token had just been renewed by another process"))
            continue
        answered = _answered(call)
        grant = next((g for g in grants if g.ts >= call.ts), None)
        end = grant.ts if grant else None
        for other in api:
            if other is call or other.ts <= answered + PAUSE_SLACK or (end is not None and other.ts >= end):
                continue
            violations.append(other.row(after_401_at=call.ts, why="sent after a 401 before a new token was obtained"))
        retry = next((c for c in api if c.ts > call.ts and c.run_id == call.run_id and c.target() == call.target()),
                     None)
        rows.append(call.row(new_token_at=end, token_wait_s=seconds(end - answered) if end else None,
                             retried_at=retry.ts if retry else None, retry_status=retry.status if retry else None))
    return judge("AT-ERR-401", exercised=bool(refused), violations=violations, ok_rows=rows,
                 passed=f"{len(refused)} responses 401; no Autotrader call until a new token was obtained "
                        f"({life.describe()})",
                 failed=f"{len(violations)} calls were sent between a 401 and the next token",
                 not_exercised="no 401 on an Autotrader API call in api_calls", basis=BASIS)


def _forbidden(conn: sa.Connection, ctx: Context, check_id: str, reason: str, scope: str) -> Evidence:
    calls = our_calls(conn, ctx, VENDOR)
    blocks = [b for b in facts.blocks(conn, ctx, VENDOR) if b["reason"] == reason]
    violations = []
    for block in blocks:
        missing = [name for name in ("message", "action", "cf_ray") if not block[name]]
        if reason == "403B" and not block["service"]:
            missing.append("service")
        if missing:
            violations.append(block_row(block, why=f"block without {', '.join(missing)}"))
    unblocked = [c.row(why="403 without a block") for c in calls if c.status == 403
                 if not any(b["created_at"] >= c.ts - timedelta(seconds=1)
                            and b["created_at"] <= _answered(c) + timedelta(seconds=5)
                            for b in facts.blocks(conn, ctx, VENDOR) if b["reason"].startswith("403"))]
    violations += unblocked + calls_after_blocks(blocks, calls)
    rows = []
    for block in blocks:
        later = [c for c in calls if c.ts > block["created_at"] and c.dealer_id == block["dealer_id"]
                 and (block["resolved_at"] is None or c.ts < block["resolved_at"])]
        rows.append(block_row(block, dealer_calls_after=len(later)))
    return judge(check_id, exercised=bool(blocks), violations=violations, ok_rows=rows,
                 passed=f"{len(blocks)} blocks {reason} with the vendor's message, an action and the CF-RAY; no call "
                        f"covered by them ({scope}) was sent while unresolved",
                 failed=f"{len(violations)} breaches: missing details, or calls sent while blocked",
                 not_exercised=f"no {reason} block in api_blocks", basis=BASIS)


@rule("AT-ERR-403A")
def at_err_403a(conn: sa.Connection, ctx: Context) -> Evidence:
    return _forbidden(conn, ctx, "AT-ERR-403A", "403A", "every call for the advertiser")


@rule("AT-ERR-403B")
def at_err_403b(conn: sa.Connection, ctx: Context) -> Evidence:
    return _forbidden(conn, ctx, "AT-ERR-403B", "403B", "that service for the advertiser; other services continue")


@rule("AT-ERR-CFRAY")
def at_err_cfray(conn: sa.Connection, ctx: Context) -> Evidence:
    calls = our_calls(conn, ctx, VENDOR)
    failed = [c for c in calls if c.status is not None and c.status >= 400]
    no_answer = [c for c in calls if c.status is None]
    violations = [c.row(why="failed call stored without its CF-RAY") for c in failed if not c.cf_ray]
    violations += [block_row(b, why="block stored without the CF-RAY of the refused call")
                   for b in facts.blocks(conn, ctx, VENDOR) if not b["cf_ray"]]
    violations += [{"pause": p["scope"], "set_at": p["set_at"], "reason": p["reason"],
                    "why": "pause stored without the CF-RAY of the response that caused it"}
                   for p in _pauses(conn, ctx) if not p["cf_ray"]]
    rows = [c.row() for c in failed]
    note = f"; {len(no_answer)} calls got no response at all (no CF-RAY exists)" if no_answer else ""
    return judge("AT-ERR-CFRAY", exercised=bool(failed), violations=violations, ok_rows=rows,
                 passed=f"{len(failed)} failed Autotrader calls, each stored with its CF-RAY (blocks and pauses "
                        f"too){note}",
                 failed=f"{len(violations)} failures stored without a CF-RAY",
                 not_exercised="no failed Autotrader call (status >= 400) in api_calls", basis=BASIS)


@rule("AT-BASE-4")
def at_base_4(conn: sa.Connection, ctx: Context) -> Evidence:
    calls = our_calls(conn, ctx, VENDOR)
    stock = [c for c in calls if c.path.startswith("/stock")]
    refused = [c for c in stock if c.status == 403]
    blocks = [b for b in facts.blocks(conn, ctx, VENDOR) if b["reason"] in ("403A", "403B")]
    violations, rows = [], []
    for call in refused:
        block = next((b for b in blocks if b["dealer_id"] == call.dealer_id
                      and call.ts - timedelta(seconds=1) <= b["created_at"] <= _answered(call) + timedelta(seconds=5)),
                     None)
        if block is None:
            violations.append(call.row(why="403 from the Stock API without a block"))
            continue
        if "contact autotrader" not in (block["action"] or "").lower():
            violations.append(block_row(block, why="the action does not say to contact Autotrader"))
        retry = _retry_of(calls, call)
        if retry is not None:
            violations.append(retry.row(why="a 403 from the Stock API was retried"))
        rows.append(block_row(block, request=f"{call.method} {call.target()}"[:120]))
    stock_blocks = [b for b in blocks if b["service"] in (None, "stock")]
    violations += calls_after_blocks(stock_blocks, stock)
    return judge("AT-BASE-4", exercised=bool(refused), violations=violations, ok_rows=rows,
                 passed=f"{len(refused)} responses 403 from the Stock API; each raised a block telling the operator to "
                        "contact Autotrader, and no stock call was made for that advertiser until it was resolved",
                 failed=f"{len(violations)} breaches: a 403 retried, unblocked, or stock calls made while blocked",
                 not_exercised="no 403 from the Stock API in api_calls", basis=BASIS)

"""Webmotors homologation evidence: WM-AUTH-1, WM-STOCK-1, WM-STATUS-1, WM-LEAD-1/2, WM-ERR-401."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from dealer_pipeline.certification import facts
from dealer_pipeline.certification.calls import VENDOR_LOG, Call, judged_calls, our_calls
from dealer_pipeline.certification.model import Context, Evidence
from dealer_pipeline.certification.registry import rule
from dealer_pipeline.certification.rules.autotrader_auth import _event_row
from dealer_pipeline.certification.rules.common import (
    api_only,
    basis_of,
    block_row,
    extra_generations,
    extra_grants,
    generations,
    is_token_call,
    judge,
    lifetime,
)
from dealer_pipeline.store.schema import leads

VENDOR = "webmotors"
STOCK_PATH = re.compile(r"/estoque$")
STATUS_PATH = re.compile(r"/anuncios/(?P<ad>[^/]+)/status$")
LEAD_PATH = re.compile(r"/leads?/v\d+/leads/(?P<lead>[^/]+)$")
CRM_PATH = re.compile(r"/crm/.*leads$")
MAX_PAGE_SIZE = 100
#: Words of each of Webmotors' three probable causes of a 401, as our block actions name them.
CAUSES = (("token",), ("deactivat", "desativad"), ("integrador de api",))


@rule("WM-AUTH-1")
def wm_auth_1(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    life = lifetime(conn, ctx, VENDOR)
    violations: list[dict[str, Any]] = []
    per_dealer: dict[str, list[Call]] = defaultdict(list)
    for call in calls:
        per_dealer[call.dealer_id or "?"].append(call)
    rows = []
    for dealer, mine in sorted(per_dealer.items()):
        api = api_only(mine)
        grants = [c for c in mine if is_token_call(c) and c.ok]
        if source == VENDOR_LOG:
            gens = generations(api)
            violations += extra_generations(gens, api, life)
            granted = len(gens)
        else:
            violations += extra_grants(grants, mine, life)
            granted = len(grants)
            for refused in (c for c in api if c.status == 401):
                cured = next((c for c in api if c.ts > refused.ts and c.status != 401), None)
                between = [g for g in grants if refused.ts < g.ts and (cured is None or g.ts < cured.ts)]
                if len(between) > 1:
                    violations.append(refused.row(grants_after=len(between), why="more than one new token after "
                                                                                 "a 401"))
        if api or granted:
            rows.append({"dealer": dealer, "tokens": granted, "api_calls": len(api),
                         "answered_401": sum(c.status == 401 for c in api)})
    used = [r for r in rows if r["tokens"] and r["api_calls"]]
    return judge("WM-AUTH-1", exercised=bool(used), violations=violations, ok_rows=rows,
                 passed=f"{len(used)} dealer users, each with its own token reused until expiry ({life.describe()}); "
                        "a 401 was followed by at most one new token",
                 failed=f"{len(violations)} token requests broke the one-token-per-user rule",
                 not_exercised="no Webmotors token request followed by API calls", basis=basis_of(source))


@rule("WM-STOCK-1")
def wm_stock_1(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    lists = [c for c in calls if c.method == "GET" and STOCK_PATH.search(c.path)]
    violations = [c.row(why="stock list call without p and qty (1..100)") for c in lists
                  if not (c.param("p") or "").isdigit() or not (c.param("qty") or "").isdigit()
                  or not 1 <= int(c.param("qty") or 0) <= MAX_PAGE_SIZE]
    rows, judged, multi = [], 0, 0
    for run in facts.sync_runs(conn, ctx, VENDOR, "baseline"):
        if not run["complete"] or run["finished_at"] is None or run["records"] is None:
            continue
        inside = [c for c in lists if c.ok and c.dealer_id == run["dealer_id"]
                  and run["started_at"] <= c.ts <= run["finished_at"]]
        if not inside:
            continue
        judged += 1
        size = max(int(c.param("qty") or 0) for c in inside) or 1
        pages = [int(c.param("p") or 0) for c in inside]
        needed = max(1, math.ceil(run["records"] / size))
        multi += needed > 1
        missing = sorted(set(range(1, needed + 1)) - set(pages))
        twice = sorted(p for p, n in Counter(pages).items() if n > 1)
        row = {"sync_run": run["id"], "dealer": run["dealer_id"], "started_at": run["started_at"],
               "total": run["records"], "qty": size, "pages_requested": len(pages), "pages_needed": needed}
        if missing or twice:
            violations.append({**row, "missing": str(missing), "twice": str(twice),
                               "why": "pages missing or requested twice"})
        else:
            rows.append(row)
    return judge("WM-STOCK-1", exercised=judged > 0, violations=violations, ok_rows=rows,
                 passed=f"{judged} complete Cockpit stock listings read page by page (p from 1, qty <= 100), every "
                        f"page once ({multi} needed more than one page)",
                 failed=f"{len(violations)} stock calls or listings broke the paging rule",
                 not_exercised="no complete Webmotors baseline covered by the call log", basis=basis_of(source))


@rule("WM-STATUS-1")
def wm_status_1(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    sent: dict[str, list[Call]] = defaultdict(list)
    for call in calls:
        match = STATUS_PATH.search(call.path) if call.method == "PUT" else None
        if match:
            sent[match["ad"]].append(call)
    reports = facts.publications(conn, ctx, "webmotors_status")
    violations = []
    for report in reports:
        body = report["payload"] or {}
        status = body.get("status")
        base = {"vehicle": report["vehicle_id"], "ad": report["external_id"], "status": status,
                "reported_at": report["updated_at"], "last_status": report["last_status"]}
        if status == "Publicado" and not body.get("url"):
            violations.append({**base, "why": "Publicado without the ad's url"})
        elif status == "Erro" and not str(body.get("mensagem") or "").strip():
            violations.append({**base, "why": "Erro without the error text"})
        elif status not in ("Publicado", "Erro"):
            violations.append({**base, "why": "status is neither Publicado nor Erro"})
        if report["last_status"] is not None and 200 <= report["last_status"] < 300 \
                and not any(c.ok for c in sent.get(str(report["external_id"]), [])):
            violations.append({**base, "why": "recorded as reported, but no accepted PUT …/status in the call log"})
    violations += _unreported(conn, ctx, reports)
    rows = [{"vehicle": r["vehicle_id"], "ad": r["external_id"], "status": (r["payload"] or {}).get("status"),
             "mensagem": ((r["payload"] or {}).get("mensagem") or "")[:80] or None, "reported_at": r["updated_at"],
             "answer": r["last_status"], "error": (r["last_error"] or "")[:80] or None} for r in reports]
    total = sum(len(v) for v in sent.values())
    said = Counter((r["payload"] or {}).get("status") for r in reports)
    return judge("WM-STATUS-1", exercised=bool(reports) or total > 0, violations=violations, ok_rows=rows,
                 passed=f"{len(reports)} vehicles' publication status reported back ({total} PUT …/status calls): "
                        f"{said['Publicado']} Publicado with our URL, {said['Erro']} Erro with the reason",
                 failed=f"{len(violations)} reports missing, incomplete or not confirmed by the call log",
                 not_exercised="no publication status report to Webmotors",
                 basis=f"publications and {basis_of(source)}")


def _unreported(conn: sa.Connection, ctx: Context, reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Webmotors vehicles live on a channel before their dealer's latest report, not reported Publicado."""
    latest: dict[str, Any] = {}
    for report in reports:
        if report["updated_at"] is not None:
            latest[report["dealer_id"]] = max(latest.get(report["dealer_id"], report["updated_at"]),
                                               report["updated_at"])
    by_vehicle = {r["vehicle_id"]: r for r in reports}
    found = []
    for target in ("autocosmos", "autochat"):
        for pub in facts.publications(conn, ctx, target):
            if not pub["vehicle_id"].startswith(f"{VENDOR}:") or pub["state"] != "active":
                continue
            report_time = latest.get(pub["dealer_id"])
            if report_time is None or pub["published_at"] is None or pub["published_at"] >= report_time:
                continue
            mine = by_vehicle.get(pub["vehicle_id"])
            if mine is None or (mine["payload"] or {}).get("status") != "Publicado":
                found.append({"vehicle": pub["vehicle_id"], "dealer": pub["dealer_id"], "channel": target,
                              "published_at": pub["published_at"], "dealer_reported_at": report_time,
                              "why": "live on a channel before the dealer's latest report, not reported Publicado"})
    return found


@rule("WM-LEAD-1")
def wm_lead_1(conn: sa.Connection, ctx: Context) -> Evidence:
    notices = facts.events(conn, ctx, VENDOR)
    refused = facts.rejections(conn, ctx, VENDOR)
    stored = {r["lead_key"]: r for r in facts.select(
        conn, ctx, leads, "id", "lead_key", "dealer_id", "vehicle_id", "received_at", "detail",
        where=[leads.c.source == VENDOR], since="received_at")}
    fetched: dict[str, list[Call]] = defaultdict(list)
    for call in our_calls(conn, ctx, VENDOR):
        match = LEAD_PATH.search(call.path) if call.method == "GET" else None
        if match:
            fetched[match["lead"]].append(call)
    violations = [_event_row(e, why="applied, but no lead stored") for e in notices
                  if e["status"] == "applied" and (e["subject_id"] or "").strip() not in stored]
    violations += [{"rejection": r["id"], "received_at": r["received_at"], "status": r["http_status"],
                    "reason": r["reason"], "why": "a wrong or missing token must be answered 403"}
                   for r in refused if r["http_status"] not in (403, 413)]
    rows = []
    for key, lead in stored.items():
        answered = [c for c in fetched.get(key, []) if c.ok or c.status == 404]
        row = {"lead": key, "dealer": lead["dealer_id"], "vehicle": lead["vehicle_id"],
               "received_at": lead["received_at"], "detail": lead["detail"] is not None,
               "detail_calls": len(fetched.get(key, []))}
        if lead["detail"] is None and not answered:
            violations.append({**row, "why": "stored, but its detail was never fetched"})
        else:
            rows.append({**row, "note": "Webmotors does not know it (404)" if lead["detail"] is None else None})
    duplicates = sum(1 for e in notices if e["status"] == "ignored")
    return judge("WM-LEAD-1", exercised=bool(stored), violations=violations, ok_rows=rows,
                 passed=f"{len(notices)} lead notices accepted with our token ({len(refused)} refused with 403), "
                        f"{len(stored)} leads stored once ({duplicates} repeats ignored), details fetched",
                 failed=f"{len(violations)} lead notices not stored, not refused properly, or never fetched in detail",
                 not_exercised="no Webmotors lead in the store", basis="store (webhook_events, leads) and api_calls")


@rule("WM-LEAD-2")
def wm_lead_2(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    inserts = [c for c in calls if c.method == "POST" and CRM_PATH.search(c.path)]
    rows_ = facts.select(conn, ctx, leads, "id", "lead_key", "dealer_id", "vehicle_id", "received_at", "detail",
                         "forwarded_at", "forward_status", where=[leads.c.source == "autocosmos"], since="received_at")
    forwarded = [r for r in rows_ if r["forward_status"] == "forwarded"]
    violations = [{"lead": r["lead_key"], "dealer": r["dealer_id"], "why": "forwarded without a CRM id or time"}
                  for r in forwarded if not r["forwarded_at"] or not (r["detail"] or {}).get("crm_id")]
    per_dealer = Counter(r["dealer_id"] for r in forwarded)
    accepted = Counter(c.dealer_id for c in inserts if c.ok)
    for dealer, n in accepted.items():
        if n > per_dealer.get(dealer, 0):
            violations.append({"dealer": dealer, "crm_inserts_accepted": n,
                               "leads_forwarded": per_dealer.get(dealer, 0),
                               "why": "more CRM inserts accepted than leads forwarded: a lead was inserted twice"})
    rows = [{"lead": r["lead_key"], "dealer": r["dealer_id"], "vehicle": r["vehicle_id"], "status": r["forward_status"],
             "forwarded_at": r["forwarded_at"], "crm_id": (r["detail"] or {}).get("crm_id")} for r in rows_]
    waiting = Counter(r["forward_status"] for r in rows_)
    return judge("WM-LEAD-2", exercised=bool(forwarded), violations=violations, ok_rows=rows,
                 passed=f"{len(forwarded)} Autocosmos enquiries inserted into the Cockpit CRM with "
                        f"{sum(accepted.values())} accepted inserts: once each (lead states: {dict(waiting)})",
                 failed=f"{len(violations)} CRM inserts repeated or forwarded leads without a CRM id",
                 not_exercised=f"no enquiry forwarded to a Cockpit CRM (lead states: {dict(waiting) or 'none'})",
                 basis=f"leads and {basis_of(source)}")


@rule("WM-ERR-401")
def wm_err_401(conn: sa.Connection, ctx: Context) -> Evidence:
    calls = our_calls(conn, ctx, VENDOR)
    blocks = [b for b in facts.blocks(conn, ctx, VENDOR) if b["reason"] == "401"]
    violations = []
    for block in blocks:
        action = (block["action"] or "").lower()
        missing = [words[0] for words in CAUSES if not any(w in action for w in words)]
        if missing:
            violations.append(block_row(block, why=f"the action does not name every probable cause ({missing})"))
    for call in (c for c in calls if c.status == 401):
        cured = any(c.ts > call.ts and c.ok and c.dealer_id == call.dealer_id and c.target() == call.target()
                    and c.ts - call.ts < timedelta(minutes=1) for c in calls)
        reported = any(b["dealer_id"] == call.dealer_id and call.ts - timedelta(seconds=1) <= b["created_at"]
                       <= call.ts + timedelta(seconds=10) for b in blocks)
        if not cured and not reported and not _retried_401(calls, call):
            violations.append(call.row(why="401 neither cured by one new token nor reported with the three causes"))
    return judge("WM-ERR-401", exercised=bool(blocks), violations=violations,
                 ok_rows=[block_row(b) for b in blocks],
                 passed=f"{len(blocks)} uncured 401s reported in api_blocks with the three probable causes (token, "
                        "integration deactivated, no active \"Integrador de API\" user)",
                 failed=f"{len(violations)} 401s not reported with the three causes",
                 not_exercised="no uncured Webmotors 401 (no 401 block in api_blocks)",
                 basis="our call log (api_calls), api_blocks")


def _retried_401(calls: list[Call], call: Call) -> bool:
    """A first 401 that our client answered with a new token and a retry (which itself got 401 and was reported)."""
    return any(c.ts > call.ts and c.status == 401 and c.dealer_id == call.dealer_id and c.target() == call.target()
               and c.ts - call.ts < timedelta(minutes=1) for c in calls)


"""Autotrader Integration Fundamentals: tokens (AT-AUTH), advertisers (AT-ADV), advertiser notifications (AT-ADVN)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from dealer_pipeline.certification import facts
from dealer_pipeline.certification.calls import VENDOR_LOG, Call, judged_calls, our_calls, where
from dealer_pipeline.certification.model import Context, Evidence, Verdict, evidence
from dealer_pipeline.certification.registry import rule
from dealer_pipeline.certification.rules.common import (
    api_only,
    basis_of,
    extra_generations,
    extra_grants,
    generations,
    is_token_call,
    judge,
    lifetime,
)
from dealer_pipeline.store.schema import dealers, webhook_events

VENDOR = "autotrader"
ADVERTISERS_MAX_PAGE_SIZE = 100


def _grants(calls: list[Call]) -> tuple[list[Call], list[Call]]:
    tokens = [c for c in calls if is_token_call(c)]
    return [c for c in tokens if c.ok], [c for c in tokens if not c.ok]


@rule("AT-AUTH-1")
def at_auth_1(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    granted, refused = _grants(calls)
    tokens = [c for c in calls if is_token_call(c)]
    leaked = [c.row(why="credentials in the URL, where logs and proxies keep them")
              for c in tokens if {"key", "secret"} & set(c.query)]
    rows = [c.row() for c in tokens]
    life = lifetime(conn, ctx, VENDOR)
    if leaked:
        return evidence("AT-AUTH-1", Verdict.FAILED, f"{len(leaked)} token requests carried key/secret in the query "
                        "string instead of the form body", leaked, basis=basis_of(source))
    if not tokens:
        return evidence("AT-AUTH-1", Verdict.NOT_EXERCISED, "no POST /authenticate in the call log",
                        basis=basis_of(source))
    last = tokens[-1]
    if not last.ok:
        return evidence("AT-AUTH-1", Verdict.FAILED, f"the latest token request was refused ({last.status}); "
                        f"{len(granted)} earlier succeeded", rows[::-1], basis=basis_of(source))
    refused_note = f"; {len(refused)} refused earlier" if refused else ""
    return evidence("AT-AUTH-1", Verdict.PASSED,
                    f"{len(granted)} tokens obtained with POST /authenticate (form body key, secret){refused_note}; "
                    f"{life.describe()}", rows, basis=basis_of(source))


@rule("AT-AUTH-2")
def at_auth_2(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    life = lifetime(conn, ctx, VENDOR)
    granted, _ = _grants(calls)
    api = api_only(calls)
    limit = timedelta(seconds=life.seconds + 1.0)
    violations: list[dict[str, Any]] = []
    if source == VENDOR_LOG:
        for gen in generations(api):
            if gen.last.ts - gen.first.ts > limit:
                violations.append(gen.last.row(first_use=gen.first.ts, why=f"token used "
                                               f"{(gen.last.ts - gen.first.ts).total_seconds():.1f} s after its first "
                                               f"use ({life.describe()})"))
    else:
        index = 0
        for call in api:
            while index + 1 < len(granted) and granted[index + 1].ts <= call.ts:
                index += 1
            if not granted or granted[index].ts > call.ts:
                continue
            if call.ts - granted[index].ts > limit:
                violations.append(call.row(token_obtained=granted[index].ts, why="sent after the token it used had "
                                           f"expired ({life.describe()}), no new token obtained before it"))
    refusals = [c for c in api if c.status == 401]
    renewed = len(granted) >= 2 or bool(refusals)
    rows = [c.row(gap_s=round((c.ts - p.ts).total_seconds(), 1)) for p, c in zip(granted, granted[1:])]
    return judge("AT-AUTH-2", exercised=renewed, violations=violations, ok_rows=rows,
                 passed=f"{len(granted)} tokens; every call was made within its token's lifetime ({life.describe()}); "
                        f"{len(refusals)} calls answered 401 were followed by a new token",
                 failed=f"{len(violations)} calls were made with an expired token",
                 not_exercised=f"one token served the whole log; no expiry was reached ({life.describe()})",
                 basis=basis_of(source))


@rule("AT-AUTH-3")
def at_auth_3(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    life = lifetime(conn, ctx, VENDOR)
    granted, _ = _grants(calls)
    api = api_only(calls)
    if source == VENDOR_LOG:
        violations = extra_grants(granted, calls, life) or extra_generations(generations(api), api, life)
    else:
        violations = extra_grants(granted, calls, life)
    runs = {c.run_id for c in our_calls(conn, ctx, VENDOR) if c.run_id}
    rows = [c.row() for c in granted]
    summary = (f"{len(granted)} token requests for {len(api)} API calls across {len(runs)} runs "
               f"(processes/Dagster runs); {life.describe()}, window {round(life.window):g} s")
    return judge("AT-AUTH-3", exercised=bool(granted and api), violations=violations, ok_rows=rows,
                 passed=summary + "; never two token requests within one lifetime",
                 failed=f"{len(violations)} token requests while the previous token was still valid; " + summary,
                 not_exercised="no token request followed by API calls in the call log", basis=basis_of(source))


# ---- advertisers ------------------------------------------------------------------------------------
def _list_calls(calls: list[Call]) -> list[Call]:
    return [c for c in where(calls, method="GET", path="/advertisers") if "advertiserId" not in c.query]


@rule("AT-ADV-1")
def at_adv_1(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    listed = [c for c in _list_calls(calls) if c.ok]
    known = {r["source_dealer_id"]: r for r in facts.select(
        conn, ctx, dealers, "dealer_id", "source_dealer_id", "status", "first_seen_at", "left_at",
        where=[dealers.c.source == VENDOR])}
    stock = [c for c in where(calls, method="GET", prefix="/stock") if c.param("advertiserId")]
    unknown = [c.row(why="advertiser never listed by the Advertisers API") for c in stock
               if c.param("advertiserId") not in known]
    rows = [c.row() for c in listed[:5]] + [
        {"dealer": r["dealer_id"], "dealer_status": r["status"], "first_seen_at": r["first_seen_at"],
         "left_at": r["left_at"]}
        for r in list(known.values())[:15]]
    return judge("AT-ADV-1", exercised=bool(listed and known), violations=unknown, ok_rows=rows,
                 passed=f"{len(known)} Autotrader dealers, all from {len(listed)} Advertisers API pages; every stock "
                        "call names a listed advertiser",
                 failed=f"{len(unknown)} stock calls for advertisers the Advertisers API never listed",
                 not_exercised="no Advertisers API list call, or no Autotrader dealer in `dealers`",
                 basis=basis_of(source))


@rule("AT-ADV-2")
def at_adv_2(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    listing = _list_calls(calls)
    violations = []
    for c in listing:
        page, size = c.param("page"), c.param("pageSize")
        if page is None or size is None:
            violations.append(c.row(why="advertisers list call without page and pageSize"))
        elif not (page.isdigit() and size.isdigit() and int(page) >= 1
                  and 1 <= int(size) <= ADVERTISERS_MAX_PAGE_SIZE):
            violations.append(c.row(why=f"page/pageSize out of range (pageSize 1..{ADVERTISERS_MAX_PAGE_SIZE})"))
    pages_checked = 0
    for run in facts.sync_runs(conn, ctx, VENDOR, "advertisers"):
        if not run["complete"] or not run["records"] or run["finished_at"] is None:
            continue
        inside = [c for c in listing if run["started_at"] <= c.ts <= run["finished_at"] and c.ok]
        if not inside:
            continue  # the log does not cover this run (another clock, or trimmed)
        size = int(inside[0].param("pageSize") or 0) or ADVERTISERS_MAX_PAGE_SIZE
        wanted = set(range(1, max(1, math.ceil(run["records"] / size)) + 1))
        got = [int(c.param("page") or 0) for c in inside]
        pages_checked += 1
        missing = sorted(wanted - set(got))
        twice = sorted({p for p in got if got.count(p) > 1})
        if missing or twice:
            violations.append({"sync_run": run["id"], "started_at": run["started_at"], "records": run["records"],
                               "page_size": size, "missing_pages": str(missing), "pages_twice": str(twice)})
    rows = [c.row() for c in listing]
    return judge("AT-ADV-2", exercised=bool(listing), violations=violations, ok_rows=rows,
                 passed=f"{len(listing)} advertisers list calls, all with page and pageSize; {pages_checked} complete "
                        "listings read every page once",
                 failed=f"{len(violations)} advertisers list calls or listings broke the paging rule",
                 not_exercised="no advertisers list call in the call log", basis=basis_of(source))


@rule("AT-ADV-3")
def at_adv_3(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    single = [c for c in where(calls, method="GET", path="/advertisers") if "advertiserId" in c.query]
    by_path = [c.row(why="GET /advertisers/{id} is documented to answer 404: use ?advertiserId=")
               for c in where(calls, method="GET", prefix="/advertisers/")]
    return judge("AT-ADV-3", exercised=any(c.ok for c in single), violations=by_path, ok_rows=[c.row() for c in single],
                 passed=f"{len(single)} single-advertiser checks with ?advertiserId=",
                 failed=f"{len(by_path)} calls used /advertisers/{{id}}",
                 not_exercised="no GET /advertisers?advertiserId= in the call log (the pipeline checks a single "
                               "advertiser only on demand: AutotraderClient.get_advertiser)",
                 basis=basis_of(source))


# ---- advertiser notifications -------------------------------------------------------------------------
def _advertiser_events(conn: sa.Connection, ctx: Context) -> list[dict[str, Any]]:
    return [e for e in facts.events(conn, ctx, VENDOR) if e["event_type"] == "ADVERTISER"]


def _unsigned(conn: sa.Connection, ctx: Context, vendor: str, stored: list[dict[str, Any]],
              header: str) -> list[dict[str, Any]]:
    headers = facts.event_headers(conn, ctx, vendor)
    return [_event_row(e, why=f"stored without its {header} header") for e in stored
            if header not in headers.get(e["id"], {})]


def _event_row(event: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"event": event["id"], "received_at": event["received_at"], "type": event["event_type"],
            "subject": event["subject_id"], "version": event["subject_version"], "dealer": event["dealer_id"],
            "status": event["status"], "error": (event["error"] or "")[:120] or None, **extra}


def _delivery_failures(ctx: Context, vendor: str, prefix: str) -> tuple[list[dict[str, Any]], int]:
    """The vendor's notification attempts (prefix of their event label) that did not get a 2xx."""
    mine = [d for d in ctx.deliveries or []
            if d.get("vendor") == vendor and str(d.get("event") or "").startswith(prefix)]
    bad = [{"delivery": d.get("seq"), "ts": datetime.fromtimestamp(float(d["ts"]), UTC) if d.get("ts") else None,
            "event": d.get("event"), "attempt": d.get("attempt"), "status": d.get("status"),
            "error": (d.get("error") or "")[:120] or None, "why": "the vendor's signed notification got no 2xx"}
           for d in mine if not (isinstance(d.get("status"), int) and 200 <= d["status"] < 300)]
    return bad, len(mine)


def notification_evidence(conn: sa.Connection, ctx: Context, check_id: str, stored: list[dict[str, Any]], *,
                          vendor: str, header: str, delivery_prefix: str, what: str) -> Evidence:
    """Signed notifications: each stored one carried its signature; the vendor's attempts got a 2xx."""
    violations = _unsigned(conn, ctx, vendor, stored, header)
    limits = None
    basis = "store (webhook_events: every stored event was answered 2xx after its commit)"
    if ctx.deliveries is not None:
        failures, sent = _delivery_failures(ctx, vendor, delivery_prefix)
        violations += failures
        basis = f"the vendor's delivery log ({sent} attempts) and webhook_events"
    else:
        limits = ("the answers the vendor received are in its delivery log, not in our store; read it with "
                  "--sandbox-url to judge them")
    rows = [_event_row(e) for e in stored]
    return judge(check_id, exercised=bool(stored), violations=violations, ok_rows=rows,
                 passed=f"{len(stored)} {what} stored, each verified ({header}) before the 2xx",
                 failed=f"{len(violations)} {what} were not verified or not answered 2xx",
                 not_exercised=f"no {what} in webhook_events", basis=basis, limits=limits)


@rule("AT-ADVN-1")
def at_advn_1(conn: sa.Connection, ctx: Context) -> Evidence:
    return notification_evidence(conn, ctx, "AT-ADVN-1", _advertiser_events(conn, ctx), vendor=VENDOR,
                                 header="autotrader-signature", delivery_prefix="ADVERTISER",
                                 what="ADVERTISER notifications")


@rule("AT-ADVN-2")
def at_advn_2(conn: sa.Connection, ctx: Context) -> Evidence:
    stored = _advertiser_events(conn, ctx)
    bad = [_event_row(e, why="not recognised") for e in stored
           if e["status"] == "failed" or (e["status"] == "ignored" and "not handled" in (e["error"] or ""))]
    applied = [e for e in stored if e["status"] in ("applied", "ignored")]
    return judge("AT-ADVN-2", exercised=bool(applied), violations=bad, ok_rows=[_event_row(e) for e in stored],
                 passed=f"{len(applied)} ADVERTISER notifications recognised (applied, or ignored as older)",
                 failed=f"{len(bad)} ADVERTISER notifications failed or were treated as an unknown type",
                 not_exercised="no processed ADVERTISER notification in webhook_events")


@rule("AT-ADVN-3")
def at_advn_3(conn: sa.Connection, ctx: Context) -> Evidence:
    applied = [e for e in _advertiser_events(conn, ctx) if e["status"] == "applied"]
    if not applied:
        return evidence("AT-ADVN-3", Verdict.NOT_EXERCISED, "no applied ADVERTISER notification in webhook_events")
    bodies = {r["id"]: r["body"] for r in facts.select(
        conn, ctx, webhook_events, "id", "body", where=[webhook_events.c.id.in_([e["id"] for e in applied])])}
    latest: dict[str, tuple[datetime, dict[str, Any], dict[str, Any]]] = {}
    for event in applied:
        try:
            doc = json.loads(bodies.get(event["id"]) or "")
            when = datetime.fromisoformat(str(doc.get("time")).replace("Z", "+00:00"))
        except (ValueError, AttributeError):
            continue
        dealer = event["dealer_id"]
        if dealer and (dealer not in latest or when > latest[dealer][0]):
            latest[dealer] = (when, doc.get("data") or {}, event)
    stored = {r["dealer_id"]: r for r in facts.select(
        conn, ctx, dealers, "dealer_id", "name", "status", "source_updated_at", "updated_at", "raw",
        where=[dealers.c.dealer_id.in_(list(latest))])}
    violations, rows = [], []
    for dealer, (when, data, event) in latest.items():
        row = stored.get(dealer)
        base = _event_row(event, notification_time=when)
        if row is None:
            violations.append({**base, "why": "no dealers row for the advertiser"})
        elif row["source_updated_at"] is None or row["source_updated_at"] < when - timedelta(seconds=1):
            violations.append({**base, "stored_time": row["source_updated_at"],
                               "why": "the dealer's stored record is older than the applied notification"})
        elif row["source_updated_at"] <= when + timedelta(seconds=1) and row["raw"] != data:
            violations.append({**base, "why": "the dealer's stored record differs from the notification's data"})
        else:
            rows.append({**base, "dealer_name": row["name"], "stored_time": row["source_updated_at"],
                         "dealer_updated_at": row["updated_at"]})
    return judge("AT-ADVN-3", exercised=True, violations=violations, ok_rows=rows,
                 passed=f"{len(latest)} dealers hold the details of their latest ADVERTISER notification",
                 failed=f"{len(violations)} dealers do not hold their latest applied notification's details",
                 not_exercised="")

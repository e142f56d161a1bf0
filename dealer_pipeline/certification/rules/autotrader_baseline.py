"""Autotrader baselines and enrichments: AT-BASE-1/2/3/5, AT-FEAT-1/2, AT-CHG-1/2/3.

Paging is judged per complete baseline (`sync_runs`): the stock calls of that advertiser
inside the run's time window must request pages 1..n once each. Features and charge times
are judged per stock item: between two fetches of an item there must be a change of its
derivativeId (or, for features, of its features) in `vehicle_changes`.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from dealer_pipeline.certification import facts
from dealer_pipeline.certification.calls import Call, judged_calls, where
from dealer_pipeline.certification.model import Context, Evidence
from dealer_pipeline.certification.registry import rule
from dealer_pipeline.certification.rules.autotrader_stock import _identifier_check, _vehicle_row
from dealer_pipeline.certification.rules.common import basis_of, judge
from dealer_pipeline.store.schema import stock_enrichments, vehicles

VENDOR = "autotrader"
#: Sections the pipeline does not store: a stock call must ask for each with `=false` (api/autotrader.md 2.3).
UNUSED_SECTIONS = ("history", "check", "valuations", "responseMetrics")
FEATURES_PATH = re.compile(r"^/stock/(?P<stock>[^/]+)/features$")
CHARGE_PATH = re.compile(r"^/stock/(?P<stock>[^/]+)/[^/]*charge[^/]*$", re.IGNORECASE)
CHARGEABLE = ("electric", "plugin_hybrid")
LIVE = ("available", "reserved")
#: A change applied just before a fetch was in flight can still justify the next fetch.
CHANGE_SLACK = timedelta(seconds=5)


def _stock_lists(calls: Sequence[Call]) -> list[Call]:
    return where(calls, method="GET", path="/stock")


def _complete_baselines(conn: sa.Connection, ctx: Context) -> list[dict[str, Any]]:
    return [r for r in facts.sync_runs(conn, ctx, VENDOR, "baseline") if r["complete"] and r["finished_at"]]


@rule("AT-BASE-1")
def at_base_1(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    lists = _stock_lists(calls)
    violations = [c.row(why="stock list call without advertiserId") for c in lists if not c.param("advertiserId")]
    per = Counter(c.param("advertiserId") for c in lists if c.ok and c.param("advertiserId"))
    runs = _complete_baselines(conn, ctx)
    rows = [{"advertiserId": a, "stock_pages_fetched": n,
             "complete_baselines": sum(r["dealer_id"] == f"{VENDOR}:{a}" for r in runs)} for a, n in per.items()]
    return judge("AT-BASE-1", exercised=bool(per), violations=violations, ok_rows=rows,
                 passed=f"baseline stock of {len(per)} advertisers read with advertiserId ({len(runs)} complete "
                        "baselines in sync_runs)",
                 failed=f"{len(violations)} stock list calls named no advertiser",
                 not_exercised="no stock list call in the call log", basis=basis_of(source))


@rule("AT-BASE-2")
def at_base_2(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    lists = _stock_lists(calls)
    violations = [c.row(why="stock list call without page and pageSize") for c in lists
                  if c.param("page") is None or c.param("pageSize") is None]
    rows, multi = [], 0
    for run in _complete_baselines(conn, ctx):
        advertiser = run["dealer_id"].split(":", 1)[1]
        inside = [c for c in lists if c.ok and c.param("advertiserId") == advertiser
                  and run["started_at"] <= c.ts <= run["finished_at"]]
        if not inside or run["records"] is None:
            continue  # this log does not cover the run
        size = max(int(c.param("pageSize") or 0) for c in inside) or 1
        pages = [int(c.param("page") or 0) for c in inside]
        needed = max(1, math.ceil(run["records"] / size))
        missing = sorted(set(range(1, needed + 1)) - set(pages))
        twice = sorted(p for p, n in Counter(pages).items() if n > 1)
        row = {"sync_run": run["id"], "dealer": run["dealer_id"], "started_at": run["started_at"],
               "totalResults": run["records"], "pageSize": size, "pages_requested": len(pages), "pages_needed": needed}
        if run["records"] > size:
            multi += 1
        if missing or twice:
            violations.append({**row, "missing": str(missing), "twice": str(twice),
                               "why": "pages missing or requested twice in one baseline"})
        else:
            rows.append(row)
    rows.sort(key=lambda r: -r["pages_needed"])
    return judge("AT-BASE-2", exercised=multi > 0, violations=violations, ok_rows=rows,
                 passed=f"{multi} complete baselines exceeded one page; each requested pages 1..n once with page and "
                        "pageSize",
                 failed=f"{len(violations)} stock calls or baselines broke the paging rule",
                 not_exercised="no complete baseline had more records than its page size (every listing fit in one "
                               "page)", basis=basis_of(source))


@rule("AT-BASE-3")
def at_base_3(conn: sa.Connection, ctx: Context) -> Evidence:
    return _identifier_check(conn, ctx, "AT-BASE-3", ("source_vehicle_id", "search_id"),
                             lambda row: row["last_seen_in_baseline_at"] is not None, "vehicles from baselines")


@rule("AT-BASE-5")
def at_base_5(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    lists = _stock_lists(calls)
    violations = []
    for call in lists:
        missing = [s for s in UNUSED_SECTIONS if (call.param(s) or "").lower() != "false"]
        if missing:
            violations.append(call.row(full=True, why=f"not refined away: {', '.join(missing)}"))
    rows = [c.row(full=True) for c in lists[:5]]
    return judge("AT-BASE-5", exercised=bool(lists), violations=violations, ok_rows=rows,
                 passed=f"{len(lists)} stock list calls, each with {'=false, '.join(UNUSED_SECTIONS)}=false",
                 failed=f"{len(violations)} stock list calls asked for sections the pipeline does not use",
                 not_exercised="no stock list call in the call log", basis=basis_of(source))


# ---- enrichments -------------------------------------------------------------------------------------
def _fetches(calls: Sequence[Call], pattern: re.Pattern[str]) -> dict[str, list[Call]]:
    """Answered fetches (2xx, or 404 "absent") per stockId, oldest first."""
    found: dict[str, list[Call]] = defaultdict(list)
    for call in calls:
        match = pattern.match(call.path) if call.method == "GET" else None
        if match and (call.ok or call.status == 404):
            found[match["stock"]].append(call)
    return found


def _endpoint_calls(calls: Sequence[Call], pattern: re.Pattern[str]) -> list[Call]:
    return [c for c in calls if c.method == "GET" and pattern.match(c.path)]


def _enrichment_rows(conn: sa.Connection, ctx: Context, kind: str) -> list[dict[str, Any]]:
    e = stock_enrichments
    return facts.memo(ctx, f"enrichments:{kind}", lambda: facts.select(
        conn, ctx, e, "vehicle_id", "derivative_id", "fetched_at", "payload", where=[e.c.kind == kind]))


def _called_once(conn: sa.Connection, ctx: Context, check_id: str, pattern: re.Pattern[str],
                 fields: Sequence[str], what: str) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    fetches = _fetches(calls, pattern)
    reasons: dict[str, list[Any]] = defaultdict(list)
    for change in facts.changes(conn, ctx, fields=fields):
        reasons[change["vehicle_id"]].append(change["changed_at"])
    violations, repeats_ok = [], 0
    for stock_id, done in fetches.items():
        changed = reasons.get(f"{VENDOR}:{stock_id}", [])
        for before, after in zip(done, done[1:]):
            if any(before.ts - CHANGE_SLACK < t <= after.ts for t in changed):
                repeats_ok += 1
                continue
            violations.append(after.row(previous_fetch=before.ts, why=f"fetched again without a change of "
                                                                      f"{' or '.join(fields)}"))
    later_runs = 0
    runs = _complete_baselines(conn, ctx)
    for done in fetches.values():
        dealer = done[0].dealer_id or (f"{VENDOR}:{done[0].param('advertiserId')}"
                                       if done[0].param("advertiserId") else None)
        if any(r["dealer_id"] == dealer and r["started_at"] > done[0].ts for r in runs):
            later_runs += 1
    rows = [done[0].row(fetches=len(done)) for done in list(fetches.values())[:20]]
    total = sum(len(d) for d in fetches.values())
    return judge(check_id, exercised=later_runs > 0 or repeats_ok > 0, violations=violations, ok_rows=rows,
                 passed=f"{len(fetches)} stock items, {total} {what} fetches: one per item, {repeats_ok} repeats each "
                        f"after a change of {' or '.join(fields)}; {later_runs} items went through a later baseline "
                        "without a new call",
                 failed=f"{len(violations)} {what} fetches repeated without a change of {' or '.join(fields)}",
                 not_exercised=(f"{len(fetches)} items fetched once each, but no baseline ran after their first "
                                "fetch, so a repeat was never tempted" if fetches else f"no {what} call in the log"),
                 basis=basis_of(source))


@rule("AT-FEAT-1")
def at_feat_1(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    made = _endpoint_calls(calls, FEATURES_PATH)
    violations = [c.row(why="features call without advertiserId") for c in made if not c.param("advertiserId")]
    stored = _enrichment_rows(conn, ctx, "features")
    kept = sum(1 for r in stored if r["payload"] is not None)
    return judge("AT-FEAT-1", exercised=any(c.ok for c in made), violations=violations,
                 ok_rows=[c.row() for c in made],
                 passed=f"{len(made)} calls to /stock/{{stockId}}/features; {kept} items' taxonomy features kept in "
                        "stock_enrichments",
                 failed=f"{len(violations)} features calls without advertiserId",
                 not_exercised="no stock features call in the call log", basis=basis_of(source))


@rule("AT-FEAT-2")
def at_feat_2(conn: sa.Connection, ctx: Context) -> Evidence:
    return _called_once(conn, ctx, "AT-FEAT-2", FEATURES_PATH, ("derivative_id", "features"), "features")


@rule("AT-CHG-1")
def at_chg_1(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    made = _endpoint_calls(calls, CHARGE_PATH)
    violations = [c.row(why="charge-times call without advertiserId") for c in made if not c.param("advertiserId")]
    stored = _enrichment_rows(conn, ctx, "charge_times")
    with_times = sum(1 for r in stored if isinstance(r["payload"], dict) and r["payload"].get("chargeTimes"))
    return judge("AT-CHG-1", exercised=any(c.ok for c in made), violations=violations,
                 ok_rows=[c.row() for c in made],
                 passed=f"{len(made)} calls to the charge-times endpoint; {with_times} items with charge times kept",
                 failed=f"{len(violations)} charge-times calls without advertiserId",
                 not_exercised="no charge-times call in the call log (AUTOTRADER_CHARGE_TIMES_ENABLED=false, or no "
                               "electric/plug-in stock)", basis=basis_of(source))


@rule("AT-CHG-2")
def at_chg_2(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    made: dict[str, list[Call]] = defaultdict(list)
    for call in _endpoint_calls(calls, CHARGE_PATH):
        made[CHARGE_PATH.match(call.path)["stock"]].append(call)  # type: ignore[index]
    others = facts.select(conn, ctx, vehicles, "vehicle_id", "source_vehicle_id", "dealer_id", "availability",
                          "fuel_type", "updated_at",
                          where=[vehicles.c.source == VENDOR, vehicles.c.availability.in_(LIVE),
                                 sa.or_(vehicles.c.fuel_type.is_(None), vehicles.c.fuel_type.notin_(CHARGEABLE))])
    stored = {r["vehicle_id"]: r["payload"] for r in _enrichment_rows(conn, ctx, "charge_times")}
    violations, called, empty = [], 0, 0
    for row in others:
        tried = made.get(row["source_vehicle_id"], [])
        if not tried:
            continue
        called += 1
        last = tried[-1]
        payload = stored.get(row["vehicle_id"])
        if not (last.ok or last.status == 404):
            violations.append(_vehicle_row(row, fuel=row["fuel_type"], status=last.status, cf_ray=last.cf_ray,
                                           why="charge-times call for a non-plug-in vehicle was not handled"))
        elif isinstance(payload, dict) and payload.get("chargeTimes") == []:
            empty += 1
    rows = [_vehicle_row(r, fuel=r["fuel_type"], called=bool(made.get(r["source_vehicle_id"]))) for r in others]
    return judge("AT-CHG-2", exercised=bool(others), violations=violations, ok_rows=rows,
                 passed=f"{len(others)} live vehicles are neither electric nor plug-in: {len(others) - called} not "
                        f"called, {called} called ({empty} empty arrays accepted)",
                 failed=f"{len(violations)} non-plug-in vehicles' charge-times calls failed",
                 not_exercised="no live Autotrader vehicle that is neither electric nor plug-in hybrid",
                 basis=f"store (vehicles, stock_enrichments) and {basis_of(source)}")


@rule("AT-CHG-3")
def at_chg_3(conn: sa.Connection, ctx: Context) -> Evidence:
    return _called_once(conn, ctx, "AT-CHG-3", CHARGE_PATH, ("derivative_id",), "charge-times")

"""Autochat: ACH-AUTH-1, ACH-CAR-1/2/3 (one token per client, the car schema, options by name, updates and deletes)."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from dealer_pipeline.certification import facts
from dealer_pipeline.certification.calls import OURS, VENDOR_LOG, Call, judged_calls, our_calls
from dealer_pipeline.certification.model import Context, Evidence
from dealer_pipeline.certification.registry import rule
from dealer_pipeline.certification.rules.common import (
    api_only,
    basis_of,
    block_row,
    calls_after_blocks,
    extra_generations,
    extra_grants,
    generations,
    is_token_call,
    judge,
    lifetime,
)

VENDOR = "autochat"
TARGET = "autochat"
CARS = re.compile(r"/cars$")
CAR = re.compile(r"/cars/(?P<id>[^/]+)$")
OPTIONS = re.compile(r"/options$")
REQUIRED = ("dealershipId", "internalId", "brand", "model", "images")


def _pub_row(pub: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"vehicle": pub["vehicle_id"], "internalId": pub["external_id"], "dealership": pub["account_id"],
            "state": pub["state"], "last_op": pub["last_op"], "last_status": pub["last_status"],
            "updated_at": pub["updated_at"], **extra}


@rule("ACH-AUTH-1")
def ach_auth_1(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    life = lifetime(conn, ctx, VENDOR)
    grants = [c for c in calls if is_token_call(c) and c.ok]
    api = api_only(calls)
    violations = extra_grants(grants, calls, life)
    if source == VENDOR_LOG:
        violations = violations or extra_generations(generations(api), api, life)
    runs = {c.run_id for c in our_calls(conn, ctx, VENDOR) if c.run_id}
    return judge("ACH-AUTH-1", exercised=bool(grants and api), violations=violations, ok_rows=[c.row() for c in grants],
                 passed=f"{len(grants)} token requests for {len(api)} API calls across {len(runs)} runs "
                        f"({life.describe()}); never two within one lifetime",
                 failed=f"{len(violations)} token requests while the previous token was still valid",
                 not_exercised="no Autochat token request followed by API calls", basis=basis_of(source))


@rule("ACH-CAR-1")
def ach_car_1(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    created = [c for c in calls if c.method == "POST" and CARS.search(c.path)]
    violations, rows = [], []
    for pub in facts.publications(conn, ctx, TARGET):
        body = pub["payload"]
        if body is None:
            continue
        missing = [k for k in REQUIRED if k not in body or body[k] in (None, "")]
        if "images" in body and not isinstance(body["images"], list):
            missing.append("images (not a list)")
        if missing:
            violations.append(_pub_row(pub, why=f"car sent without {', '.join(missing)}"))
        else:
            rows.append(_pub_row(pub, images=len(body["images"]), fields=len(body)))
    violations += [_pub_row(p, error=(p["last_error"] or "")[:120], why="Autochat refused the schema")
                   for p in facts.publications(conn, ctx, TARGET)
                   if p["last_status"] == 400 and "images" in (p["last_error"] or "")]
    return judge("ACH-CAR-1", exercised=any(c.ok for c in created), violations=violations, ok_rows=rows,
                 passed=f"{sum(c.ok for c in created)} cars created; every stored car body has dealershipId, "
                        "internalId, brand, model and an images array",
                 failed=f"{len(violations)} cars sent without a required field",
                 not_exercised="no car created in Autochat", basis=f"publications and {basis_of(source)}")


@rule("ACH-CAR-2")
def ach_car_2(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    option_calls = [c for c in calls if c.method == "GET" and OPTIONS.search(c.path) and c.ok]
    writes = [c for c in calls
              if (c.method == "POST" and CARS.search(c.path)) or (c.method == "PUT" and CAR.search(c.path))]
    violations = []
    if source == OURS:
        runs: dict[str | None, list[Call]] = defaultdict(list)
        for call in writes:
            runs[call.run_id].append(call)
        for run_id, sent in runs.items():
            fetched = [c for c in option_calls if c.run_id == run_id and c.ts <= sent[0].ts]
            if not fetched:
                violations.append(sent[0].row(why="cars sent without the run reading GET /api/options first"))
    elif writes and not any(c.ts <= writes[0].ts for c in option_calls):
        violations.append(writes[0].row(why="cars sent before the option list was read"))
    flagged = 0
    for pub in facts.publications(conn, ctx, TARGET):
        flags = pub["flags"] or {}
        unknown = [str(u).split("->")[-1].strip() for u in flags.get("unknown_options") or []]
        flagged += bool(unknown or flags.get("unmapped_features"))
        sent_options = set((pub["payload"] or {}).get("options") or [])
        leaked = [u for u in unknown if u in sent_options]
        if leaked:
            violations.append(_pub_row(pub, options=", ".join(leaked), why="flagged unknown, yet sent"))
        if pub["last_status"] == 400 and "options" in (pub["last_error"] or ""):
            violations.append(_pub_row(pub, error=(pub["last_error"] or "")[:120],
                                       why="Autochat refused an option we sent"))
    with_options = [p for p in facts.publications(conn, ctx, TARGET) if (p["payload"] or {}).get("options")]
    rows = [_pub_row(p, options=len(p["payload"]["options"]),
                     unknown=len((p["flags"] or {}).get("unknown_options") or []),
                     unmapped=len((p["flags"] or {}).get("unmapped_features") or [])) for p in with_options]
    return judge("ACH-CAR-2", exercised=bool(option_calls and writes), violations=violations, ok_rows=rows,
                 passed=f"{len(option_calls)} reads of GET /api/options before sending cars; {len(with_options)} cars "
                        f"carry options by name; {flagged} cars flag features dropped as unknown or unmapped",
                 failed=f"{len(violations)} cars sent options not from the list, or without reading it",
                 not_exercised="no car sent after reading the option list",
                 basis=f"publications and {basis_of(source)}")


@rule("ACH-CAR-3")
def ach_car_3(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = judged_calls(conn, ctx, VENDOR)
    ours = our_calls(conn, ctx, VENDOR)
    replaced = [c for c in calls if c.method == "PUT" and CAR.search(c.path) and c.ok]
    deleted = [c for c in calls if c.method == "DELETE" and CAR.search(c.path) and (c.ok or c.status == 404)]
    blocks = [b for b in facts.blocks(conn, ctx, VENDOR) if b["reason"] == "403"]
    violations = calls_after_blocks(blocks, ours)
    violations += [block_row(b, why="block without an action for a person") for b in blocks if not b["action"]]
    per_run: dict[tuple[str | None, str], list[Call]] = defaultdict(list)
    for call in deleted:
        per_run[(call.run_id if source == OURS else None, call.path)].append(call)
    if source == OURS:
        violations += [c.row(why="the same car deleted twice in one run") for done in per_run.values()
                       for c in done[1:]]
    gone = [p for p in facts.publications(conn, ctx, TARGET) if p["state"] == "deleted"]
    rows = [block_row(b) for b in blocks] + [_pub_row(p) for p in gone]
    return judge("ACH-CAR-3", exercised=bool(replaced or deleted or blocks), violations=violations, ok_rows=rows,
                 passed=f"{len(replaced)} cars updated with PUT, {len(deleted)} deleted ({len(gone)} deleted in our "
                        f"store); {len(blocks)} dealerships stopped by a 403 with no call until resolved",
                 failed=f"{len(violations)} calls for a stopped dealership or repeated deletes",
                 not_exercised="no car updated or deleted, and no 403 from Autochat",
                 basis=f"publications, api_blocks and {basis_of(source)}")

"""Autocosmos v3: AC-SIGN-1, AC-MATCH-1/2/3, AC-PUB-1..6, AC-PHOTO-1, AC-STATE-1, AC-HOOK-1.

Signatures are the vendor's to judge: a refused signature or a same-second replay is answered
401, which both call logs record; the vendor's own log (`--sandbox-url`) is the authority.
Request bodies are not logged, so checks about bodies (empty `Fotos`, price-only PATCH) are
judged from the payload stored with each publication and the method of the write that stored it.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from dealer_pipeline.certification import facts
from dealer_pipeline.certification.calls import OURS, Call, judged_calls
from dealer_pipeline.certification.model import Context, Evidence
from dealer_pipeline.certification.registry import rule
from dealer_pipeline.certification.rules import signing
from dealer_pipeline.certification.rules.autotrader_auth import _event_row, notification_evidence
from dealer_pipeline.certification.rules.common import basis_of, judge
from dealer_pipeline.publishing.core import ExternalIdError, external_id_for
from dealer_pipeline.store.schema import agency_links, catalog_matches, photo_checks, vehicle_specs

VENDOR = "autocosmos"
TARGET = "autocosmos"
BESTMATCH = re.compile(r"/versiones/bestmatch$")
ONE = re.compile(r"/publicaciones/(?P<mail>[^/]+)/(?P<ext>[^/]+)$")
AGENCY = re.compile(r"/publicaciones/(?P<mail>[^/]+)$")
WRITES = ("POST", "PUT", "PATCH", "DELETE")
PHOTOS_FIELD = "Fotos"
ACCEPTED_FORMATS, MIN_WIDTH, MIN_HEIGHT = ("JPEG", "PNG", "WEBP"), 640, 360
#: A write is matched to the publication row it produced when it ends this close to `updated_at`.
WRITE_SLACK = timedelta(seconds=2)


def _calls(conn: sa.Connection, ctx: Context) -> tuple[list[Call], str]:
    return judged_calls(conn, ctx, VENDOR)


def _one(call: Call) -> tuple[str, str] | None:
    match = ONE.search(call.path)
    return (match["mail"].lower(), match["ext"].lower()) if match else None


def _agency(call: Call) -> str | None:
    match = AGENCY.search(call.path)
    return match["mail"].lower() if match else None


def _by_publication(calls: Sequence[Call]) -> dict[tuple[str, str], list[Call]]:
    found: dict[tuple[str, str], list[Call]] = defaultdict(list)
    for call in calls:
        key = _one(call)
        if key:
            found[key].append(call)
    return found


def _key(pub: dict[str, Any]) -> tuple[str, str]:
    return (str(pub["account_id"] or "").lower(), str(pub["external_id"]).lower())


def _pub_row(pub: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"vehicle": pub["vehicle_id"], "external_id": pub["external_id"], "agency": pub["account_id"],
            "state": pub["state"], "last_op": pub["last_op"], "last_status": pub["last_status"],
            "updated_at": pub["updated_at"], **extra}


def _last_write(calls: Sequence[Call], pub: dict[str, Any]) -> Call | None:
    """The accepted write on a publication's path that produced its current row."""
    found = None
    for call in calls:
        if call.method in WRITES and call.ok and call.ts <= pub["updated_at"] + WRITE_SLACK:
            found = call
    return found


@rule("AC-SIGN-1")
def ac_sign_1(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = _calls(conn, ctx)
    found, replayed, refused = signing.violations(calls, source)
    writes = [c for c in calls if c.method in signing.NON_IDEMPOTENT]
    rows = [c.row(**({"signature#": c.signature} if c.signature else {})) for c in writes][:20]
    limits = None if source != OURS else ("api_calls keeps no signatures or bodies: a replay is found as an attempt "
                                          "re-sent within the second of the one before it, and the validity of each "
                                          "signature shows only as a 401. Read the vendor's log (--sandbox-url) to "
                                          "judge identical signatures from its side")
    return judge("AC-SIGN-1", exercised=bool(calls), violations=found, ok_rows=rows,
                 passed=f"{len(calls)} signed requests, none refused (no 401); {len(writes)} POST/PATCH, none sent "
                        "again as signed (a replay)",
                 failed=f"{refused} requests refused (401), {replayed} POST/PATCH sent again with an identical "
                        "signature (a replay)",
                 not_exercised="no Autocosmos request in the call log", basis=basis_of(source), limits=limits)


def _query_key(query: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in query.items() if v is not None))


def _specs(conn: sa.Connection, ctx: Context) -> list[dict[str, Any]]:
    return facts.memo(ctx, "catalog_matches", lambda: facts.select(
        conn, ctx, catalog_matches, "spec_key", "params", "status", "confidence", "candidates", "resolved_at",
        "reviewed_at", "recheck_requested_at"))


@rule("AC-MATCH-1")
def ac_match_1(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = _calls(conn, ctx)
    asked = [c for c in calls if c.method == "GET" and BESTMATCH.search(c.path) and c.ok]
    by_spec: dict[tuple[tuple[str, str], ...], list[Call]] = defaultdict(list)
    for call in asked:
        by_spec[_query_key(dict(call.query))].append(call)
    rechecked = {_query_key(s["params"] or {}) for s in _specs(conn, ctx) if s["recheck_requested_at"] is not None}
    violations = []
    for key, done in by_spec.items():
        allowed = 2 if key in rechecked else 1
        if len(done) > allowed:
            violations += [c.row(times=len(done), why="best match asked again for the same specification")
                           for c in done[allowed:]]
    cached = len(_specs(conn, ctx))
    rows = [done[0].row(times=len(done)) for done in list(by_spec.values())[:20]]
    return judge("AC-MATCH-1", exercised=bool(asked), violations=violations, ok_rows=rows,
                 passed=f"{len(asked)} best-match calls for {len(by_spec)} distinct specifications, each once "
                        f"({cached} answers cached in catalog_matches)",
                 failed=f"{len(violations)} best-match calls repeated a specification already asked",
                 not_exercised="no versiones/bestmatch call in the call log", basis=basis_of(source))


@rule("AC-MATCH-2")
def ac_match_2(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = _calls(conn, ctx)
    pubs = facts.publications(conn, ctx, TARGET)
    creates: dict[str, list[Call]] = defaultdict(list)
    for call in calls:
        if call.method == "POST" and _agency(call):
            creates[_agency(call)].append(call)  # type: ignore[index]
    sent = [p for p in pubs if p["published_at"] is not None or p["state"] in ("active", "suspended", "archived")]
    per_agency = Counter(str(p["account_id"] or "").lower() for p in sent)
    recreated = Counter(str(p["account_id"] or "").lower() for p in pubs if p["last_op"] == "recreate")
    existing = _found_existing(calls, source)  # published by reconciling a 409, not by a create of ours
    violations, rows = [], []
    for agency, posts in creates.items():
        accepted = sum(c.ok for c in posts)
        row = {"agency": agency, "vehicles_published": per_agency.get(agency, 0), "creates_accepted": accepted,
               "creates_409": sum(c.status == 409 for c in posts), "found_existing": existing.get(agency, 0)}
        if accepted > per_agency.get(agency, 0) + recreated.get(agency, 0) - existing.get(agency, 0):
            violations.append({**row, "why": "more creates than vehicles published"})
        else:
            rows.append(row)
    by_pub = _by_publication(calls)
    for pub in sent:
        if pub["published_at"] is None:
            continue
        before = [c for c in by_pub.get(_key(pub), []) if c.ts < pub["published_at"] - WRITE_SLACK]
        reconciling = any(c.status == 409 and abs((c.ts - b.ts).total_seconds()) < 30
                          for b in before for c in creates.get(_key(pub)[0], []))
        if before and not reconciling:
            violations.append(_pub_row(pub, requests_before=len(before),
                                       why="requests on the publication before it was first published"))
    asked = sum(1 for c in calls if c.method == "GET" and BESTMATCH.search(c.path) and c.ok)
    total = sum(per_agency.values())
    return judge("AC-MATCH-2", exercised=bool(sent), violations=violations, ok_rows=rows,
                 passed=f"{total} vehicles published with {sum(c.ok for p in creates.values() for c in p)} creates "
                        f"({sum(existing.values())} found existing through a 409) and {asked} best-match calls (shared by vehicles of one specification): at most two requests "
                        "per vehicle",
                 failed=f"{len(violations)} publications took more than a best match and one create",
                 not_exercised="no vehicle published to Autocosmos", basis=f"publications and {basis_of(source)}")


@rule("AC-MATCH-3")
def ac_match_3(conn: sa.Connection, ctx: Context) -> Evidence:
    specs = {s["spec_key"]: s for s in _specs(conn, ctx)}
    doubtful = {k: s for k, s in specs.items() if s["status"] in ("ranked", "unresolved")}
    by_vehicle = {r["vehicle_id"]: r["spec_key"] for r in facts.select(conn, ctx, vehicle_specs, "vehicle_id",
                                                                         "spec_key")}
    violations = [{"spec": k, "status": s["status"], "confidence": s["confidence"],
                   "why": "ranked without candidates"}
                  for k, s in doubtful.items() if s["status"] == "ranked" and not s["candidates"]]
    for pub in facts.publications(conn, ctx, TARGET):
        spec = specs.get(by_vehicle.get(pub["vehicle_id"], ""))
        if spec and spec["status"] == "unresolved" and spec["reviewed_at"] is None and pub["state"] == "active":
            violations.append(_pub_row(pub, spec=spec["spec_key"], why="published although its specification is "
                                                                     "unresolved (in the review queue)"))
    waiting = Counter(by_vehicle[v] for v in by_vehicle if by_vehicle[v] in doubtful)
    rows = [{"spec": k, "status": s["status"], "confidence": s["confidence"],
             "candidates": len(s["candidates"] or []), "vehicles": waiting.get(k, 0),
             "reviewed_at": s["reviewed_at"], "resolved_at": s["resolved_at"]} for k, s in doubtful.items()]
    kinds = Counter(s["status"] for s in doubtful.values())
    return judge("AC-MATCH-3", exercised=bool(doubtful), violations=violations, ok_rows=rows,
                 passed=f"{kinds['ranked']} specifications without a Match were ranked by their candidates, "
                        f"{kinds['unresolved']} unresolved ones wait in the review queue; none was published blindly",
                 failed=f"{len(violations)} unresolved or unranked specifications were published",
                 not_exercised="every best match came back with a Match (no ranked or unresolved specification)")


@rule("AC-PUB-1")
def ac_pub_1(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = _calls(conn, ctx)
    pubs = facts.publications(conn, ctx, TARGET)
    violations = []
    for pub in pubs:
        try:
            stable = external_id_for(pub["vehicle_id"])
        except ExternalIdError:
            stable = None
        if stable is not None and pub["external_id"] != stable:
            violations.append(_pub_row(pub, stable_id=stable, why="ExternalId is not the vehicle's stable id"))
    known = {_key(p) for p in pubs}
    strays = [c.row(why="request for an ExternalId no publication of ours holds (changed or invented)")
              for c in calls if _one(c) and _one(c) not in known and c.method in WRITES]
    created = [c for c in calls if c.method == "POST" and _agency(c) and c.ok]
    rows = [_pub_row(p) for p in pubs if p["published_at"] is not None]
    return judge("AC-PUB-1", exercised=bool(created), violations=violations + strays, ok_rows=rows,
                 passed=f"{len(created)} publications created with POST; every ExternalId is the vehicle's stable id "
                        "and every later request used it",
                 failed=f"{len(violations)} ExternalIds differ from the stable id, {len(strays)} requests used an "
                        "unknown one",
                 not_exercised="no publication created with POST", basis=f"publications and {basis_of(source)}")


def _ops(conn: sa.Connection, ctx: Context, *ops: str) -> list[dict[str, Any]]:
    return [p for p in facts.publications(conn, ctx, TARGET) if p["last_op"] in ops]


@rule("AC-PUB-2")
def ac_pub_2(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = _calls(conn, ctx)
    by_pub = _by_publication(calls)
    priced = _ops(conn, ctx, "price")
    violations, rows = [], []
    for pub in priced:
        last = _last_write(by_pub.get(_key(pub), []), pub)
        if last is None or last.method != "PATCH":
            violations.append(_pub_row(pub, method=last.method if last else None,
                                       why="price-only change not sent as PATCH"))
        else:
            rows.append(_pub_row(pub, method=last.method, sent_at=last.ts, status=last.status))
    patches = sum(1 for c in calls if c.method == "PATCH")
    return judge("AC-PUB-2", exercised=bool(priced), violations=violations, ok_rows=rows,
                 passed=f"{len(priced)} publications whose last change was price-only, each sent as PATCH "
                        f"({patches} PATCH calls in all)",
                 failed=f"{len(violations)} price-only changes were not sent as PATCH",
                 not_exercised="no publication whose latest change was price-only", basis=f"publications and "
                 f"{basis_of(source)}",
                 limits="only a publication's latest operation is kept (publications.last_op)")


@rule("AC-PUB-3")
def ac_pub_3(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = _calls(conn, ctx)
    by_pub = _by_publication(calls)
    toggled = _ops(conn, ctx, "suspend", "reactivate")
    violations, rows = [], []
    for pub in toggled:
        vendor_did = bool((pub["flags"] or {}).get("vendor_suspended"))
        want = "suspended" if pub["last_op"] == "suspend" else "active"
        last = _last_write(by_pub.get(_key(pub), []), pub)
        if pub["state"] != want and not vendor_did:
            violations.append(_pub_row(pub, why=f"{pub['last_op']} recorded but the state is {pub['state']}"))
        elif last is None or last.method not in ("PUT", "PATCH"):
            violations.append(_pub_row(pub, method=last.method if last else None,
                                       why=f"{pub['last_op']} not sent as PUT/PATCH of Activa"))
        else:
            rows.append(_pub_row(pub, method=last.method, sent_at=last.ts, reasons=str((pub["flags"] or {})
                                                                                      .get("reasons") or "")[:80]))
    return judge("AC-PUB-3", exercised=bool(toggled), violations=violations, ok_rows=rows,
                 passed=f"{sum(p['last_op'] == 'suspend' for p in toggled)} publications suspended (Activa false) and "
                        f"{sum(p['last_op'] == 'reactivate' for p in toggled)} reactivated, each by PUT/PATCH",
                 failed=f"{len(violations)} suspensions or reactivations inconsistent with the calls made",
                 not_exercised="no publication suspended or reactivated (no reserved or hidden vehicle was live)",
                 basis=f"publications and {basis_of(source)}", limits="only a publication's latest operation is kept")


@rule("AC-PUB-4")
def ac_pub_4(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = _calls(conn, ctx)
    by_pub = _by_publication(calls)
    violations, rows = [], []
    for key, done in by_pub.items():
        deletes = [c for c in done if c.method == "DELETE" and (c.ok or c.status == 409)
                   and (source != OURS or (c.attempt or 1) == 1)]
        if not deletes:
            continue
        if len(deletes) > 1:
            violations += [c.row(why="archived again") for c in deletes[1:]]
        first = deletes[0]
        reused = [c for c in done if c.ts > first.ts and c.method in ("PUT", "PATCH")]
        violations += [c.row(why="archived ExternalId used again") for c in reused]
        rows.append(first.row(external_id=key[1]))
    archived = [p for p in facts.publications(conn, ctx, TARGET) if p["state"] == "archived"]
    return judge("AC-PUB-4", exercised=bool(rows or archived), violations=violations,
                 ok_rows=rows or [_pub_row(p) for p in archived],
                 passed=f"{len(rows)} publications archived with one DELETE each ({len(archived)} archived in our "
                        "store); none used again",
                 failed=f"{len(violations)} repeated archives or reuses of an archived ExternalId",
                 not_exercised="no sold or removed vehicle was live on Autocosmos (no DELETE)",
                 basis=f"publications and {basis_of(source)}")


def _after_conflict(calls: Sequence[Call], conflict: Call, source: str) -> tuple[list[Call], Call | None]:
    """The calls on a 409'd create's agency in the minute after it (same run in our log), and its read."""
    agency = _agency(conflict)
    after = [c for c in calls if conflict.ts < c.ts <= conflict.ts + timedelta(seconds=60)
             and (_agency(c) == agency or (_one(c) or ("",))[0] == agency)
             and (source != OURS or c.run_id == conflict.run_id)]
    return after, next((c for c in after if c.method == "GET" and _one(c)), None)


def _found_existing(calls: Sequence[Call], source: str) -> Counter[str]:
    """Per agency, the publications a create answered 409 showed to exist already (read back after it)."""
    reads = (_after_conflict(calls, c, source)[1] for c in calls if c.method == "POST" and c.status == 409
             and _agency(c))
    found = {_one(read) for read in reads if read is not None}
    return Counter(key[0] for key in found if key)


@rule("AC-PUB-5")
def ac_pub_5(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = _calls(conn, ctx)
    conflicts = [c for c in calls if c.method == "POST" and c.status == 409 and _agency(c)]
    violations, rows = [], []
    for conflict in conflicts:
        after, read = _after_conflict(calls, conflict, source)
        dodge = next((c for c in after if c.method == "POST" and c.ok and (read is None or c.ts < read.ts)), None)
        if dodge is not None:
            violations.append(dodge.row(after_409=conflict.ts, why="created again after a 409 instead of reconciling"))
            continue
        if read is None:
            violations.append(conflict.row(why="409 on create not followed by a read of the publication"))
            continue
        put = next((c for c in after if c.ts > read.ts and _one(c) == _one(read) and c.method in ("PUT", "PATCH")),
                   None)
        rows.append(conflict.row(read_at=read.ts, external_id=_one(read)[1],  # type: ignore[index]
                                 replaced_with=f"{put.method} {put.status}" if put else "archived: needs an operator"))
    return judge("AC-PUB-5", exercised=bool(conflicts), violations=violations, ok_rows=rows,
                 passed=f"{len(conflicts)} creates answered 409, each read back and replaced under the same ExternalId",
                 failed=f"{len(violations)} 409s dodged or left unreconciled",
                 not_exercised="no create answered 409", basis=basis_of(source))


def _photos(payload: Any) -> list[Any] | None:
    return payload.get(PHOTOS_FIELD) if isinstance(payload, dict) else None


@rule("AC-PUB-6")
def ac_pub_6(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = _calls(conn, ctx)
    by_pub = _by_publication(calls)
    puts = [c for c in calls if c.method == "PUT" and _one(c)]
    violations, rows = [], []
    for pub in facts.publications(conn, ctx, TARGET):
        if pub["payload"] is None or _photos(pub["payload"]):
            continue
        last = _last_write(by_pub.get(_key(pub), []), pub)
        if last is not None and last.method == "PUT":
            violations.append(_pub_row(pub, sent_at=last.ts, why="the accepted write of a payload without photos "
                                                                 "was a PUT"))
        else:
            rows.append(_pub_row(pub, photos=0, method=last.method if last else None))
    return judge("AC-PUB-6", exercised=bool(puts), violations=violations, ok_rows=rows,
                 passed=f"{len(puts)} PUTs, none of a payload without photos; {len(rows)} publications without a "
                        "usable photo were written by PATCH (no Fotos) or held",
                 failed=f"{len(violations)} publications without photos were last written with a PUT",
                 not_exercised="no PUT to Autocosmos in the call log", basis=f"publications and {basis_of(source)}",
                 limits="request bodies are not logged: judged from the payload stored with each publication and "
                        "the method of the write that stored it")


@rule("AC-PHOTO-1")
def ac_photo_1(conn: sa.Connection, ctx: Context) -> Evidence:
    checks = {r["url"]: r for r in facts.select(conn, ctx, photo_checks)}
    violations = []
    for url, check in checks.items():
        if check["ok"] and (check["image_format"] not in ACCEPTED_FORMATS or (check["width"] or 0) < MIN_WIDTH
                            or (check["height"] or 0) < MIN_HEIGHT):
            violations.append({"url": url, "format": check["image_format"], "size": f"{check['width']}x"
                               f"{check['height']}", "why": "accepted although not a JPG/PNG/WEBP of 640x360 or more"})
        if not check["ok"] and not check["reason"]:
            violations.append({"url": url, "why": "dropped without a reason"})
    flagged = 0
    for pub in facts.publications(conn, ctx, TARGET):
        dropped = {d.get("url") for d in (pub["flags"] or {}).get("dropped_photos") or [] if isinstance(d, dict)}
        flagged += bool(dropped)
        for url in _photos(pub["payload"]) or []:
            check = checks.get(url)
            if check is None or not check["ok"]:
                violations.append(_pub_row(pub, url=url, why="sent a photo that was not checked, or failed its check"))
    bad = [c for c in checks.values() if not c["ok"]]
    rows = [{"url": c["url"], "status": c["http_status"], "format": c["image_format"],
             "size": f"{c['width']}x{c['height']}", "reason": c["reason"], "checked_at": c["checked_at"]}
            for c in bad] or [{"url": c["url"], "format": c["image_format"], "size": f"{c['width']}x{c['height']}"}
                              for c in list(checks.values())[:5]]
    return judge("AC-PHOTO-1", exercised=bool(checks), violations=violations, ok_rows=rows,
                 passed=f"{len(checks)} photos checked before sending, {len(bad)} dropped with the reason, "
                        f"{flagged} publications flag dropped photos; only usable photos were sent",
                 failed=f"{len(violations)} photos accepted wrongly or sent unchecked",
                 not_exercised="no photo checked (photo_checks is empty)")


@rule("AC-STATE-1")
def ac_state_1(conn: sa.Connection, ctx: Context) -> Evidence:
    calls, source = _calls(conn, ctx)
    pubs = facts.publications(conn, ctx, TARGET)
    noticed = [p for p in pubs if (p["flags"] or {}).get("vendor_suspended")]
    violations = [_pub_row(p, why="flagged as suspended by Autocosmos but not recorded as suspended with a note")
                  for p in noticed if p["state"] != "suspended" or not p["last_error"]]
    reads = sum(1 for c in calls if c.method == "GET" and _agency(c))
    rows = [_pub_row(p, note=(p["last_error"] or "")[:100], seen=str(p["flags"]["vendor_suspended"])[:80])
            for p in noticed]
    return judge("AC-STATE-1", exercised=bool(noticed), violations=violations, ok_rows=rows,
                 passed=f"{len(noticed)} publications Autocosmos suspended on its own were detected on read-back "
                        f"({reads} read-backs) and reported",
                 failed=f"{len(violations)} vendor suspensions detected but not recorded",
                 not_exercised=f"Autocosmos suspended none of our publications ({reads} read-backs of agency lists)",
                 basis=f"publications and {basis_of(source)}")


@rule("AC-HOOK-1")
def ac_hook_1(conn: sa.Connection, ctx: Context) -> Evidence:
    stored = facts.events(conn, ctx, VENDOR)
    base = notification_evidence(conn, ctx, "AC-HOOK-1", stored, vendor=VENDOR, header="notification-signature",
                                 delivery_prefix="", what="Autocosmos webhooks")
    links = {r["adminmail"]: r for r in facts.select(conn, ctx, agency_links, "adminmail", "dealer_id",
                                                      "accepted_at", "linked_at", "api_confirmed_at")}
    accepted = [e for e in stored if e["event_type"] == "invitacionagencia_aceptada" and e["status"] == "applied"]
    unlinked = [_event_row(e, why="applied, but the agency is not linked") for e in accepted
                if (e["subject_id"] or "").lower() not in links]
    violations = [dict(r) for r in base.rows] if base.verdict.value == "failed" else []
    rows = [{**_event_row(e), "linked_dealer": links.get((e["subject_id"] or "").lower(), {}).get("dealer_id"),
             "api_confirmed_at": links.get((e["subject_id"] or "").lower(), {}).get("api_confirmed_at")}
            for e in accepted]
    rejected = facts.rejections(conn, ctx, VENDOR)
    return judge("AC-HOOK-1", exercised=bool(accepted), violations=violations + unlinked, ok_rows=rows,
                 passed=f"{len(stored)} webhooks verified (Notification-Signature; {len(rejected)} refused with 403); "
                        f"{len(accepted)} invitacionagencia_aceptada linked their agency",
                 failed=f"{len(violations) + len(unlinked)} webhooks unverified or agencies not linked",
                 not_exercised="no invitacionagencia_aceptada webhook applied", basis=base.basis, limits=base.limits)

"""Crafted violations: one per check, applied to the pipeline's real store inside a transaction.

Each entry changes the evidence the way a broken pipeline would leave it (a second token
request within one lifetime, a features call repeated without a change, a call sent while
blocked, a field that no longer matches the vendor record, ...) and names a phrase the
failing rule must put in the offending row or its summary.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from dealer_pipeline.store.schema import (
    agency_links,
    api_blocks,
    api_calls,
    api_pauses,
    catalog_matches,
    dealers,
    leads,
    photo_checks,
    publications,
    sync_runs,
    vehicle_changes,
    vehicle_specs,
    vehicles,
    webhook_events,
    webhook_rejections,
)

Mutation = Callable[[sa.Connection], str]
MUTATIONS: dict[str, Mutation] = {}
C = api_calls.c
STOCK_LIST = "/stock?advertiserId="


def crafted(check_id: str) -> Callable[[Mutation], Mutation]:
    def register(fn: Mutation) -> Mutation:
        MUTATIONS[check_id] = fn
        return fn
    return register


# ---- helpers ---------------------------------------------------------------------------------------
def one(conn: sa.Connection, stmt: Any) -> dict[str, Any]:
    row = conn.execute(stmt.limit(1)).mappings().first()
    assert row is not None, f"the scenario left nothing to break for: {stmt}"
    return dict(row)


def call(conn: sa.Connection, vendor: str, *where: Any, last: bool = False) -> dict[str, Any]:
    order = (C.ts.desc(), C.id.desc()) if last else (C.ts, C.id)
    return one(conn, sa.select(api_calls).where(C.vendor == vendor, *where).order_by(*order))


def add_call(conn: sa.Connection, base: dict[str, Any], **changes: Any) -> None:
    row = {k: v for k, v in base.items() if k != "id"}
    row.update(changes)
    conn.execute(sa.insert(api_calls).values(**row))


def end(conn: sa.Connection) -> Any:
    return conn.execute(sa.select(sa.func.max(C.ts))).scalar_one() + timedelta(seconds=60)


def grant(conn: sa.Connection, vendor: str, *where: Any) -> dict[str, Any]:
    return call(conn, vendor, C.service.in_(["authenticate", "oauth"]), C.status < 300, *where, last=True)


def event(conn: sa.Connection, source: str, kind: str | None = None) -> dict[str, Any]:
    e = webhook_events.c
    stmt = sa.select(webhook_events).where(e.source == source)
    return one(conn, stmt.where(e.event_type == kind) if kind else stmt)


def set_event(conn: sa.Connection, event_id: int, **values: Any) -> None:
    conn.execute(sa.update(webhook_events).where(webhook_events.c.id == event_id).values(**values))


def set_vehicle(conn: sa.Connection, vehicle_id: str, **values: Any) -> None:
    conn.execute(sa.update(vehicles).where(vehicles.c.vehicle_id == vehicle_id).values(**values))


def notified(conn: sa.Connection, field: str) -> str:
    vc = vehicle_changes.c
    return one(conn, sa.select(vc.vehicle_id).where(vc.cause == "notification", vc.field == field)
               .order_by(vc.id.desc()))["vehicle_id"]


def publication(conn: sa.Connection, target: str, *where: Any) -> dict[str, Any]:
    p = publications.c
    return one(conn, sa.select(publications).where(p.target == target, *where).order_by(p.vehicle_id))


def set_publication(conn: sa.Connection, pub: dict[str, Any], **values: Any) -> None:
    p = publications.c
    conn.execute(sa.update(publications).where(p.target == pub["target"], p.vehicle_id == pub["vehicle_id"])
                 .values(**values))


def unchanged_fetch(conn: sa.Connection, kind: str) -> dict[str, Any]:
    """A features/charge-times call of a stock item no notification or baseline ever changed."""
    changed = {r[0].split(":", 1)[1] for r in conn.execute(sa.select(vehicle_changes.c.vehicle_id))}
    for row in conn.execute(sa.select(api_calls).where(C.vendor == "autotrader", C.path.like(f"/stock/%/{kind}%"),
                                                       C.status == 200).order_by(C.ts)).mappings():
        if row["path"].split("/")[2] not in changed:
            return dict(row)
    raise AssertionError(f"no unchanged item with a {kind} call")


def _window_page(conn: sa.Connection, source: str, path_like: str) -> dict[str, Any]:
    """The first page call of a complete baseline that needed more than one page."""
    s = sync_runs.c
    for run in conn.execute(sa.select(sync_runs).where(s.source == source, s.kind == "baseline", s.complete,
                                                       s.pages > 1)).mappings():
        found = conn.execute(sa.select(api_calls).where(
            C.vendor == source, C.dealer_id == run["dealer_id"], C.path.like(path_like), C.status == 200,
            C.ts >= run["started_at"], C.ts <= run["finished_at"]).order_by(C.ts).limit(1)).mappings().first()
        if found:
            return dict(found)
    raise AssertionError(f"no multi-page {source} baseline")


# ---- Autotrader fundamentals ------------------------------------------------------------------------
@crafted("AT-AUTH-1")
def _(conn: sa.Connection) -> str:
    add_call(conn, grant(conn, "autotrader"), ts=end(conn), status=401)
    return "latest token request was refused"


@crafted("AT-AUTH-2")
def _(conn: sa.Connection) -> str:
    g = grant(conn, "autotrader")
    add_call(conn, call(conn, "autotrader", C.path.like(STOCK_LIST + "%")), ts=g["ts"] + timedelta(seconds=2000))
    return "had expired"


@crafted("AT-AUTH-3")
def _(conn: sa.Connection) -> str:
    g = grant(conn, "autotrader")
    # After the vendor's last call: a 401 answered to calls still in flight with the old token would
    # otherwise excuse a copy placed a fixed time after the grant.
    last = conn.execute(sa.select(sa.func.max(C.ts)).where(C.vendor == "autotrader")).scalar_one()
    add_call(conn, g, ts=last + timedelta(seconds=1), run_id="another-process")
    return "second token request"


@crafted("AT-ADV-1")
def _(conn: sa.Connection) -> str:
    base = call(conn, "autotrader", C.path.like(STOCK_LIST + "%"))
    add_call(conn, base, path="/stock?advertiserId=12345678&page=1&pageSize=5", dealer_id="autotrader:12345678")
    return "never listed"


@crafted("AT-ADV-2")
def _(conn: sa.Connection) -> str:
    add_call(conn, call(conn, "autotrader", C.path.like("/advertisers?page=%")), path="/advertisers?page=1")
    return "without page and pageSize"


@crafted("AT-ADV-3")
def _(conn: sa.Connection) -> str:
    add_call(conn, call(conn, "autotrader", C.path.like("/advertisers?page=%")), path="/advertisers/10000694")
    return "documented to answer 404"


@crafted("AT-ADVN-1")
def _(conn: sa.Connection) -> str:
    set_event(conn, event(conn, "autotrader", "ADVERTISER")["id"], headers={"content-type": "application/json"})
    return "without its autotrader-signature header"


@crafted("AT-ADVN-2")
def _(conn: sa.Connection) -> str:
    set_event(conn, event(conn, "autotrader", "ADVERTISER")["id"], status="failed", error="unexpected")
    return "not recognised"


@crafted("AT-ADVN-3")
def _(conn: sa.Connection) -> str:
    dealer = event(conn, "autotrader", "ADVERTISER")["dealer_id"]
    conn.execute(sa.update(dealers).where(dealers.c.dealer_id == dealer).values(raw={"name": "Someone Else"}))
    return "differs from the notification"


@crafted("AT-FAIR-429")
def _(conn: sa.Connection) -> str:
    pause = one(conn, sa.select(api_pauses).where(api_pauses.c.scope == "autotrader"))
    add_call(conn, call(conn, "autotrader", C.status == 200), ts=pause["set_at"] + timedelta(seconds=0.7))
    return "paused after a 429"


@crafted("AT-FAIR-503")
def _(conn: sa.Connection) -> str:
    failed = call(conn, "autotrader", C.status == 503)
    add_call(conn, failed, ts=failed["ts"] + timedelta(seconds=1), status=200)
    return "less than 2 s"


@crafted("AT-ERR-400")
def _(conn: sa.Connection) -> str:
    bad = call(conn, "autotrader", C.status == 400)
    add_call(conn, bad, ts=bad["ts"] + timedelta(seconds=5))
    return "while its 400 block was unresolved"


@crafted("AT-ERR-401")
def _(conn: sa.Connection) -> str:
    base, later = call(conn, "autotrader", C.path.like("/stock/%"), C.status == 200), end(conn)
    add_call(conn, base, ts=later, status=401)
    add_call(conn, base, ts=later + timedelta(seconds=1), status=200)
    return "before a new token was obtained"


@crafted("AT-ERR-403A")
def _(conn: sa.Connection) -> str:
    refused = call(conn, "autotrader", C.status == 403, C.path.like("/advertisers%"))
    add_call(conn, refused, ts=refused["ts"] + timedelta(seconds=10), status=200)
    return "was unresolved"


@crafted("AT-ERR-403B")
def _(conn: sa.Connection) -> str:
    refused = call(conn, "autotrader", C.status == 403, C.path.like(STOCK_LIST + "%"))
    add_call(conn, refused, ts=refused["ts"] + timedelta(seconds=10), status=200)
    return "was unresolved"


@crafted("AT-ERR-CFRAY")
def _(conn: sa.Connection) -> str:
    failed = call(conn, "autotrader", C.status >= 400)
    conn.execute(sa.update(api_calls).where(C.id == failed["id"]).values(cf_ray=None))
    return "without its CF-RAY"


@crafted("AT-BASE-4")
def _(conn: sa.Connection) -> str:
    refused = call(conn, "autotrader", C.status == 403, C.path.like(STOCK_LIST + "%"))
    add_call(conn, refused, ts=refused["ts"] + timedelta(seconds=0.5), attempt=refused["attempt"] + 1)
    return "was retried"


# ---- Autotrader stock sync ------------------------------------------------------------------------
@crafted("AT-NOTIF-1")
def _(conn: sa.Connection) -> str:
    set_event(conn, event(conn, "autotrader", "STOCK_UPDATE")["id"], headers={})
    return "without its autotrader-signature header"


@crafted("AT-NOTIF-2")
def _(conn: sa.Connection) -> str:
    conn.execute(sa.update(webhook_rejections).where(webhook_rejections.c.source == "autotrader")
                 .values(http_status=401))
    return "must be answered 403"


@crafted("AT-NOTIF-3")
def _(conn: sa.Connection) -> str:
    set_event(conn, event(conn, "autotrader", "STOCK_UPDATE")["id"], status="failed", error="boom")
    return "not applied"


@crafted("AT-CREATE-1")
def _(conn: sa.Connection) -> str:
    first = conn.execute(sa.select(sa.func.min(webhook_events.c.received_at))).scalar_one()
    created = one(conn, sa.select(vehicles.c.vehicle_id).where(vehicles.c.source == "autotrader",
                                                                vehicles.c.first_seen_at >= first))
    conn.execute(sa.delete(vehicles).where(vehicles.c.vehicle_id == created["vehicle_id"]))
    return "not in the store"


@crafted("AT-CREATE-2")
def _(conn: sa.Connection) -> str:
    vid = one(conn, sa.select(vehicles.c.vehicle_id).where(vehicles.c.source == "autotrader"))["vehicle_id"]
    set_vehicle(conn, vid, external_stock_reference="NOT-THEIRS")
    return "external_stock_reference is 'NOT-THEIRS'"


@crafted("AT-AVAIL-1")
def _(conn: sa.Connection) -> str:
    vid = one(conn, sa.select(vehicles.c.vehicle_id).where(vehicles.c.source == "autotrader",
                                                            vehicles.c.shown_on_dealer_site.is_(True)))["vehicle_id"]
    set_vehicle(conn, vid, shown_on_dealer_site=False)
    return "should be True"


@crafted("AT-AVAIL-2")
def _(conn: sa.Connection) -> str:
    vid = one(conn, sa.select(vehicles.c.vehicle_id).where(vehicles.c.source == "autotrader",
                                                            vehicles.c.availability == "available"))["vehicle_id"]
    set_vehicle(conn, vid, availability="sold")
    return "should be available"


def _field(check_id: str, field: str, value: Any) -> None:
    def mutate(conn: sa.Connection) -> str:
        set_vehicle(conn, notified(conn, field), **{field: value})
        return "differs from the vendor record"
    crafted(check_id)(mutate)


_field("AT-UPD-VEHICLE", "mileage_km", 1)
_field("AT-UPD-MEDIA", "video_url", "https://elsewhere.example/video")
_field("AT-UPD-ADVERT", "description", "Not what Autotrader sent")
_field("AT-UPD-PRICE", "price_amount", 1)
_field("AT-UPD-FEATURES", "features", [])
_field("AT-UPD-HIGHLIGHTS", "highlights", [])


@crafted("AT-BASE-1")
def _(conn: sa.Connection) -> str:
    add_call(conn, call(conn, "autotrader", C.path.like(STOCK_LIST + "%")), path="/stock?page=1&pageSize=5")
    return "without advertiserId"


@crafted("AT-BASE-2")
def _(conn: sa.Connection) -> str:
    first = _window_page(conn, "autotrader", STOCK_LIST + "%")
    add_call(conn, first, ts=first["ts"] + timedelta(milliseconds=1))
    return "requested twice"


@crafted("AT-BASE-3")
def _(conn: sa.Connection) -> str:
    vid = one(conn, sa.select(vehicles.c.vehicle_id).where(
        vehicles.c.source == "autotrader", vehicles.c.last_seen_in_baseline_at.is_not(None)))["vehicle_id"]
    set_vehicle(conn, vid, search_id=None)
    return "search_id is None"


@crafted("AT-BASE-5")
def _(conn: sa.Connection) -> str:
    base = call(conn, "autotrader", C.path.like(STOCK_LIST + "%"))
    add_call(conn, base, path=base["path"].replace("history=false", "history=true"))
    return "not refined away: history"


@crafted("AT-FEAT-1")
def _(conn: sa.Connection) -> str:
    base = call(conn, "autotrader", C.path.like("/stock/%/features%"))
    add_call(conn, base, path=base["path"].split("?")[0])
    return "without advertiserId"


@crafted("AT-FEAT-2")
def _(conn: sa.Connection) -> str:
    add_call(conn, unchanged_fetch(conn, "features"), ts=end(conn))
    return "fetched again without a change"


@crafted("AT-CHG-1")
def _(conn: sa.Connection) -> str:
    base = call(conn, "autotrader", C.path.like("/stock/%/charge-times%"))
    add_call(conn, base, path=base["path"].split("?")[0])
    return "without advertiserId"


@crafted("AT-CHG-2")
def _(conn: sa.Connection) -> str:
    v = one(conn, sa.select(vehicles).where(vehicles.c.source == "autotrader", vehicles.c.availability == "available",
                                            vehicles.c.fuel_type.notin_(["electric", "plugin_hybrid"])))
    base = call(conn, "autotrader", C.path.like("/stock/%/charge-times%"))
    advertiser = v["dealer_id"].split(":", 1)[1]
    add_call(conn, base, ts=end(conn), status=500, dealer_id=v["dealer_id"],
             path=f"/stock/{v['source_vehicle_id']}/charge-times?advertiserId={advertiser}")
    return "was not handled"


@crafted("AT-CHG-3")
def _(conn: sa.Connection) -> str:
    add_call(conn, unchanged_fetch(conn, "charge-times"), ts=end(conn))
    return "fetched again without a change"


# ---- Webmotors -----------------------------------------------------------------------------------------
@crafted("WM-AUTH-1")
def _(conn: sa.Connection) -> str:
    # A dealer that never met a 401: a second grant there can only break the one-token rule.
    refused = sa.select(C.dealer_id).where(C.vendor == "webmotors", C.status == 401, C.dealer_id.is_not(None))
    g = grant(conn, "webmotors", C.dealer_id.not_in(refused))
    add_call(conn, g, ts=g["ts"] + timedelta(seconds=10))
    return "second token request"


@crafted("WM-STOCK-1")
def _(conn: sa.Connection) -> str:
    first = _window_page(conn, "webmotors", "%/estoque?%")
    add_call(conn, first, ts=first["ts"] + timedelta(milliseconds=1))
    return "requested twice"


@crafted("WM-STATUS-1")
def _(conn: sa.Connection) -> str:
    report = publication(conn, "webmotors_status")
    set_publication(conn, report, payload={"status": "Erro", "url": None, "mensagem": " "})
    return "Erro without the error text"


@crafted("WM-LEAD-1")
def _(conn: sa.Connection) -> str:
    conn.execute(sa.delete(leads).where(leads.c.source == "webmotors"))
    return "no lead stored"


@crafted("WM-LEAD-2")
def _(conn: sa.Connection) -> str:
    sent = call(conn, "webmotors", C.method == "POST", C.path.like("%/crm/%"), C.status == 201)
    add_call(conn, sent, ts=sent["ts"] + timedelta(seconds=5))
    return "inserted twice"


@crafted("WM-ERR-401")
def _(conn: sa.Connection) -> str:
    conn.execute(sa.update(api_blocks).where(api_blocks.c.vendor == "webmotors", api_blocks.c.reason == "401")
                 .values(action="ask support"))
    return "does not name every probable cause"


# ---- Autocosmos ----------------------------------------------------------------------------------------
@crafted("AC-SIGN-1")
def _(conn: sa.Connection) -> str:
    add_call(conn, call(conn, "autocosmos", C.method == "POST"), ts=end(conn), status=401)
    return "refused by the vendor (401)"


@crafted("AC-MATCH-1")
def _(conn: sa.Connection) -> str:
    add_call(conn, call(conn, "autocosmos", C.path.like("%/bestmatch%"), C.status == 200), ts=end(conn))
    return "asked again for the same specification"


@crafted("AC-MATCH-2")
def _(conn: sa.Connection) -> str:
    add_call(conn, call(conn, "autocosmos", C.method == "POST", C.status == 201), ts=end(conn))
    return "more creates than vehicles published"


@crafted("AC-MATCH-3")
def _(conn: sa.Connection) -> str:
    pub = publication(conn, "autocosmos", publications.c.state == "active")
    spec = one(conn, sa.select(vehicle_specs.c.spec_key).where(vehicle_specs.c.vehicle_id == pub["vehicle_id"]))
    conn.execute(sa.update(catalog_matches).where(catalog_matches.c.spec_key == spec["spec_key"])
                 .values(status="unresolved", reviewed_at=None))
    return "published although its specification is unresolved"


@crafted("AC-PUB-1")
def _(conn: sa.Connection) -> str:
    set_publication(conn, publication(conn, "autocosmos", publications.c.state == "active"), external_id="renamed-1")
    return "not the vehicle's stable id"


@crafted("AC-PUB-2")
def _(conn: sa.Connection) -> str:
    pub = publication(conn, "autocosmos", publications.c.last_op == "price")
    patch = call(conn, "autocosmos", C.method == "PATCH", C.path.like(f"%/{pub['external_id']}"), last=True)
    add_call(conn, patch, method="PUT", ts=patch["ts"] + timedelta(milliseconds=1))
    return "not sent as PATCH"


@crafted("AC-PUB-3")
def _(conn: sa.Connection) -> str:
    set_publication(conn, publication(conn, "autocosmos", publications.c.last_op == "suspend"), state="active")
    return "suspend recorded but the state is active"


@crafted("AC-PUB-4")
def _(conn: sa.Connection) -> str:
    add_call(conn, call(conn, "autocosmos", C.method == "DELETE", C.status == 204), ts=end(conn))
    return "archived again"


@crafted("AC-PUB-5")
def _(conn: sa.Connection) -> str:
    add_call(conn, call(conn, "autocosmos", C.method == "POST", C.status == 201), ts=end(conn), status=409)
    return "not followed by a read"


@crafted("AC-PUB-6")
def _(conn: sa.Connection) -> str:
    pub = publication(conn, "autocosmos", publications.c.state == "active")
    set_publication(conn, pub, payload={**pub["payload"], "Fotos": []})
    base = call(conn, "autocosmos", C.method == "POST", C.status == 201)
    add_call(conn, base, method="PUT", status=200, ts=pub["updated_at"],
             path=f"/v3/publicaciones/{pub['account_id']}/{pub['external_id']}")
    return "was a PUT"


@crafted("AC-PHOTO-1")
def _(conn: sa.Connection) -> str:
    bad = one(conn, sa.select(photo_checks.c.url).where(photo_checks.c.ok.is_(False)))
    conn.execute(sa.update(photo_checks).where(photo_checks.c.url == bad["url"]).values(ok=True, reason=None))
    return "accepted although"


@crafted("AC-STATE-1")
def _(conn: sa.Connection) -> str:
    for pub in conn.execute(sa.select(publications).where(publications.c.target == "autocosmos")).mappings():
        if (pub["flags"] or {}).get("vendor_suspended"):
            set_publication(conn, dict(pub), state="active")
            return "not recorded as suspended"
    raise AssertionError("no publication suspended by the vendor")


@crafted("AC-HOOK-1")
def _(conn: sa.Connection) -> str:
    accepted = event(conn, "autocosmos", "invitacionagencia_aceptada")
    conn.execute(sa.delete(agency_links).where(agency_links.c.adminmail == accepted["subject_id"].lower()))
    return "agency is not linked"


# ---- Autochat -----------------------------------------------------------------------------------------
@crafted("ACH-AUTH-1")
def _(conn: sa.Connection) -> str:
    g = grant(conn, "autochat")
    add_call(conn, g, ts=g["ts"] + timedelta(seconds=10), run_id="another-process")
    return "second token request"


@crafted("ACH-CAR-1")
def _(conn: sa.Connection) -> str:
    pub = publication(conn, "autochat", publications.c.payload.is_not(None))
    set_publication(conn, pub, payload={k: v for k, v in pub["payload"].items() if k != "images"})
    return "car sent without images"


@crafted("ACH-CAR-2")
def _(conn: sa.Connection) -> str:
    for pub in conn.execute(sa.select(publications).where(publications.c.target == "autochat")).mappings():
        options = (pub["payload"] or {}).get("options")
        if options:
            set_publication(conn, dict(pub), flags={**(pub["flags"] or {}),
                                                   "unknown_options": [f"Some feature -> {options[0]}"]})
            return "flagged unknown, yet sent"
    raise AssertionError("no Autochat car with options")


@crafted("ACH-CAR-3")
def _(conn: sa.Connection) -> str:
    deleted = call(conn, "autochat", C.method == "DELETE", C.status == 204)
    add_call(conn, deleted, ts=deleted["ts"] + timedelta(seconds=1))
    return "deleted twice in one run"

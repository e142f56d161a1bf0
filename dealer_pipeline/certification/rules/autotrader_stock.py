"""Autotrader stock notifications and what they change: AT-NOTIF, AT-CREATE, AT-AVAIL, AT-UPD-*.

The vendor record is kept beside every row (`vehicles.raw`), so each demonstration compares
what we store with what Autotrader sent: identifiers, visibility, availability and every
field group a notification changed (`vehicle_changes` with cause `notification`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa

from dealer_pipeline.certification import facts
from dealer_pipeline.certification.model import Context, Evidence
from dealer_pipeline.certification.registry import rule
from dealer_pipeline.certification.rules.autotrader_auth import _event_row, notification_evidence
from dealer_pipeline.certification.rules.common import json_value, judge
from dealer_pipeline.store.schema import vehicles

VENDOR = "autotrader"
MILES_TO_KM = Decimal("1.609344")
SIGNATURE_REASONS = ("signature", "missing", "too old", "in the future", "no v1", "no single numeric t", "stale")

Raw = Mapping[str, Any]


def _section(raw: Raw, *path: str) -> Any:
    node: Any = raw
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return _ABSENT
        node = node[key]
    return node


class _Absent:
    def __repr__(self) -> str:
        return "absent"


_ABSENT = _Absent()


def _stock_events(conn: sa.Connection, ctx: Context) -> list[dict[str, Any]]:
    return [e for e in facts.events(conn, ctx, VENDOR) if e["event_type"] == "STOCK_UPDATE"]


def _vehicle_rows(conn: sa.Connection, ctx: Context, ids: Sequence[str] | None = None,
                  columns: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
    """Autotrader vehicles (all, or these ids), streamed: `raw` can be large."""
    wanted = [vehicles.c[name] for name in ("vehicle_id", "source_vehicle_id", "dealer_id", "availability",
                                              "first_seen_at", "updated_at", "raw", *columns)]
    if ids is not None:
        ids = list(ids)
        for start in range(0, len(ids), 500):
            stmt = sa.select(*wanted).where(vehicles.c.vehicle_id.in_(ids[start:start + 500]))
            yield from (dict(r) for r in conn.execute(stmt).mappings())
        return
    stmt = sa.select(*wanted).where(vehicles.c.source == VENDOR).order_by(vehicles.c.vehicle_id)
    yield from (dict(r) for r in conn.execute(stmt.execution_options(yield_per=500)).mappings())


def _vehicle_row(row: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"vehicle": row["vehicle_id"], "dealer": row["dealer_id"], "availability": row["availability"],
            "updated_at": row["updated_at"], **extra}


# ---- notifications ---------------------------------------------------------------------------------
@rule("AT-NOTIF-1")
def at_notif_1(conn: sa.Connection, ctx: Context) -> Evidence:
    return notification_evidence(conn, ctx, "AT-NOTIF-1", _stock_events(conn, ctx), vendor=VENDOR,
                                 header="autotrader-signature", delivery_prefix="STOCK_UPDATE",
                                 what="STOCK_UPDATE notifications")


@rule("AT-NOTIF-2")
def at_notif_2(conn: sa.Connection, ctx: Context) -> Evidence:
    refused = facts.rejections(conn, ctx, VENDOR)
    signature = [r for r in refused if r["http_status"] != 413]
    violations = [{"rejection": r["id"], "received_at": r["received_at"], "status": r["http_status"],
                   "reason": r["reason"], "why": "a signature failure must be answered 403"}
                  for r in signature if r["http_status"] != 403]
    headers = facts.event_headers(conn, ctx, VENDOR)
    violations += [_event_row(e, why="stored without its autotrader-signature header")
                   for e in facts.events(conn, ctx, VENDOR) if "autotrader-signature" not in headers.get(e["id"], {})]
    rows = [{"rejection": r["id"], "received_at": r["received_at"], "status": r["http_status"], "reason": r["reason"],
             "from": r["remote_addr"], "bytes": r["body_bytes"]} for r in refused]
    return judge("AT-NOTIF-2", exercised=bool(signature), violations=violations, ok_rows=rows,
                 passed=f"{len(signature)} Autotrader deliveries refused with 403 (bad, missing or stale signature), "
                        "each recorded in webhook_rejections; nothing unsigned was stored",
                 failed=f"{len(violations)} refusals not answered 403, or events stored without a signature",
                 not_exercised="no refused Autotrader delivery in webhook_rejections (the vendor never sent a bad "
                               "signature; a forged request exercises it)",
                 basis="store (webhook_rejections, webhook_events)")


@rule("AT-NOTIF-3")
def at_notif_3(conn: sa.Connection, ctx: Context) -> Evidence:
    stored = _stock_events(conn, ctx)
    bad = [_event_row(e, why="not applied") for e in stored
           if e["status"] == "failed" or (e["status"] == "ignored" and "not handled" in (e["error"] or ""))]
    applied = [e for e in stored if e["status"] == "applied"]
    older = [e for e in stored if e["status"] == "ignored" and e not in bad]
    return judge("AT-NOTIF-3", exercised=bool(applied), violations=bad,
                 ok_rows=[_event_row(e) for e in stored],
                 passed=f"{len(applied)} STOCK_UPDATE notifications applied ({len(older)} duplicates or older "
                        "versions ignored by versionNumber)",
                 failed=f"{len(bad)} STOCK_UPDATE notifications failed or were not recognised",
                 not_exercised="no applied STOCK_UPDATE notification in webhook_events")


@rule("AT-CREATE-1")
def at_create_1(conn: sa.Connection, ctx: Context) -> Evidence:
    applied = [e for e in _stock_events(conn, ctx) if e["status"] == "applied" and e["subject_id"]]
    by_vehicle = {f"{VENDOR}:{e['subject_id']}": e for e in reversed(applied)}  # the first event per stock item
    found = {r["vehicle_id"]: r for r in _vehicle_rows(conn, ctx, list(by_vehicle))}
    created, violations = [], []
    for vid, event in by_vehicle.items():
        row = found.get(vid)
        if row is None:
            violations.append(_event_row(event, why="applied, but the vehicle is not in the store"))
        elif row["first_seen_at"] >= event["received_at"]:
            created.append(_event_row(event, vehicle=vid, first_seen_at=row["first_seen_at"],
                                      availability=row["availability"]))
    return judge("AT-CREATE-1", exercised=bool(created), violations=violations, ok_rows=created,
                 passed=f"{len(created)} stock items were first created in our store by their STOCK_UPDATE",
                 failed=f"{len(violations)} applied notifications left no vehicle behind",
                 not_exercised="no vehicle was created by a notification (every notified vehicle was already known "
                               "from a baseline)")


def _expected_identifiers(raw: Raw) -> dict[str, Any]:
    expected = {}
    for column, key in (("source_vehicle_id", "stockId"), ("search_id", "searchId"),
                        ("external_stock_id", "externalStockId"),
                        ("external_stock_reference", "externalStockReference")):
        value = _section(raw, "metadata", key)
        if value is not _ABSENT:
            expected[column] = None if value in (None, "") else str(value).strip()
    advertiser = _section(raw, "advertiser", "advertiserId")
    if advertiser not in (_ABSENT, None, ""):
        expected["dealer_id"] = f"{VENDOR}:{str(advertiser).strip()}"
    return expected


def _identifier_check(conn: sa.Connection, ctx: Context, check_id: str, columns: Sequence[str],
                      where_row: Callable[[dict[str, Any]], bool], what: str) -> Evidence:
    violations, rows, seen = [], [], 0
    for row in _vehicle_rows(conn, ctx, columns=("search_id", "external_stock_id", "external_stock_reference",
                                                 "last_seen_in_baseline_at")):
        if not where_row(row) or not isinstance(row["raw"], Mapping):
            continue
        seen += 1
        expected = _expected_identifiers(row["raw"])
        wrong = {c: (row[c], expected[c]) for c in columns if c in expected and row[c] != expected[c]}
        if wrong:
            violations.append(_vehicle_row(row, why="; ".join(f"{c} is {got!r}, vendor sent {want!r}"
                                                              for c, (got, want) in wrong.items())))
        elif len(rows) < 20:
            rows.append(_vehicle_row(row, **{c: row[c] for c in columns if c != "dealer_id"}))
    return judge(check_id, exercised=seen > 0, violations=violations, ok_rows=rows,
                 passed=f"{seen} {what}: identifiers stored as Autotrader sent them",
                 failed=f"{len(violations)} vehicles store identifiers that differ from the vendor record",
                 not_exercised=f"no {what} in the store")


@rule("AT-CREATE-2")
def at_create_2(conn: sa.Connection, ctx: Context) -> Evidence:
    return _identifier_check(conn, ctx, "AT-CREATE-2", ("source_vehicle_id", "search_id", "dealer_id",
                                                       "external_stock_reference", "external_stock_id"),
                             lambda row: True, "Autotrader vehicles")


@rule("AT-AVAIL-1")
def at_avail_1(conn: sa.Connection, ctx: Context) -> Evidence:
    violations, rows, counts = [], [], {"PUBLISHED": 0, "other": 0}
    for row in _vehicle_rows(conn, ctx, columns=("shown_on_dealer_site",)):
        status = _section(row["raw"] or {}, "adverts", "retailAdverts", "advertiserAdvert", "status")
        if not isinstance(status, str):
            continue
        expected = status == "PUBLISHED"
        counts["PUBLISHED" if expected else "other"] += 1
        if row["shown_on_dealer_site"] is not expected:
            violations.append(_vehicle_row(row, advertiser_advert=status, shown=row["shown_on_dealer_site"],
                                           why=f"shown_on_dealer_site should be {expected}"))
    flips = facts.changes(conn, ctx, cause="notification", fields=["shown_on_dealer_site"])
    rows = [{"vehicle": c["vehicle_id"], "changed_at": c["changed_at"], "field": c["field"], "old": c["old_value"],
             "new": c["new_value"], "cause": c["cause"], "version": c["source_version"]} for c in flips]
    return judge("AT-AVAIL-1", exercised=counts["PUBLISHED"] + counts["other"] > 0, violations=violations,
                 ok_rows=rows,
                 passed=f"visibility follows advertiserAdvert.status for every vehicle ({counts['PUBLISHED']} "
                        f"PUBLISHED shown, {counts['other']} hidden); {len(flips)} changed by notifications",
                 failed=f"{len(violations)} vehicles' dealer-site visibility contradicts advertiserAdvert.status",
                 not_exercised="no Autotrader vehicle with an advertiserAdvert.status in the store")


def _expected_availability(raw: Raw) -> str | None:
    lifecycle = _section(raw, "metadata", "lifecycleState")
    if lifecycle == "SOLD":
        return "sold"
    if lifecycle in ("WASTEBIN", "DELETED"):
        return "removed"
    adverts = _section(raw, "adverts")
    if adverts is _ABSENT:
        return None
    reservation = adverts.get("reservationStatus") if isinstance(adverts, Mapping) else None
    return "reserved" if isinstance(reservation, str) and reservation.strip().casefold() == "reserved" \
        else "available"


@rule("AT-AVAIL-2")
def at_avail_2(conn: sa.Connection, ctx: Context) -> Evidence:
    removed_by_baseline = {c["vehicle_id"] for c in facts.changes(conn, ctx, cause="baseline", fields=["availability"])
                           if json_value(c["new_value"]) == "removed"}
    violations, tally = [], {}
    for row in _vehicle_rows(conn, ctx):
        expected = _expected_availability(row["raw"] or {})
        if expected is None:
            continue
        lifecycle = _section(row["raw"], "metadata", "lifecycleState")
        reservation = _section(row["raw"], "adverts", "reservationStatus")
        key = (str(lifecycle), str(reservation if reservation is not _ABSENT else None), row["availability"])
        tally[key] = tally.get(key, 0) + 1
        if row["availability"] == expected:
            continue
        if row["availability"] == "removed" and row["vehicle_id"] in removed_by_baseline:
            continue  # no longer listed by a complete baseline
        violations.append(_vehicle_row(row, lifecycle=lifecycle, reservation=reservation,
                                       why=f"availability should be {expected}"))
    rows = [{"lifecycleState": k[0], "reservationStatus": k[1], "availability": k[2], "vehicles": n}
            for k, n in sorted(tally.items())]
    return judge("AT-AVAIL-2", exercised=bool(tally), violations=violations, ok_rows=rows,
                 passed=f"availability follows lifecycleState and reservationStatus for {sum(tally.values())} vehicles",
                 failed=f"{len(violations)} vehicles' availability contradicts the vendor record",
                 not_exercised="no Autotrader vehicle in the store")


# ---- field groups updated by notifications -----------------------------------------------------------
def _text(value: Any) -> Any:
    if value in (_ABSENT,):
        return _ABSENT
    return None if value is None or (isinstance(value, str) and not value.strip()) else str(value).strip()


def _number(value: Any) -> Any:
    if value is _ABSENT or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return _ABSENT


def _gbp(raw: Raw, *path: str) -> Any:
    money = _section(raw, *path)
    if money is _ABSENT or money is None:
        return money
    return _number(money.get("amountGBP")) if isinstance(money, Mapping) else _ABSENT


def _mileage(raw: Raw) -> Any:
    miles = _section(raw, "vehicle", "odometerReadingMiles")
    if miles is _ABSENT or miles is None:
        return miles
    try:
        return float((Decimal(str(miles)) * MILES_TO_KM).quantize(Decimal(1), ROUND_HALF_UP))
    except ArithmeticError:
        return _ABSENT


def _href(raw: Raw, kind: str) -> Any:
    media = _section(raw, "media")
    if media is _ABSENT:
        return _ABSENT
    item = media.get(kind) if isinstance(media, Mapping) else None
    return _text(item.get("href")) if isinstance(item, Mapping) else None


def _images(raw: Raw) -> Any:
    media = _section(raw, "media")
    if media is _ABSENT:
        return _ABSENT
    items = media.get("images") if isinstance(media, Mapping) else None
    hrefs = [i.get("href") for i in items or [] if isinstance(i, Mapping) and i.get("href")]
    return [re.compile(re.escape(h).replace(re.escape("{resize}"), "[^/]+") + "$") for h in hrefs]


def _features(raw: Raw, keys: Sequence[str]) -> Any:
    items = _section(raw, "features")
    if items is _ABSENT or not isinstance(items, list):
        return _ABSENT
    return [tuple(i.get(k) for k in keys) for i in items if isinstance(i, Mapping) and i.get("name")]


def _price(raw: Raw) -> Any:
    total = _gbp(raw, "adverts", "retailAdverts", "totalPrice")
    return total if total not in (None, _ABSENT) else _gbp(raw, "adverts", "forecourtPrice")


def _vat(raw: Raw) -> Any:
    retail = _text(_section(raw, "adverts", "retailAdverts", "vatStatus"))
    return retail if retail not in (None, _ABSENT) else _text(_section(raw, "adverts", "forecourtPriceVatStatus"))


Expect = Callable[[Raw], Any]
_V = ("vehicle",)
_R = ("adverts", "retailAdverts")
GROUPS: dict[str, dict[str, Expect]] = {
    "AT-UPD-VEHICLE": {
        "make": lambda r: _text(_section(r, *_V, "make")), "model": lambda r: _text(_section(r, *_V, "model")),
        "mileage_km": _mileage,
        "first_registration_date": lambda r: _text(_section(r, *_V, "firstRegistrationDate")),
        "derivative_id": lambda r: _text(_section(r, *_V, "derivativeId")),
        "seats": lambda r: _number(_section(r, *_V, "seats")), "doors": lambda r: _number(_section(r, *_V, "doors")),
        "engine_cc": lambda r: _number(_section(r, *_V, "engineCapacityCC")),
        "co2_g_km": lambda r: _number(_section(r, *_V, "co2EmissionGPKM")),
    },
    "AT-UPD-MEDIA": {"images": _images, "video_url": lambda r: _href(r, "video"),
                     "spin_url": lambda r: _href(r, "spin")},
    "AT-UPD-ADVERT": {
        "attention_grabber": lambda r: _text(_section(r, *_R, "attentionGrabber")),
        "description": lambda r: _text(_section(r, *_R, "description")),
        "description2": lambda r: _text(_section(r, *_R, "description2")),
        "price_indicator_rating": lambda r: _text(_section(r, *_R, "priceIndicatorRating")),
    },
    "AT-UPD-PRICE": {
        "supplied_price_amount": lambda r: _gbp(r, *_R, "suppliedPrice"),
        "admin_fee_amount": lambda r: _gbp(r, *_R, "adminFee"),
        "price_amount": _price, "vat_status": _vat,
    },
    "AT-UPD-FEATURES": {"features": lambda r: _features(r, ("name", "type"))},
    "AT-UPD-HIGHLIGHTS": {"highlights": lambda r: _section(r, "highlights"),
                          "features": lambda r: _features(r, ("name", "rarityRating", "valueRating"))},
}
GROUP_TEXT = {
    "AT-UPD-VEHICLE": "vehicle data", "AT-UPD-MEDIA": "media", "AT-UPD-ADVERT": "advert texts",
    "AT-UPD-PRICE": "prices", "AT-UPD-FEATURES": "features", "AT-UPD-HIGHLIGHTS": "highlights and feature ratings",
}


def _stored(column: str, value: Any, keys: Sequence[str] | None = None) -> Any:
    """A stored value in the shape the expectation has."""
    if value is None:
        return None
    if column in ("features",) and keys is not None:
        return [tuple(i.get(k) for k in keys) for i in value if isinstance(i, Mapping)]
    if isinstance(value, (Decimal, int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _matches(column: str, stored: Any, expected: Any, check_id: str) -> bool:
    if column == "images":
        return isinstance(stored, list) and len(stored) == len(expected) and all(
            isinstance(url, str) and pattern.search(url) for url, pattern in zip(stored, expected))
    if column == "features":
        keys = ("name", "type") if check_id == "AT-UPD-FEATURES" else ("name", "rarityRating", "valueRating")
        return _stored(column, stored, keys) == expected
    if isinstance(expected, float):
        return isinstance(_stored(column, stored), float) and math.isclose(_stored(column, stored), expected,
                                                                           abs_tol=0.01)
    return _stored(column, stored) == expected


def _changed_ratings(change: dict[str, Any]) -> bool:
    old, new = json_value(change["old_value"]), json_value(change["new_value"])
    if not isinstance(old, list) or not isinstance(new, list):
        return False
    pick = [tuple((i.get("name"), i.get("rarityRating"), i.get("valueRating")) for i in side if isinstance(i, dict))
            for side in (old, new)]
    return pick[0] != pick[1]


def _group_rule(check_id: str) -> Callable[[sa.Connection, Context], Evidence]:
    expectations = GROUPS[check_id]

    def run(conn: sa.Connection, ctx: Context) -> Evidence:
        fields = list(expectations)
        found = facts.changes(conn, ctx, cause="notification", fields=fields)
        if check_id == "AT-UPD-HIGHLIGHTS":
            found = [c for c in found if c["field"] == "highlights" or _changed_ratings(c)]
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for change in found:
            latest[(change["vehicle_id"], change["field"])] = change
        touched = sorted({vid for vid, _ in latest})
        violations = []
        for row in _vehicle_rows(conn, ctx, touched, columns=[f for f in fields if f not in ("vehicle_id",)]):
            raw = row["raw"] or {}
            for column, expect in expectations.items():
                if (row["vehicle_id"], column) not in latest:
                    continue
                expected = expect(raw)
                if expected is _ABSENT:
                    continue
                if not _matches(column, row[column], expected, check_id):
                    violations.append(_vehicle_row(row, field=column, stored=str(row[column])[:80],
                                                   why="differs from the vendor record the notification carried"))
        rows = [{"vehicle": c["vehicle_id"], "field": c["field"], "changed_at": c["changed_at"],
                 "old": (c["old_value"] or "")[:60], "new": (c["new_value"] or "")[:60], "version": c["source_version"]}
                for c in latest.values()]
        what = GROUP_TEXT[check_id]
        return judge(check_id, exercised=bool(latest), violations=violations, ok_rows=rows,
                     passed=f"{len(latest)} field changes of {what} applied from notifications to {len(touched)} "
                            "vehicles; each vehicle matches the vendor record it was updated from",
                     failed=f"{len(violations)} {what} fields differ from the notification that changed them",
                     not_exercised=f"no notification changed {what} (no vehicle_changes with cause notification "
                                   f"for {', '.join(fields)})")

    run.__name__ = check_id.lower().replace("-", "_")
    return run


for _check in GROUPS:
    rule(_check)(_group_rule(_check))


__all__ = ["GROUPS", "_vehicle_rows", "_section", "_ABSENT"]

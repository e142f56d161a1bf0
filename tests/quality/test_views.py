"""The analyst views return the expected rows on SQLite and PostgreSQL; migrations create and drop them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from dealer_pipeline.quality import evaluate_blocking_rules, load_vehicles, replace_findings
from dealer_pipeline.store import migrate, views
from dealer_pipeline.store.engine import create_store_engine, transaction
from dealer_pipeline.store.repository import insert_many
from dealer_pipeline.store.schema import api_blocks, publications, quality_findings, vehicle_changes
from tests.quality.factories import (
    BR_DEALER,
    NOW,
    UK_DEALER,
    UK_DEALER_2,
    baseline,
    br_vehicle,
    documented_queries,
    insert_baselines,
    insert_dealers,
    insert_vehicles,
    uk_vehicle,
)

VIEW_NAMES = ["v_data_quality", "v_dealer_sync_health", "v_price_history", "v_publications", "v_stock_current",
              "v_vendor_state_changes"]


def _change(vehicle_id: str, field: str, old: str | None, new: str | None, hours_ago: int) -> dict:
    return {"vehicle_id": vehicle_id, "field": field, "old_value": old, "new_value": new,
            "changed_at": NOW - timedelta(hours=hours_ago), "cause": "notification", "source_version": 4}


@pytest.fixture
def analyst_data(store: sa.Engine) -> dict[str, dict]:
    rows = {
        "uk_ok": uk_vehicle(0),
        "uk_cheap": uk_vehicle(1, price_amount=Decimal("11")),  # blocked by price_range
        "uk_reserved": uk_vehicle(2, reservation_status="Reserved", availability="reserved"),
        "uk_sold": uk_vehicle(3, lifecycle_state="SOLD", availability="sold"),
        "uk2_ok": uk_vehicle(4, dealer_id=UK_DEALER_2),
        "br_ok": br_vehicle(0),
        "br_removed": br_vehicle(1, lifecycle_state="Inativo", availability="removed"),
        "br_other": br_vehicle(2, transmission="other", source_transmission="Semi-automática"),
    }
    insert_dealers(store, (UK_DEALER, "Example Motors Ltd"), (BR_DEALER, "Loja Exemplo"))
    insert_vehicles(store, list(rows.values()))
    uk_ok, br_ok = rows["uk_ok"]["vehicle_id"], rows["br_ok"]["vehicle_id"]
    with transaction(store) as conn:
        insert_many(conn, vehicle_changes, [
            _change(uk_ok, "price_amount", "10995.00", "10495.00", 5),
            _change(uk_ok, "admin_fee_amount", '"199"', '"249.50"', 5),
            _change(uk_ok, "mileage_km", "72420", "72500", 5),  # not a price
            _change(br_ok, "price_amount", None, "89900.00", 48),  # first price
            _change(br_ok, "price_amount", "89900.00", "87500.00", 2),
        ])
        insert_many(conn, api_blocks, [
            {"vendor": "autotrader", "service": "stock", "dealer_id": UK_DEALER, "reason": "403B",
             "message": "Advertiser 10012345 does not have access to the Stock Sync product", "created_at": NOW,
             "resolved_at": None},
            {"vendor": "autotrader", "service": "stock", "dealer_id": UK_DEALER, "reason": "403B",
             "message": "old", "created_at": NOW - timedelta(days=9), "resolved_at": NOW - timedelta(days=8)},
            {"vendor": "autotrader", "service": None, "dealer_id": None, "reason": "401",
             "message": "Access token is missing, invalid or expired", "created_at": NOW, "resolved_at": None},
        ])
    with transaction(store) as conn:
        insert_many(conn, publications, [
            _publication("autocosmos", rows["uk_ok"], "active", "create", hours_ago=30),
            _publication("autocosmos", rows["uk_cheap"], "error", "hold",
                         error="price_range: price 11.00 GBP outside 500-500000 GBP"),
            _publication("autocosmos", rows["br_ok"], "active", "replace", hours_ago=20),
            _publication("autochat", rows["uk_ok"], "active", "create", hours_ago=10),
            _publication("autochat", rows["uk_reserved"], "suspended", "suspend", hours_ago=40),
            _publication("webmotors_status", rows["br_ok"], "active", "create"),  # a report, not a classified
        ])
    insert_baselines(store, [
        baseline(UK_DEALER, NOW - timedelta(days=2), 4),
        baseline(UK_DEALER, NOW - timedelta(days=1), 3),
        baseline(UK_DEALER, NOW - timedelta(hours=1), 1, complete=False, error="page 2: 503"),
        baseline(BR_DEALER, NOW - timedelta(hours=3), 3),
    ])
    with store.connect() as conn:
        report = evaluate_blocking_rules(load_vehicles(conn), today=NOW.date())
    with transaction(store) as conn:
        replace_findings(conn, report.findings, check_names=report.rules, now=NOW)
        insert_many(conn, quality_findings, [{
            "vehicle_id": rows["br_other"]["vehicle_id"], "dealer_id": BR_DEALER,
            "check_name": "other_vocabulary_share", "severity": "warning",
            "reason": "transmission other (vendor value 'Semi-automática')", "detected_at": NOW}])
    return rows


def _publication(target: str, vehicle: dict, state: str, last_op: str, *, hours_ago: int | None = None,
                 error: str | None = None) -> dict:
    return {"target": target, "vehicle_id": vehicle["vehicle_id"], "dealer_id": vehicle["dealer_id"],
            "account_id": f"{target}-account", "external_id": f"x-{vehicle['vehicle_id']}", "state": state,
            "last_op": last_op, "last_error": error, "flags": {},
            "published_at": NOW - timedelta(hours=hours_ago) if hours_ago is not None else None, "updated_at": NOW}


def _select(store: sa.Engine, sql: str) -> list[dict]:
    with store.connect() as conn:
        return [dict(row) for row in conn.execute(sa.text(sql)).mappings()]


def test_migrations_create_every_view_with_its_comment(store: sa.Engine) -> None:
    names = set(sa.inspect(store).get_view_names())
    assert names >= set(VIEW_NAMES) and set(views.view_names()) == set(VIEW_NAMES)
    if store.dialect.name == "postgresql":
        for view in views.view_definitions("postgresql"):
            comment = _select(store, f"SELECT obj_description('{view.name}'::regclass, 'pg_class') AS c")[0]["c"]
            assert comment == view.comment and comment.startswith("One row per")


def test_v_stock_current(store: sa.Engine, analyst_data: dict[str, dict]) -> None:
    rows = {r["vehicle_id"]: r for r in _select(store, "SELECT * FROM v_stock_current")}
    expected = {analyst_data[k]["vehicle_id"] for k in ("uk_ok", "uk_cheap", "uk_reserved", "uk2_ok", "br_ok",
                                                        "br_other")}
    assert set(rows) == expected
    uk_ok = rows[analyst_data["uk_ok"]["vehicle_id"]]
    assert (uk_ok["dealer_name"], uk_ok["make"], uk_ok["registration"], uk_ok["fuel_type"]) == (
        "Example Motors Ltd", "Hyundai", "EK18FUT", "petrol")
    assert Decimal(str(uk_ok["price_amount"])) == Decimal("10995") and uk_ok["price_currency"] == "GBP"
    assert uk_ok["blocking_findings"] == 0
    assert rows[analyst_data["uk_cheap"]["vehicle_id"]]["blocking_findings"] == 1
    assert rows[analyst_data["uk_reserved"]["vehicle_id"]]["availability"] == "reserved"
    assert rows[analyst_data["uk2_ok"]["vehicle_id"]]["dealer_name"] is None  # dealer not (yet) in `dealers`


def test_v_price_history(store: sa.Engine, analyst_data: dict[str, dict]) -> None:
    rows = _select(store, "SELECT * FROM v_price_history ORDER BY changed_at, field")
    got = [(r["vehicle_id"], r["field"], r["currency"],
            None if r["old_amount"] is None else Decimal(str(r["old_amount"])),
            Decimal(str(r["new_amount"])),
            None if r["change_amount"] is None else Decimal(str(r["change_amount"]))) for r in rows]
    uk, br = analyst_data["uk_ok"]["vehicle_id"], analyst_data["br_ok"]["vehicle_id"]
    assert got == [
        (br, "price_amount", "BRL", None, Decimal("89900"), None),
        (uk, "admin_fee_amount", "GBP", Decimal("199"), Decimal("249.5"), Decimal("50.5")),
        (uk, "price_amount", "GBP", Decimal("10995"), Decimal("10495"), Decimal("-500")),
        (br, "price_amount", "BRL", Decimal("89900"), Decimal("87500"), Decimal("-2400")),
    ]
    assert {r["dealer_id"] for r in rows} == {UK_DEALER, BR_DEALER}
    # arithmetic works in SQL on both dialects: the biggest cut per dealer
    cuts = _select(store, "SELECT dealer_id, MIN(change_amount) AS biggest_cut FROM v_price_history "
                          "WHERE field = 'price_amount' GROUP BY dealer_id ORDER BY dealer_id")
    assert [(r["dealer_id"], Decimal(str(r["biggest_cut"]))) for r in cuts] == [
        (UK_DEALER, Decimal("-500")), (BR_DEALER, Decimal("-2400"))]


def test_v_dealer_sync_health(store: sa.Engine, analyst_data: dict[str, dict]) -> None:
    rows = {r["dealer_id"]: r for r in _select(store, "SELECT * FROM v_dealer_sync_health")}
    assert set(rows) == {UK_DEALER, UK_DEALER_2, BR_DEALER}
    uk = rows[UK_DEALER]
    assert uk["dealer_name"] == "Example Motors Ltd" and uk["source"] == "autotrader"
    assert not uk["last_baseline_complete"] and uk["last_baseline_error"] == "page 2: 503"
    assert (uk["last_baseline_records"], uk["last_complete_records"], uk["previous_complete_records"]) == (1, 3, 4)
    assert str(uk["last_complete_baseline_at"]).startswith(str((NOW - timedelta(days=1)).date()))
    assert (uk["vehicles_available"], uk["vehicles_reserved"], uk["vehicles_sold"], uk["vehicles_removed"],
            uk["vehicles_total"]) == (2, 1, 1, 0, 4)
    assert (uk["vehicles_blocked"], uk["blocking_findings"], uk["warning_findings"]) == (1, 1, 0)
    assert (uk["open_blocks"], uk["open_vendor_blocks"]) == (1, 1)
    br = rows[BR_DEALER]
    assert br["last_baseline_complete"] and br["previous_complete_records"] is None
    assert (br["vehicles_available"], br["vehicles_removed"], br["warning_findings"], br["open_blocks"],
            br["open_vendor_blocks"]) == (2, 1, 1, 0, 0)
    orphan = rows[UK_DEALER_2]
    assert orphan["source"] == "autotrader" and orphan["last_baseline_started_at"] is None
    assert orphan["vehicles_available"] == 1 and orphan["open_vendor_blocks"] == 1


def test_v_data_quality(store: sa.Engine, analyst_data: dict[str, dict]) -> None:
    rows = _select(store, "SELECT * FROM v_data_quality ORDER BY severity, vehicle_id")
    assert [(r["vehicle_id"], r["check_name"], r["severity"]) for r in rows] == [
        (analyst_data["uk_cheap"]["vehicle_id"], "price_range", "blocking"),
        (analyst_data["br_other"]["vehicle_id"], "other_vocabulary_share", "warning"),
    ]
    blocked = rows[0]
    assert blocked["reason"] == "price_amount 11.00 GBP outside 100..5000000 GBP"
    assert (blocked["dealer_name"], blocked["make"], blocked["registration"], blocked["availability"]) == (
        "Example Motors Ltd", "Ford", "AB19CDE", "available")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_downgrade_drops_the_views_and_upgrade_restores_them(empty_store_url: str) -> None:
    engine = create_store_engine(empty_store_url)
    try:
        migrate.upgrade(engine)
        assert set(VIEW_NAMES) <= set(sa.inspect(engine).get_view_names())
        migrate.downgrade(engine, "0001")
        sa.inspect(engine).clear_cache()
        assert sa.inspect(engine).get_view_names() == []
        migrate.upgrade(engine)
        assert set(VIEW_NAMES) <= set(sa.inspect(engine).get_view_names())
    finally:
        engine.dispose()


def test_view_files_follow_the_convention() -> None:
    for dialect in ("sqlite", "postgresql"):
        definitions = views.view_definitions(dialect)
        assert [d.name for d in definitions] == VIEW_NAMES
        for definition in definitions:
            assert definition.path.read_text().startswith("-- One row per")
            assert definition.create_sql.upper().startswith(f"CREATE VIEW {definition.name.upper()} AS")


def test_the_documented_questions_are_answered(store: sa.Engine, analyst_data: dict[str, dict]) -> None:
    """The README's example questions run unchanged on both databases and find the crafted facts."""
    queries = documented_queries()
    assert len(queries) == 6
    stock, cuts, held_back, unhealthy, live_where, not_published = (_select(store, q) for q in queries)
    gbp = [r for r in stock if r["dealer_id"] == UK_DEALER and r["fuel_type"] == "petrol"]
    assert len(gbp) == 1 and gbp[0]["vehicles"] == 2 and gbp[0]["held_back"] == 1
    assert [(r["vehicle_id"], Decimal(str(r["total_change"]))) for r in cuts] == [
        (analyst_data["br_ok"]["vehicle_id"], Decimal("-2400")), (analyst_data["uk_ok"]["vehicle_id"], Decimal("-500"))]
    assert [r["vehicle_id"] for r in held_back] == [analyst_data["uk_cheap"]["vehicle_id"]]
    assert [r["dealer_id"] for r in unhealthy] == [UK_DEALER, UK_DEALER_2]
    assert [(r["target"], r["dealer_id"], r["live_vehicles"], r["held_back"], r["not_live"]) for r in live_where] == [
        ("autochat", UK_DEALER, 1, 0, 1), ("autocosmos", UK_DEALER, 1, 1, 0), ("autocosmos", BR_DEALER, 1, 0, 0)]
    assert [(r["target"], r["vehicle_id"]) for r in not_published] == [
        ("autocosmos", analyst_data["uk_cheap"]["vehicle_id"])]
    assert not_published[0]["reason"].startswith("price_range: price 11.00 GBP")

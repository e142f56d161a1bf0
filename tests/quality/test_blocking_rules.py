"""Each blocking rule fails on a crafted bad vehicle, and only that vehicle is held back from publishing.

The stored cases run against a real store (SQLite and PostgreSQL): the bad vehicles sit in the
same dealers as good ones, the rules run over the table, and the publishing gate must return
exactly the good vehicles.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Callable

import pandas as pd
import pytest
import sqlalchemy as sa

from dealer_pipeline.quality import (
    blocked_vehicles,
    evaluate_blocking_rules,
    load_vehicles,
    publishable_vehicle_ids,
    replace_findings,
)
from dealer_pipeline.quality.rules import RULE_NAMES
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.schema import quality_findings, vehicles
from tests.quality.factories import (
    BR_DEALER,
    NOW,
    UK_DEALER,
    br_vehicle,
    insert_vehicles,
    uk_vehicle,
    with_raw,
)

TODAY = NOW.date()
NEXT_YEAR = TODAY.year + 1

# (case id, builder of the bad row, the rule that must catch it, a fragment of the reason quoting the value)
Case = tuple[str, Callable[[], dict[str, Any]], str, str]
BAD_CASES: list[Case] = [
    ("id_not_source_key", lambda: uk_vehicle(100, vehicle_id="autotrader:not-the-stock-id"),
     "unique_vehicle_id", "'autotrader:not-the-stock-id' is not '<source>:<source_vehicle_id>'"),
    ("uk_no_make", lambda: uk_vehicle(101, make=None), "required_fields", "make missing"),
    ("uk_blank_model", lambda: uk_vehicle(102, model="  "), "required_fields", "model missing"),
    ("uk_zero_price", lambda: uk_vehicle(103, price_amount=Decimal("0")), "required_fields",
     "price_amount 0.00 is not > 0"),
    ("br_no_price", lambda: br_vehicle(104, price_amount=None), "required_fields", "price_amount missing"),
    ("br_no_currency", lambda: br_vehicle(105, price_currency=None), "required_fields", "price_currency missing"),
    ("br_no_images", lambda: br_vehicle(106, images=[]), "required_fields", "no images"),
    ("uk_images_null", lambda: uk_vehicle(107, images=None), "required_fields", "no images"),
    ("uk_model_year_1932", lambda: uk_vehicle(108, model_year=1932), "model_year_range",
     "model_year 1932 outside 1950.."),
    ("br_model_year_future", lambda: br_vehicle(109, model_year=NEXT_YEAR + 2), "model_year_range",
     f"model_year {NEXT_YEAR + 2} outside 1950..{NEXT_YEAR}"),
    ("uk_negative_mileage", lambda: uk_vehicle(110, mileage_km=-5), "mileage_range", "mileage_km -5 outside"),
    ("br_mileage_too_high", lambda: br_vehicle(111, mileage_km=1_450_000), "mileage_range",
     "mileage_km 1450000 outside 0..1000000"),
    ("uk_price_in_thousands", lambda: uk_vehicle(112, price_amount=Decimal("11")), "price_range",
     "price_amount 11.00 GBP outside 100..5000000 GBP"),
    ("br_price_in_centavos", lambda: br_vehicle(113, price_amount=Decimal("8990000000")), "price_range",
     "price_amount 8990000000.00 BRL outside"),
    ("uk_priced_in_brl", lambda: uk_vehicle(114, price_currency="BRL", price_amount=Decimal("60000")), "price_range",
     "price_currency 'BRL' but autotrader lists in GBP"),
    ("br_unknown_currency", lambda: br_vehicle(115, price_currency="USD"), "price_range",
     "price_currency 'USD' has no plausible range configured"),
    ("uk_engine_huge", lambda: uk_vehicle(116, engine_cc=25_000), "engine_size_range", "engine_cc 25000 outside"),
    ("uk_petrol_engine_zero", lambda: uk_vehicle(117, engine_cc=0, fuel_type="petrol"), "engine_size_range",
     "engine_cc 0 outside 50..10000"),
    ("uk_power_zero", lambda: uk_vehicle(118, power_kw=Decimal("0.0")), "power_range", "power_kw 0.0 outside 1..1500"),
    ("uk_power_in_watts", lambda: uk_vehicle(119, power_kw=Decimal("97100.0")), "power_range",
     "power_kw 97100.0 outside"),
    ("br_doors_12", lambda: br_vehicle(120, doors=12), "doors_range", "doors 12 outside 0..7"),
    ("uk_seats_zero", lambda: uk_vehicle(121, seats=0), "seats_range", "seats 0 outside 1..20"),
    ("uk_seats_45", lambda: uk_vehicle(122, seats=45), "seats_range", "seats 45 outside 1..20"),
    ("uk_vin_16_chars", lambda: uk_vehicle(123, vin="TMAJ3815GJA10000"), "vin_format", "has 16 characters, not 17"),
    ("uk_vin_letter_o", lambda: uk_vehicle(124, vin="WF0NXXGCHNB1OOOO1"), "vin_format", "contains I, O or Q"),
    ("uk_vin_bad_symbol", lambda: uk_vehicle(125, vin="WF0NXXGCHNB10000*"), "vin_format",
     "has characters other than A-Z and 0-9"),
    ("uk_vin_us_check_digit", lambda: uk_vehicle(126, vin="1M8GDM9A1KP042788"), "vin_format",
     "check digit (position 9) is '1', expected 'X'"),
    ("uk_bad_plate", lambda: uk_vehicle(127, registration="AB1234567"), "registration_format",
     "registration 'AB1234567' matches no UK format"),
    ("br_plate_final_letter", lambda: with_raw(br_vehicle(128), ["vehicle", "plate_final"], "X"),
     "registration_format", "plate_final 'X' is not the plate's final digit(s)"),
    ("br_plate_mismatch", lambda: br_vehicle(129, registration="ABC1D23", plate_final="7"), "registration_format",
     "registration 'ABC1D23' does not end with plate_final '7'"),
    ("uk_sold_but_available", lambda: uk_vehicle(130, lifecycle_state="SOLD"), "lifecycle_availability",
     "lifecycle_state SOLD but availability available (expected sold or removed)"),
    ("uk_wastebin_but_available", lambda: uk_vehicle(131, lifecycle_state="WASTEBIN"), "lifecycle_availability",
     "lifecycle_state WASTEBIN but availability available (expected removed)"),
    ("uk_deleted_but_sold", lambda: uk_vehicle(132, lifecycle_state="DELETED", availability="sold"),
     "lifecycle_availability", "lifecycle_state DELETED but availability sold"),
    ("uk_reserved_but_available", lambda: uk_vehicle(133, reservation_status="Reserved"), "lifecycle_availability",
     "reservationStatus Reserved but availability available"),
    ("uk_unknown_state", lambda: uk_vehicle(134, lifecycle_state="IN_PREPARATION"), "lifecycle_availability",
     "lifecycle_state 'IN_PREPARATION' is not a known autotrader state"),
    ("br_vendido_but_available", lambda: br_vehicle(135, lifecycle_state="Vendido"), "lifecycle_availability",
     "lifecycle_state Vendido but availability available"),
    ("br_inativo_but_reserved", lambda: br_vehicle(136, lifecycle_state="Inativo", availability="reserved"),
     "lifecycle_availability", "lifecycle_state Inativo but availability reserved (expected removed)"),
]


def good_vehicles() -> list[dict[str, Any]]:
    """Valid stock including the edge cases that must pass."""
    return [
        *(uk_vehicle(i) for i in range(6)),
        *(br_vehicle(i) for i in range(6)),
        uk_vehicle(20, registration="A123BCD", model_year=1998),  # prefix plate
        uk_vehicle(21, registration="ABC 123D", model_year=1979),  # suffix plate, written with a space
        uk_vehicle(22, registration="1 ABC", model_year=1955),  # dateless plate
        uk_vehicle(23, registration=None, vin=None, lifecycle_state="DUE_IN"),  # new stock: no plate or VIN yet
        uk_vehicle(24, vin="9BWZZZ377VT004251"),  # Brazilian-built: position 9 is not a check digit
        uk_vehicle(25, vin="tmaj3815gja100025"),  # lower case is the same VIN
        uk_vehicle(26, fuel_type="electric", engine_cc=0, model_year=NEXT_YEAR),
        uk_vehicle(27, lifecycle_state="SALE_IN_PROGRESS", reservation_status="Reserved", availability="reserved"),
        uk_vehicle(28, lifecycle_state="FORECOURT", availability="removed"),  # missing from a complete baseline
        uk_vehicle(29, lifecycle_state="SOLD", availability="sold", price_amount=None, images=[]),  # not listed
        br_vehicle(30, registration="ABC1D27", plate_final="7"),
        br_vehicle(31, registration="ABC-1234", plate_final="4"),
        br_vehicle(32, lifecycle_state="ativo", mileage_km=0, doors=2),
        br_vehicle(33, lifecycle_state="Vendido", availability="sold"),
    ]


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["image_count"] = frame["images"].map(lambda images: len(images) if isinstance(images, list) else 0)
    frame["plate_final"] = [row["raw"]["vehicle"].get("plate_final") if row["source"] == "webmotors" else None
                            for row in rows]
    return frame


@pytest.mark.parametrize("case", BAD_CASES, ids=[case[0] for case in BAD_CASES])
def test_rule_catches_the_bad_vehicle_and_nothing_else(case: Case) -> None:
    _, build, rule, fragment = case
    bad = build()
    report = evaluate_blocking_rules(_frame([*good_vehicles(), bad]), today=TODAY)
    assert set(report.findings["vehicle_id"]) == {bad["vehicle_id"]}
    (finding,) = report.findings.to_dict("records")
    assert finding["check_name"] == rule
    assert finding["severity"] == "blocking"
    assert finding["dealer_id"] == bad["dealer_id"]
    assert fragment in finding["reason"]


def test_every_blocking_rule_has_a_bad_case() -> None:
    assert {case[2] for case in BAD_CASES} == set(RULE_NAMES)


def test_duplicate_vehicle_ids_are_both_caught() -> None:
    rows = [uk_vehicle(1), uk_vehicle(2), uk_vehicle(1, price_amount=Decimal("9995"))]
    report = evaluate_blocking_rules(_frame(rows), today=TODAY)
    assert report.failures_per_rule()["unique_vehicle_id"] == 1  # one finding per vehicle id
    assert "appears 2 times" in report.findings.iloc[0]["reason"]
    assert report.failing_vehicle_ids() == {uk_vehicle(1)["vehicle_id"]}


def test_several_problems_of_one_vehicle_are_all_named() -> None:
    bad = uk_vehicle(1, make=None, images=[], price_amount=Decimal("-1"))
    report = evaluate_blocking_rules(_frame([bad]), today=TODAY)
    (reason,) = report.findings["reason"]
    assert reason == "make missing; price_amount -1.00 is not > 0; no images"


def test_stored_bad_vehicles_are_held_back_alone(store: sa.Engine) -> None:
    bad_rows = [build() for _, build, _, _ in BAD_CASES]
    good = good_vehicles()
    insert_vehicles(store, good + bad_rows)

    with store.connect() as conn:
        frame = load_vehicles(conn)
    assert len(frame) == len(good) + len(bad_rows)
    report = evaluate_blocking_rules(frame, today=TODAY)
    with transaction(store) as conn:
        replace_findings(conn, report.findings, check_names=report.rules, now=NOW)

    expected = {build()["vehicle_id"]: rule for _, build, rule, _ in BAD_CASES}
    with store.connect() as conn:
        stored = conn.execute(sa.select(quality_findings.c.vehicle_id, quality_findings.c.check_name,
                                        quality_findings.c.severity)).all()
    assert {vehicle_id: check for vehicle_id, check, _ in stored} == expected
    assert len(stored) == len(expected) and {severity for *_, severity in stored} == {"blocking"}

    good_available = {row["vehicle_id"] for row in good if row["availability"] == "available"}
    with store.connect() as conn:
        publishable = (publishable_vehicle_ids(conn, UK_DEALER, today=TODAY)
                       | publishable_vehicle_ids(conn, BR_DEALER, today=TODAY))
        with_reserved = publishable_vehicle_ids(conn, UK_DEALER, availabilities=("available", "reserved"),
                                                today=TODAY)
        blocked = blocked_vehicles(conn, UK_DEALER, today=TODAY)
    assert publishable == good_available
    assert uk_vehicle(27)["vehicle_id"] in with_reserved
    assert set(blocked) == {vid for vid, _ in expected.items() if vid.startswith("autotrader:")}
    assert blocked[uk_vehicle(112)["vehicle_id"]] == ["price_range: price_amount 11.00 GBP outside 100..5000000 GBP"]


def test_a_fixed_vehicle_leaves_the_findings_and_becomes_publishable(store: sa.Engine) -> None:
    bad = uk_vehicle(1, price_amount=Decimal("0"))
    other_dealer_bad = br_vehicle(2, images=[])
    insert_vehicles(store, [bad, uk_vehicle(2), other_dealer_bad])

    def check(dealer_id: str | None) -> None:
        with store.connect() as conn:
            report = evaluate_blocking_rules(load_vehicles(conn, dealer_id=dealer_id), today=TODAY)
        with transaction(store) as conn:
            replace_findings(conn, report.findings, check_names=report.rules, dealer_id=dealer_id)

    def stored() -> set[str]:
        with store.connect() as conn:
            return set(conn.execute(sa.select(quality_findings.c.vehicle_id)).scalars())

    check(None)
    assert stored() == {bad["vehicle_id"], other_dealer_bad["vehicle_id"]}
    with store.connect() as conn:
        assert bad["vehicle_id"] not in publishable_vehicle_ids(conn, UK_DEALER, today=TODAY)

    with transaction(store) as conn:
        conn.execute(sa.update(vehicles).where(vehicles.c.vehicle_id == bad["vehicle_id"])
                     .values(price_amount=Decimal("10995")))
    with store.connect() as conn:  # the gate judges the current row, not the last run's findings
        assert bad["vehicle_id"] in publishable_vehicle_ids(conn, UK_DEALER, today=TODAY)
    check(UK_DEALER)
    assert stored() == {other_dealer_bad["vehicle_id"]}  # the other dealer's scope was left alone


def test_findings_outside_the_replaced_checks_are_refused(store: sa.Engine) -> None:
    findings = pd.DataFrame([{"vehicle_id": "autotrader:x", "dealer_id": UK_DEALER, "check_name": "vin_format",
                              "severity": "blocking", "reason": "r"}])
    with transaction(store) as conn, pytest.raises(ValueError, match="outside the replaced scope"):
        replace_findings(conn, findings, check_names=["price_range"])


def test_model_year_limit_follows_the_calendar() -> None:
    row = uk_vehicle(1, model_year=2027)
    assert evaluate_blocking_rules(_frame([row]), today=date(2026, 1, 1)).passed
    assert not evaluate_blocking_rules(_frame([row]), today=date(2025, 12, 31)).passed


def test_a_check_can_read_only_the_columns_it_judges(store: sa.Engine) -> None:
    insert_vehicles(store, [uk_vehicle(1), br_vehicle(1)])
    with store.connect() as conn:
        full = load_vehicles(conn)
        narrow = load_vehicles(conn, columns=["vehicle_id", "dealer_id", "plate_final"])
        with pytest.raises(ValueError, match="not a judged column"):
            load_vehicles(conn, columns=["raw"])
    assert list(narrow.columns) == list(full.columns)
    assert narrow["make"].isna().all() and full["make"].notna().all()
    by_id = narrow.set_index("vehicle_id")
    assert by_id.loc[br_vehicle(1)["vehicle_id"], "plate_final"] == "3"  # from the raw Webmotors hit
    assert full.set_index("vehicle_id").loc[uk_vehicle(1)["vehicle_id"], "image_count"] == 3

"""The blocking rules: each judges a whole frame at once and returns, per failing vehicle, why.

A rule returns a string Series aligned with the frame it was given: the reason (quoting the
offending value) where the vehicle fails, <NA> where it passes. Identity and lifecycle rules
judge every vehicle; content rules (fields, ranges, VIN, plate) judge only listed vehicles
(available or reserved), the ones a publisher may show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Callable, Literal, Sequence

import numpy as np
import pandas as pd

from dealer_pipeline.quality import limits
from dealer_pipeline.quality.frame import typed_frame
from dealer_pipeline.quality.identifiers import registration_problems, vin_problems

BLOCKING = "blocking"
WARNING = "warning"
FINDING_COLUMNS = ["vehicle_id", "dealer_id", "check_name", "severity", "reason"]


@dataclass(frozen=True)
class RuleContext:
    today: date

    @property
    def max_model_year(self) -> int:
        return self.today.year + 1


Judge = Callable[[pd.DataFrame, RuleContext], pd.Series]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    scope: Literal["all", "listed"]
    judge: Judge


def _mask(values: pd.Series) -> np.ndarray:
    return values.to_numpy(dtype=bool, na_value=False)


def _blank(values: pd.Series) -> np.ndarray:
    return _mask(values.isna() | (values.astype("string").str.strip() == ""))


def _number(values: pd.Series, decimals: int = 0) -> pd.Series:
    return values.map(lambda v: f"{v:.{decimals}f}", na_action="ignore").astype("string")


Text = Callable[[pd.DataFrame], "pd.Series | str"]


def _combine(frame: pd.DataFrame, parts: list[tuple[np.ndarray, Text]]) -> pd.Series:
    """Join (mask, reason) pairs into one reason per row, '; '-separated.

    Each reason is built only for the rows its mask selects (the function gets those rows of
    `frame`), so formatting costs nothing when everything passes.
    """
    reasons = pd.Series("", index=frame.index, dtype="string")
    for mask, text in parts:
        if not mask.any():
            continue
        piece = text(frame[mask])
        if isinstance(piece, pd.Series):
            piece = piece.astype("string").fillna("<null>")
        reasons[mask] = reasons[mask] + np.where(reasons[mask] == "", "", "; ") + piece
    return reasons.where(reasons != "", pd.NA)


def unique_vehicle_id(frame: pd.DataFrame, ctx: RuleContext) -> pd.Series:
    vid = frame["vehicle_id"]
    counts = vid.map(vid.value_counts()).astype("Int64")
    expected = frame["source"] + ":" + frame["source_vehicle_id"]
    return _combine(frame, [
        (_mask(counts > 1), lambda f: "vehicle_id '" + f["vehicle_id"] + "' appears "
         + counts[f.index].astype("string") + " times"),
        (_mask(vid.notna() & (vid != expected).fillna(True)),
         lambda f: "vehicle_id '" + f["vehicle_id"] + "' is not '<source>:<source_vehicle_id>' ('"
         + expected[f.index].fillna("?") + "')"),
    ])


def required_fields(frame: pd.DataFrame, ctx: RuleContext) -> pd.Series:
    price = frame["price_amount"]
    return _combine(frame, [
        (_blank(frame["make"]), lambda f: "make missing"),
        (_blank(frame["model"]), lambda f: "model missing"),
        (_mask(price.isna()), lambda f: "price_amount missing"),
        (_mask(price <= 0), lambda f: "price_amount " + _number(f["price_amount"], 2) + " is not > 0"),
        (_blank(frame["price_currency"]), lambda f: "price_currency missing"),
        (_mask(frame["image_count"].fillna(0) < 1), lambda f: "no images"),
    ])


def _outside(values: pd.Series, low: float, high: float) -> np.ndarray:
    return _mask(values.notna() & ((values < low) | (values > high)))


def _range_rule(column: str, low: float, high: float, unit: str = "", decimals: int = 0) -> Judge:
    suffix = f" {unit}" if unit else ""

    def judge(frame: pd.DataFrame, ctx: RuleContext) -> pd.Series:
        return _combine(frame, [(_outside(frame[column], low, high), lambda f: f"{column} "
                                 + _number(f[column], decimals) + f" outside {low}..{high}{suffix}")])

    return judge


def model_year_range(frame: pd.DataFrame, ctx: RuleContext) -> pd.Series:
    return _range_rule("model_year", limits.MIN_MODEL_YEAR, ctx.max_model_year)(frame, ctx)


def engine_size_range(frame: pd.DataFrame, ctx: RuleContext) -> pd.Series:
    cc = frame["engine_cc"]
    low, high = limits.ENGINE_CC
    no_engine = _mask(frame["fuel_type"].isin(limits.NO_ENGINE_FUELS)) & _mask(cc == 0)
    return _combine(frame, [(_outside(cc, low, high) & ~no_engine,
                             lambda f: "engine_cc " + _number(f["engine_cc"]) + f" outside {low}..{high} cc (0 only "
                             "for " + "/".join(limits.NO_ENGINE_FUELS) + ")")])


_LOW = {currency: bounds[0] for currency, bounds in limits.PRICE_RANGES.items()}
_HIGH = {currency: bounds[1] for currency, bounds in limits.PRICE_RANGES.items()}


def price_range(frame: pd.DataFrame, ctx: RuleContext) -> pd.Series:
    price, currency, source = frame["price_amount"], frame["price_currency"], frame["source"]
    known = _mask(currency.isin(list(limits.PRICE_RANGES)))
    expected = source.map(limits.SOURCE_CURRENCY).astype("string")
    low = currency.map(_LOW).astype("Float64")
    high = currency.map(_HIGH).astype("Float64")
    return _combine(frame, [
        (~known & ~_blank(currency),
         lambda f: "price_currency '" + f["price_currency"] + "' has no plausible range configured"),
        (_mask(expected.notna() & currency.notna() & (currency != expected)),
         lambda f: "price_currency '" + f["price_currency"] + "' but " + f["source"] + " lists in "
         + expected[f.index]),
        (known & _mask((price > 0) & ((price < low) | (price > high))),
         lambda f: "price_amount " + _number(f["price_amount"], 2) + " " + f["price_currency"] + " outside "
         + _number(low[f.index]) + ".." + _number(high[f.index]) + " " + f["price_currency"]),
    ])


def vin_format(frame: pd.DataFrame, ctx: RuleContext) -> pd.Series:
    return vin_problems(frame["vin"])


def registration_format(frame: pd.DataFrame, ctx: RuleContext) -> pd.Series:
    markets = frame["source"].map(limits.SOURCE_MARKET).astype("string")
    return registration_problems(frame["registration"], markets, frame["plate_final"])


def _lifecycle_tables() -> tuple[set[str], set[str]]:
    known, allowed = set(), set()
    for source, states in limits.LIFECYCLE_AVAILABILITY.items():
        for state, availabilities in states.items():
            known.add(f"{source}|{state}")
            allowed.update(f"{source}|{state}|{a}" for a in availabilities)
    return known, allowed


_KNOWN_STATES, _ALLOWED_STATES = _lifecycle_tables()
_EXPECTED_TEXT = {
    f"{source}|{state}": " or ".join(a for a in limits.AVAILABILITIES if a in allowed)
    for source, states in limits.LIFECYCLE_AVAILABILITY.items() for state, allowed in states.items()
}


def lifecycle_availability(frame: pd.DataFrame, ctx: RuleContext) -> pd.Series:
    availability, source, state = frame["availability"], frame["source"], frame["lifecycle_state"]
    key = source + "|" + state.str.strip().str.upper()
    known = _mask(key.isin(_KNOWN_STATES))
    consistent = _mask((key + "|" + availability).isin(_ALLOWED_STATES))
    canonical = _mask(availability.isin(limits.AVAILABILITIES))
    listed = _mask(availability.isin(limits.LISTED))
    judged_source = _mask(source.isin(list(limits.LIFECYCLE_AVAILABILITY)))
    reserved_flag = _mask(frame["reservation_status"].str.strip().str.upper() == limits.RESERVED_STATUS)
    autotrader = _mask(source == "autotrader")
    return _combine(frame, [
        (~canonical, lambda f: "availability '" + f["availability"].fillna("") + "' is not one of "
         + ", ".join(limits.AVAILABILITIES)),
        (known & ~consistent & canonical,
         lambda f: "lifecycle_state " + f["lifecycle_state"] + " but availability " + f["availability"]
         + " (expected " + key[f.index].map(_EXPECTED_TEXT).astype("string") + ")"),
        (judged_source & ~known & listed,
         lambda f: "lifecycle_state '" + f["lifecycle_state"].fillna("<missing>") + "' is not a known " + f["source"]
         + " state: cannot confirm the vehicle is on sale"),
        (autotrader & known & consistent & reserved_flag & _mask(availability == "available"),
         lambda f: "reservationStatus " + f["reservation_status"] + " but availability available"),
        (autotrader & known & consistent & ~reserved_flag & _mask(availability == "reserved"),
         lambda f: "availability reserved but reservationStatus is " + f["reservation_status"].fillna("null")),
    ])


BLOCKING_RULES: tuple[Rule, ...] = (
    Rule("unique_vehicle_id", "vehicle_id is unique and equals <source>:<source_vehicle_id>", "all",
         unique_vehicle_id),
    Rule("required_fields", "a listed vehicle has make, model, price > 0 with currency, and at least one image",
         "listed", required_fields),
    Rule("model_year_range", f"model_year within {limits.MIN_MODEL_YEAR}..next year", "listed", model_year_range),
    Rule("mileage_range", "mileage_km within {}..{} km".format(*limits.MILEAGE_KM), "listed",
         _range_rule("mileage_km", *limits.MILEAGE_KM, unit="km")),
    Rule("price_range", "price within the currency's plausible range, in the source market's currency", "listed",
         price_range),
    Rule("engine_size_range", "engine_cc within {}..{} (0 for electric/hydrogen)".format(*limits.ENGINE_CC),
         "listed", engine_size_range),
    Rule("power_range", "power_kw within {}..{} kW".format(*limits.POWER_KW), "listed",
         _range_rule("power_kw", *limits.POWER_KW, unit="kW", decimals=1)),
    Rule("doors_range", "doors within {}..{}".format(*limits.DOORS), "listed", _range_rule("doors", *limits.DOORS)),
    Rule("seats_range", "seats within {}..{}".format(*limits.SEATS), "listed", _range_rule("seats", *limits.SEATS)),
    Rule("vin_format", "VIN: 17 characters, no I/O/Q, check digit where the maker's country mandates it", "listed",
         vin_format),
    Rule("registration_format", "number plate in a format of the vehicle's market", "listed", registration_format),
    Rule("lifecycle_availability", "availability agrees with the vendor's lifecycle state and reservation", "all",
         lifecycle_availability),
)
RULE_NAMES = tuple(rule.name for rule in BLOCKING_RULES)
#: What the identity rule reads (pass to `load_vehicles(columns=...)` to check identity alone).
IDENTITY_COLUMNS = ("vehicle_id", "source", "source_vehicle_id", "dealer_id", "availability")


@dataclass
class RuleReport:
    """What one evaluation found: one finding per (vehicle, rule)."""

    checked: int
    listed: int
    findings: pd.DataFrame
    rules: tuple[str, ...] = RULE_NAMES
    unrecordable: int = 0

    def failures_per_rule(self) -> dict[str, int]:
        counts = self.findings["check_name"].value_counts()
        return {name: int(counts.get(name, 0)) for name in self.rules}

    def failing_vehicle_ids(self) -> set[str]:
        return set(self.findings["vehicle_id"])

    def examples(self, per_rule: int = 3) -> pd.DataFrame:
        return self.findings.groupby("check_name", sort=False).head(per_rule)

    @property
    def passed(self) -> bool:
        return self.findings.empty and self.unrecordable == 0


def evaluate_blocking_rules(
    frame: pd.DataFrame, *, today: date | None = None, rules: tuple[Rule, ...] = BLOCKING_RULES
) -> RuleReport:
    """Run `rules` over `frame` (as `load_vehicles` returns it) and collect the findings."""
    frame = typed_frame(frame)
    ctx = RuleContext(today=today or datetime.now(timezone.utc).date())
    listed_mask = _mask(frame["availability"].isin(limits.LISTED))
    listed = frame[listed_mask]
    pieces = []
    for rule in rules:
        subset = frame if rule.scope == "all" else listed
        if subset.empty:
            continue
        reasons = rule.judge(subset, ctx).dropna()
        if reasons.empty:
            continue
        failing = subset.loc[reasons.index, ["vehicle_id", "dealer_id"]].copy()
        failing["check_name"] = rule.name
        failing["severity"] = BLOCKING
        failing["reason"] = reasons
        pieces.append(failing)
    findings = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame(columns=FINDING_COLUMNS)
    findings = findings[FINDING_COLUMNS].astype("string")
    unrecordable = int(findings["vehicle_id"].isna().sum())
    findings = findings.dropna(subset=["vehicle_id"]).drop_duplicates(["vehicle_id", "check_name"])
    return RuleReport(checked=len(frame), listed=int(listed_mask.sum()), findings=findings.reset_index(drop=True),
                      rules=tuple(rule.name for rule in rules), unrecordable=unrecordable)


def split_by_dealer(report: RuleReport, frame: pd.DataFrame, dealer_ids: Sequence[str]) -> dict[str, RuleReport]:
    """One evaluation over several dealers' vehicles, as the report each dealer would have had alone:
    the rules are vectorised, so judging a range of dealers at once costs about what one dealer does."""
    frame = typed_frame(frame)
    listed = _mask(frame["availability"].isin(limits.LISTED))
    out = {}
    for dealer in dealer_ids:
        mine = _mask(frame["dealer_id"] == dealer)
        found = report.findings[_mask(report.findings["dealer_id"] == dealer)].reset_index(drop=True)
        out[dealer] = RuleReport(checked=int(mine.sum()), listed=int((mine & listed).sum()), findings=found,
                                 rules=report.rules)
    return out

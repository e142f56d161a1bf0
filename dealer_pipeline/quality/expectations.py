"""A Great Expectations (GX Core 1.x) suite over the canonical table, validated in memory.

It restates the table's contract declaratively (keys, vocabularies, ranges) as a second,
independent implementation beside the pandas rules: if the two disagree, one of them is wrong.
GX is imported inside `validate_vehicles` because importing it costs seconds; callers that
never validate never pay. Nothing is written to disk (ephemeral context, dataframe batch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

import pandas as pd

from dealer_pipeline.quality import limits

SUITE_NAME = "canonical_vehicles"
EXAMPLES = 5


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result, reduced to what a person needs in the Dagster UI."""

    expectation: str
    column: str | None
    description: str
    success: bool
    observed: Any
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def _spec(today: date) -> list[tuple[str, dict[str, Any], str, str | None]]:
    """(expectation class name, kwargs, description, rows it applies to). GX is imported by the caller."""
    from great_expectations.expectations.row_conditions import Column

    listed = Column("availability").is_in(list(limits.LISTED))
    on_listed = {"row_condition": listed}
    where_listed = "availability in (available, reserved)"
    spec: list[tuple[str, dict[str, Any], str, str | None]] = [
        ("ExpectTableRowCountToBeBetween", {"min_value": 1}, "the canonical table is not empty", None),
        ("ExpectColumnValuesToBeUnique", {"column": "vehicle_id"}, "vehicle_id is unique", None),
        ("ExpectColumnValuesToMatchRegex", {"column": "vehicle_id", "regex": r"^[a-z]+:\S+$"},
         "vehicle_id is <source>:<source id>", None),
    ]
    for column in ("vehicle_id", "source", "dealer_id", "availability"):
        spec.append(("ExpectColumnValuesToNotBeNull", {"column": column}, f"{column} is always set", None))
    spec += [
        ("ExpectColumnValuesToBeInSet", {"column": "availability", "value_set": list(limits.AVAILABILITIES)},
         "availability is canonical", None),
        ("ExpectColumnValuesToBeInSet", {"column": "fuel_type", "value_set": list(limits.FUEL_TYPES)},
         "fuel_type is canonical", None),
        ("ExpectColumnValuesToBeInSet", {"column": "transmission", "value_set": list(limits.TRANSMISSIONS)},
         "transmission is canonical", None),
        ("ExpectColumnValuesToBeInSet", {"column": "price_currency", "value_set": list(limits.PRICE_RANGES)},
         "price_currency has a configured range", None),
        ("ExpectColumnValuesToNotBeNull", {"column": "make", **on_listed}, "listed vehicles have a make",
         where_listed),
        ("ExpectColumnValuesToNotBeNull", {"column": "model", **on_listed}, "listed vehicles have a model",
         where_listed),
        ("ExpectColumnValuesToNotBeNull", {"column": "price_amount", **on_listed}, "listed vehicles have a price",
         where_listed),
        ("ExpectColumnValuesToBeBetween", {"column": "image_count", "min_value": 1, **on_listed},
         "listed vehicles have an image", where_listed),
        ("ExpectColumnValuesToBeBetween",
         {"column": "model_year", "min_value": limits.MIN_MODEL_YEAR, "max_value": today.year + 1, **on_listed},
         "model year is plausible", where_listed),
        ("ExpectColumnValuesToBeBetween",
         {"column": "mileage_km", "min_value": limits.MILEAGE_KM[0], "max_value": limits.MILEAGE_KM[1],
          **on_listed}, "mileage is plausible", where_listed),
        ("ExpectColumnValuesToBeBetween",
         {"column": "power_kw", "min_value": limits.POWER_KW[0], "max_value": limits.POWER_KW[1], **on_listed},
         "power is plausible", where_listed),
        ("ExpectColumnValuesToBeBetween",
         {"column": "doors", "min_value": limits.DOORS[0], "max_value": limits.DOORS[1], **on_listed},
         "doors are plausible", where_listed),
        ("ExpectColumnValuesToBeBetween",
         {"column": "seats", "min_value": limits.SEATS[0], "max_value": limits.SEATS[1], **on_listed},
         "seats are plausible", where_listed),
        ("ExpectColumnValuesToMatchRegex", {"column": "vin", "regex": r"^[A-HJ-NPR-Z0-9]{17}$", **on_listed},
         "VINs have 17 characters without I, O, Q", where_listed),
    ]
    for currency, (low, high) in limits.PRICE_RANGES.items():
        spec.append(("ExpectColumnValuesToBeBetween",
                     {"column": "price_amount", "min_value": low, "max_value": high,
                      "row_condition": listed & (Column("price_currency") == currency)},
                     f"{currency} prices are plausible", f"{where_listed} and price_currency = {currency}"))
    return spec


def _plain(value: Any) -> Any:
    """numpy/pandas scalars to JSON-friendly Python values."""
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _label(type_name: str, kwargs: dict[str, Any], where: str | None) -> str:
    shown = {k: v for k, v in kwargs.items() if k not in ("batch_id", "row_condition", "column")}
    args = ", ".join(f"{k}={v!r}" for k, v in shown.items())
    column = kwargs.get("column")
    label = f"{type_name}({column or ''}{', ' if column and args else ''}{args})"
    return f"{label} where {where}" if where else label


def validate_vehicles(frame: pd.DataFrame, *, today: date | None = None) -> list[ExpectationOutcome]:
    """Validate `frame` (as `load_vehicles` returns it) against the suite; one outcome per expectation."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    today = today or datetime.now(timezone.utc).date()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (context.data_sources.add_pandas("canonical")
                        .add_dataframe_asset("vehicles").add_batch_definition_whole_dataframe("whole_table"))
    suite = gx.ExpectationSuite(name=SUITE_NAME)
    for type_name, kwargs, description, where in _spec(today):
        meta = {"description": description, "where": where}
        suite.add_expectation(getattr(gx.expectations, type_name)(**kwargs, meta=meta))
    suite = context.suites.add(suite)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format={
        "result_format": "SUMMARY", "unexpected_index_column_names": ["vehicle_id"],
        "partial_unexpected_count": EXAMPLES,
    })
    outcomes = []
    for item in result.results:
        config = item.expectation_config
        kwargs = dict(config.kwargs)
        details = item.result or {}
        column = kwargs.get("column")
        examples = []
        for entry in (details.get("partial_unexpected_index_list") or [])[:EXAMPLES]:
            entry = _plain(entry)
            examples.append({"vehicle_id": entry.get("vehicle_id"), "value": entry.get(column) if column else None})
        observed = details.get("observed_value")
        if observed is None and "unexpected_count" in details:
            observed = f"{details['unexpected_count']} of {details.get('element_count')} unexpected"
        error = None
        if item.exception_info and item.exception_info.get("raised_exception"):
            error = str(item.exception_info.get("exception_message"))
        meta = config.meta or {}
        outcomes.append(ExpectationOutcome(
            expectation=_label(config.type, kwargs, meta.get("where")), column=column,
            description=str(meta.get("description", "")),
            success=bool(item.success), observed=_plain(observed),
            unexpected_count=_plain(details.get("unexpected_count")),
            unexpected_percent=_plain(details.get("unexpected_percent")),
            examples=examples, error=error,
        ))
    return outcomes

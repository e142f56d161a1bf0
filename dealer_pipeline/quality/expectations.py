"""A Great Expectations (GX Core 1.x) suite over the canonical table, validated in memory.

It restates the table's contract declaratively (keys, vocabularies, ranges) as a second,
independent implementation beside the pandas rules: if the two disagree, one of them is wrong.
GX is imported inside `validate_vehicles` because importing it costs seconds; callers that
never validate never pay. Data stays in memory (ephemeral context, dataframe batches).

Speed: GX filters the whole frame once per metric for every row condition, and compares
nullable pandas dtypes value by value. So the table is validated as two batches, the whole
table (structure) and the listed vehicles (content), with numbers as plain float64; only the
per-currency price expectations keep a row condition, and only for currencies present.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from dealer_pipeline.quality import limits
from dealer_pipeline.quality.frame import FLOAT_COLUMNS, INT_COLUMNS

SUITE_NAME = "canonical_vehicles"
EXAMPLES = 5
WHERE_LISTED = "availability in (available, reserved)"


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


Spec = list[tuple[str, dict[str, Any], str]]  # (expectation class name, kwargs, what it means)


def _table_spec() -> Spec:
    spec: Spec = [
        ("ExpectTableRowCountToBeBetween", {"min_value": 1}, "the canonical table is not empty"),
        ("ExpectColumnValuesToBeUnique", {"column": "vehicle_id"}, "vehicle_id is unique"),
        ("ExpectColumnValuesToMatchRegex", {"column": "vehicle_id", "regex": r"^[a-z]+:\S+$"},
         "vehicle_id is <source>:<source id>"),
    ]
    for column in ("vehicle_id", "source", "dealer_id", "availability"):
        spec.append(("ExpectColumnValuesToNotBeNull", {"column": column}, f"{column} is always set"))
    spec += [
        ("ExpectColumnValuesToBeInSet", {"column": "availability", "value_set": list(limits.AVAILABILITIES)},
         "availability is canonical"),
        ("ExpectColumnValuesToBeInSet", {"column": "fuel_type", "value_set": list(limits.FUEL_TYPES)},
         "fuel_type is canonical"),
        ("ExpectColumnValuesToBeInSet", {"column": "transmission", "value_set": list(limits.TRANSMISSIONS)},
         "transmission is canonical"),
        ("ExpectColumnValuesToBeInSet", {"column": "price_currency", "value_set": list(limits.PRICE_RANGES)},
         "price_currency has a configured range"),
    ]
    return spec


def _listed_spec(today: date, currencies: list[str]) -> Spec:
    from great_expectations.expectations.row_conditions import Column

    def between(column: str, low: float, high: float | None = None) -> dict[str, Any]:
        return {"column": column, "min_value": low, **({"max_value": high} if high is not None else {})}

    spec: Spec = [
        ("ExpectColumnValuesToNotBeNull", {"column": "make"}, "listed vehicles have a make"),
        ("ExpectColumnValuesToNotBeNull", {"column": "model"}, "listed vehicles have a model"),
        ("ExpectColumnValuesToNotBeNull", {"column": "price_amount"}, "listed vehicles have a price"),
        ("ExpectColumnValuesToBeBetween", between("image_count", 1), "listed vehicles have an image"),
        ("ExpectColumnValuesToBeBetween", between("model_year", limits.MIN_MODEL_YEAR, today.year + 1),
         "model year is plausible"),
        ("ExpectColumnValuesToBeBetween", between("mileage_km", *limits.MILEAGE_KM), "mileage is plausible"),
        ("ExpectColumnValuesToBeBetween", between("power_kw", *limits.POWER_KW), "power is plausible"),
        ("ExpectColumnValuesToBeBetween", between("doors", *limits.DOORS), "doors are plausible"),
        ("ExpectColumnValuesToBeBetween", between("seats", *limits.SEATS), "seats are plausible"),
        ("ExpectColumnValuesToMatchRegex", {"column": "vin", "regex": r"^[A-HJ-NPR-Z0-9]{17}$"},
         "VINs have 17 characters without I, O, Q"),
    ]
    for currency in currencies:
        low, high = limits.PRICE_RANGES[currency]
        spec.append(("ExpectColumnValuesToBeBetween",
                     {**between("price_amount", low, high), "row_condition": Column("price_currency") == currency},
                     f"{currency} prices are plausible"))
    return spec


TABLE_COLUMNS = ("vehicle_id", "source", "dealer_id", "availability", "fuel_type", "transmission", "price_currency")
LISTED_COLUMNS = ("vehicle_id", "make", "model", "price_amount", "price_currency", "image_count", "model_year",
                  "mileage_km", "power_kw", "doors", "seats", "vin")
#: What the suite reads (pass to `load_vehicles(columns=...)`).
SUITE_COLUMNS = tuple(dict.fromkeys(TABLE_COLUMNS + LISTED_COLUMNS))
#: Few distinct values: categoricals make GX's batch fingerprint (a hash of every cell) cheap.
CATEGORICAL = ("source", "dealer_id", "availability", "fuel_type", "transmission", "price_currency", "make", "model")


def gx_frame(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Only `columns`, numbers as float64 (NaN for null), text as objects or categoricals: what GX
    compares vectorized and fingerprints quickly."""
    out = pd.DataFrame(index=frame.index)
    for column in columns:
        values = frame[column]
        if column in INT_COLUMNS + FLOAT_COLUMNS:
            out[column] = values.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
        elif column in CATEGORICAL:
            out[column] = values.astype(object).where(values.notna(), None).astype("category")
        else:
            out[column] = values.astype(object).where(values.notna(), None)
    return out.reset_index(drop=True)


def _plain(value: Any) -> Any:
    """numpy/pandas scalars to JSON-friendly Python values (whole floats back to ints)."""
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return None if value != value else int(value) if value.is_integer() else value
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


def _outcome(item: Any) -> ExpectationOutcome:
    config = item.expectation_config
    kwargs = dict(config.kwargs)
    details = item.result or {}
    meta = config.meta or {}
    column = kwargs.get("column")
    examples = [{"vehicle_id": entry.get("vehicle_id"), "value": entry.get(column) if column else None}
                for entry in _plain(details.get("partial_unexpected_index_list") or [])[:EXAMPLES]]
    observed = details.get("observed_value")
    if observed is None and "unexpected_count" in details:
        observed = f"{details['unexpected_count']} of {details.get('element_count')} unexpected"
    error = None
    if item.exception_info and item.exception_info.get("raised_exception"):
        error = str(item.exception_info.get("exception_message"))
    return ExpectationOutcome(
        expectation=_label(config.type, kwargs, meta.get("where")), column=column,
        description=str(meta.get("description", "")), success=bool(item.success), observed=_plain(observed),
        unexpected_count=_plain(details.get("unexpected_count")),
        unexpected_percent=_plain(details.get("unexpected_percent")), examples=examples, error=error,
    )


def validate_vehicles(frame: pd.DataFrame, *, today: date | None = None) -> list[ExpectationOutcome]:
    """Validate `frame` (as `load_vehicles` returns it) against the suite; one outcome per expectation."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # Its INFO notice of a temporary docs directory (never written here) tells a person nothing.
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)

    today = today or datetime.now(timezone.utc).date()
    table = gx_frame(frame, TABLE_COLUMNS)
    listed = gx_frame(frame[frame["availability"].isin(limits.LISTED).fillna(False).to_numpy(dtype=bool)],
                      LISTED_COLUMNS)
    currencies = sorted(set(listed["price_currency"].dropna()) & set(limits.PRICE_RANGES))
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("canonical")
    result_format = {"result_format": "SUMMARY", "unexpected_index_column_names": ["vehicle_id"],
                     "partial_unexpected_count": EXAMPLES}
    outcomes: list[ExpectationOutcome] = []
    for batch_name, data, spec, where in (
        ("vehicles", table, _table_spec(), None),
        ("listed_vehicles", listed, _listed_spec(today, currencies), WHERE_LISTED),
    ):
        suite = gx.ExpectationSuite(name=f"{SUITE_NAME}.{batch_name}")
        for type_name, kwargs, description in spec:
            condition = kwargs.get("row_condition")
            rows = where if condition is None else f"{where} and {condition.column.name} = {condition.parameter}"
            suite.add_expectation(getattr(gx.expectations, type_name)(
                **kwargs, meta={"description": description, "where": rows}))
        suite = context.suites.add(suite)
        batch = (source.add_dataframe_asset(batch_name).add_batch_definition_whole_dataframe("whole")
                 .get_batch(batch_parameters={"dataframe": data}))
        outcomes += [_outcome(item) for item in batch.validate(suite, result_format=result_format).results]
    return outcomes

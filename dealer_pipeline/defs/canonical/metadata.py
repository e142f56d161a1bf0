"""Turn quality results into Dagster metadata a person can act on: counts, examples, where to look."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Sequence

import dagster as dg

from dealer_pipeline.quality.findings import FINDINGS_VIEW, findings_query

if TYPE_CHECKING:  # pandas-backed types: the checks load them when they run, not at import
    import pandas as pd

    from dealer_pipeline.quality.dealer_health import DealerCheck
    from dealer_pipeline.quality.expectations import ExpectationOutcome
    from dealer_pipeline.quality.rules import RuleReport

MAX_TABLE_ROWS = 50
MAX_CELL = 160

#: A column of a metadata table: its name and Dagster's type (`string`, `int`, `float`, `bool`).
Column = tuple[str, str]


def _cell(value: Any, kind: str) -> str | int | float | bool | None:
    if value is None or kind != "string":
        return value
    text = str(value).replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def table(columns: Sequence[Column], rows: Iterable[Sequence[Any]], limit: int = MAX_TABLE_ROWS,
          ) -> dg.TableMetadataValue:
    """Rows as a Dagster table with a typed schema (the UI renders, sorts and exports it); at most `limit`
    rows, each kept beside a count of all of them in the same metadata."""
    schema = dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in columns])
    records = [dg.TableRecord({name: _cell(value, kind) for (name, kind), value in zip(columns, row)})
               for _, row in zip(range(limit), rows)]
    return dg.MetadataValue.table(records=records, schema=schema)


def where_to_look(check_names: Iterable[str], dealer_id: str | None = None) -> dict[str, dg.MetadataValue]:
    query = findings_query(check_names, dealer_id)
    return {
        "findings_view": dg.MetadataValue.text(FINDINGS_VIEW),
        "findings_query": dg.MetadataValue.md(f"```sql\n{query}\n```"),
    }


def rule_report_metadata(report: RuleReport, dealer_id: str | None = None) -> dict[str, Any]:
    failures = report.failures_per_rule()
    examples = report.examples(per_rule=3)
    metadata: dict[str, Any] = {
        "vehicles_checked": dg.MetadataValue.int(report.checked),
        "listed_vehicles": dg.MetadataValue.int(report.listed),
        "failing_vehicles": dg.MetadataValue.int(len(report.failing_vehicle_ids())),
        "failures_per_rule": dg.MetadataValue.json(failures),
        "failures_table": table([("rule", "string"), ("failing_vehicles", "int")], failures.items()),
        "examples": table([("rule", "string"), ("vehicle_id", "string"), ("dealer_id", "string"), ("reason", "string")],
                          examples[["check_name", "vehicle_id", "dealer_id", "reason"]].itertuples(index=False)),
        **where_to_look(report.rules, dealer_id),
    }
    if report.unrecordable:
        metadata["rows_without_vehicle_id"] = dg.MetadataValue.int(report.unrecordable)
    return metadata


def expectation_metadata(outcomes: list[ExpectationOutcome]) -> dict[str, Any]:
    def examples(outcome: ExpectationOutcome) -> str:
        return ", ".join(f"{e['vehicle_id']}={e['value']!r}" for e in outcome.examples)

    failed = [o for o in outcomes if not o.success]
    ordered = failed + [o for o in outcomes if o.success]
    return {
        "expectations_evaluated": dg.MetadataValue.int(len(outcomes)),
        "expectations_failed": dg.MetadataValue.int(len(failed)),
        "expectations": table(
            [("expectation", "string"), ("what_it_means", "string"), ("success", "bool"), ("observed", "string"),
             ("failing_examples", "string")],
            [(o.expectation, o.description, o.success, o.observed, examples(o) or o.error or "") for o in ordered],
            limit=100),
        "results": dg.MetadataValue.json([
            {"expectation": o.expectation, "description": o.description, "success": o.success,
             "observed": o.observed, "unexpected_count": o.unexpected_count,
             "unexpected_percent": o.unexpected_percent, "failing_examples": o.examples, "error": o.error}
            for o in ordered
        ]),
    }


def dealer_check_metadata(result: DealerCheck) -> dict[str, Any]:
    return {
        "dealers_checked": dg.MetadataValue.int(result.dealers_checked),
        "dealers_warned": dg.MetadataValue.int(len(result.warnings)),
        "warnings": table([("dealer_id", "string"), ("warning", "string")],
                          [(w.dealer_id, w.message) for w in result.warnings]),
        "details": dg.MetadataValue.json([{"dealer_id": w.dealer_id, "message": w.message, **w.figures}
                                          for w in result.warnings[:MAX_TABLE_ROWS]]),
        "where_to_look": dg.MetadataValue.md(
            "```sql\nSELECT * FROM v_dealer_sync_health ORDER BY last_complete_baseline_at NULLS FIRST\n```"),
    }


def dealer_share_table(dealer_shares: pd.DataFrame, limit: int = 20) -> dg.TableMetadataValue:
    """The dealers with the largest `other` shares first (a share per vocabulary column, 0 to 1)."""
    columns = [("dealer_id", "string"), *((f"{c}_other_share", "float") for c in dealer_shares.columns)]
    worst = dealer_shares.assign(worst=dealer_shares.max(axis=1)).sort_values("worst", ascending=False)
    return table(columns, [(dealer, *(round(float(row[c]), 4) for c in dealer_shares.columns))
                           for dealer, row in worst.head(limit).iterrows()], limit=limit)

"""Persist findings: every run replaces the findings of its scope, so fixed vehicles drop out."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Iterable

import sqlalchemy as sa

from dealer_pipeline.store.repository import insert_many
from dealer_pipeline.store.schema import quality_findings, vehicles
from dealer_pipeline.store.types import utcnow

if TYPE_CHECKING:
    import pandas as pd

#: Where a person reads the findings (a view over `quality_findings` joined to `vehicles`).
FINDINGS_VIEW = "v_data_quality"


def findings_query(check_names: Iterable[str] | None = None, dealer_id: str | None = None) -> str:
    """The SQL an analyst runs to list these findings (shown in check metadata)."""
    where = []
    names = list(check_names or [])
    if names:
        where.append("check_name IN (" + ", ".join(f"'{n}'" for n in names) + ")")
    if dealer_id is not None:
        where.append("dealer_id = '" + dealer_id.replace("'", "''") + "'")
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    return f"SELECT * FROM {FINDINGS_VIEW}{clause} ORDER BY dealer_id, vehicle_id, check_name"


def replace_findings(
    conn: sa.Connection,
    findings: pd.DataFrame,
    *,
    check_names: Iterable[str],
    dealer_id: str | None = None,
    now: datetime | None = None,
) -> int:
    """Delete the stored findings of `check_names` in scope (one dealer, or everything), insert `findings`.

    The dealer scope also covers findings filed under another dealer for a vehicle that now belongs to
    this one, so a vehicle moving dealers cannot stay blocked by a stale finding.
    """
    names = list(check_names)
    stmt = sa.delete(quality_findings).where(quality_findings.c.check_name.in_(names))
    if dealer_id is not None:
        own_vehicles = sa.select(vehicles.c.vehicle_id).where(vehicles.c.dealer_id == dealer_id)
        stmt = stmt.where(sa.or_(quality_findings.c.dealer_id == dealer_id,
                                 quality_findings.c.vehicle_id.in_(own_vehicles)))
    conn.execute(stmt)
    if findings.empty:
        return 0
    unexpected = set(findings["check_name"]) - set(names)
    if unexpected:
        raise ValueError(f"findings for checks outside the replaced scope: {sorted(unexpected)}")
    detected_at = now or utcnow()
    rows = findings[["vehicle_id", "dealer_id", "check_name", "severity", "reason"]].astype(object)
    records = rows.where(rows.notna(), None).to_dict("records")
    for record in records:
        record["detected_at"] = detected_at
    return insert_many(conn, quality_findings, records)

"""The publishing gate: which of a dealer's vehicles may be published right now.

The rules are evaluated on the dealer's current rows at call time rather than read from
`quality_findings`: a webhook may have fixed (or broken) a vehicle since the last check run,
and the gate must judge what would actually be sent. One query, vectorized, read-only.
"""

from __future__ import annotations

from datetime import date
from typing import Iterable

import sqlalchemy as sa

from dealer_pipeline.quality.frame import load_vehicles
from dealer_pipeline.quality.rules import evaluate_blocking_rules


def publishable_vehicle_ids(
    conn: sa.Connection,
    dealer_id: str,
    *,
    availabilities: Iterable[str] = ("available",),
    today: date | None = None,
) -> set[str]:
    """Vehicles of `dealer_id` in `availabilities` that fail no blocking rule.

    Pass `availabilities=("available", "reserved")` to also get reserved vehicles that may be
    published suspended.
    """
    frame = load_vehicles(conn, dealer_id=dealer_id)
    report = evaluate_blocking_rules(frame, today=today)
    wanted = frame[frame["availability"].isin(list(availabilities)).fillna(False)]
    return set(wanted["vehicle_id"].dropna()) - report.failing_vehicle_ids()


def blocked_vehicles(conn: sa.Connection, dealer_id: str, *, today: date | None = None) -> dict[str, list[str]]:
    """Vehicle id -> the reasons it is held back (only vehicles failing a blocking rule)."""
    report = evaluate_blocking_rules(load_vehicles(conn, dealer_id=dealer_id), today=today)
    blocked: dict[str, list[str]] = {}
    for vehicle_id, check_name, reason in report.findings[["vehicle_id", "check_name", "reason"]].itertuples(
            index=False):
        blocked.setdefault(vehicle_id, []).append(f"{check_name}: {reason}")
    return blocked

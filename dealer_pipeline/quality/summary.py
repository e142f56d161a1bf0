"""A profile of the canonical table for the `canonical/vehicles` materialization: what is in it, by whom."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from dealer_pipeline.store.schema import quality_findings, vehicles


@dataclass(frozen=True)
class TableSummary:
    total: int
    by_source: dict[str, int]
    by_availability: dict[str, int]
    by_dealer: dict[str, dict[str, int]]  # dealer_id -> availability -> count
    vehicles_with_blocking_findings: int

    @property
    def dealers(self) -> int:
        return len(self.by_dealer)


def summarize_vehicles(conn: sa.Connection) -> TableSummary:
    """Counts per source, availability and dealer in one grouped query, plus the blocked-vehicle count."""
    rows = conn.execute(
        sa.select(vehicles.c.source, vehicles.c.dealer_id, vehicles.c.availability, sa.func.count().label("n"))
        .group_by(vehicles.c.source, vehicles.c.dealer_id, vehicles.c.availability)
    ).all()
    by_source: dict[str, int] = {}
    by_availability: dict[str, int] = {}
    by_dealer: dict[str, dict[str, int]] = {}
    for source, dealer_id, availability, n in rows:
        by_source[source] = by_source.get(source, 0) + n
        by_availability[availability] = by_availability.get(availability, 0) + n
        by_dealer.setdefault(dealer_id, {})[availability] = n
    blocked = conn.execute(
        sa.select(sa.func.count(sa.distinct(quality_findings.c.vehicle_id))).where(
            quality_findings.c.severity == "blocking")
    ).scalar_one()
    return TableSummary(sum(by_source.values()), dict(sorted(by_source.items())),
                        dict(sorted(by_availability.items())), dict(sorted(by_dealer.items())), int(blocked))

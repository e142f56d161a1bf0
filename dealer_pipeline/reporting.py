"""Summaries of the store for people: what the demo prints, what an operator checks first."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa

from dealer_pipeline.store.schema import api_blocks, api_calls, publications, quality_findings, vehicles, webhook_events


@dataclass
class StoreSummary:
    vehicles: dict[str, dict[str, int]] = field(default_factory=dict)  # source -> availability -> count
    findings: dict[str, int] = field(default_factory=dict)  # "severity check" -> vehicles
    events: dict[str, dict[str, int]] = field(default_factory=dict)  # source -> status -> count
    publications: dict[str, dict[str, int]] = field(default_factory=dict)  # target -> state (or held back) -> count
    api_calls: dict[str, dict[str, int]] = field(default_factory=dict)  # vendor -> status class -> count
    open_blocks: int = 0

    def lines(self) -> list[str]:
        out = ["vehicles:"]
        out += [f"  {src:<11} {_counts(c)}" for src, c in sorted(self.vehicles.items())] or ["  none"]
        out.append("data-quality findings (vehicles held back or warned):")
        out += [f"  {name:<40} {n}" for name, n in sorted(self.findings.items())] or ["  none"]
        out.append("webhook events:")
        out += [f"  {src:<11} {_counts(c)}" for src, c in sorted(self.events.items())] or ["  none"]
        out.append("publications:")
        out += [f"  {t:<16} {_counts(c)}" for t, c in sorted(self.publications.items())] or ["  none"]
        out.append("API calls per vendor:")
        out += [f"  {v:<11} {_counts(c)}" for v, c in sorted(self.api_calls.items())] or ["  none"]
        out.append(f"open API blocks (dealer-pipeline blocks list): {self.open_blocks}")
        return out


def _counts(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    return f"{total:>6}  " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def _nested(conn: sa.Connection, first: sa.ColumnElement, second: sa.ColumnElement) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for a, b, n in conn.execute(sa.select(first, second, sa.func.count()).group_by(first, second)):
        out[str(a)][str(b)] = n
    return dict(out)


def _status_class(column: sa.ColumnElement) -> sa.ColumnElement:
    return sa.case((column.is_(None), "no answer"), else_=sa.cast(column / 100, sa.Integer).cast(sa.Text) + "xx")


def summarize(engine: sa.Engine) -> StoreSummary:
    with engine.connect() as conn:
        findings = conn.execute(
            sa.select(quality_findings.c.severity, quality_findings.c.check_name, sa.func.count())
            .group_by(quality_findings.c.severity, quality_findings.c.check_name)
        )
        return StoreSummary(
            vehicles=_nested(conn, vehicles.c.source, vehicles.c.availability),
            findings={f"{severity} {check}": n for severity, check, n in findings},
            events=_nested(conn, webhook_events.c.source, webhook_events.c.status),
            publications=_nested(conn, publications.c.target, sa.case(
                (publications.c.last_op == "hold", "held back"), else_=publications.c.state)),
            api_calls=_nested(conn, api_calls.c.vendor, _status_class(api_calls.c.status)),
            open_blocks=conn.execute(
                sa.select(sa.func.count()).select_from(api_blocks).where(api_blocks.c.resolved_at.is_(None))
            ).scalar_one(),
        )

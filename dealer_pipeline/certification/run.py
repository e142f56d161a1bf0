"""One certification run: every rule against one read-only snapshot of the store.

All rules read through a single connection inside one read-only transaction (REPEATABLE
READ on PostgreSQL, `query_only` on SQLite), so the evidence is consistent even while the
pipeline keeps writing, and a certification can never change the store. A rule that cannot
judge (unexpected data) is reported as failed with its error, never skipped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from dealer_pipeline.certification import crosscheck, facts
from dealer_pipeline.certification.checklist import CHECKS
from dealer_pipeline.certification.model import Context, Evidence, Verdict, evidence
from dealer_pipeline.certification.registry import all_rules
from dealer_pipeline.store.engine import create_store_engine
from dealer_pipeline.store.schema import api_calls
from dealer_pipeline.store.types import utcnow

log = logging.getLogger(__name__)

SANDBOX_TIMEOUT_SECONDS = 60


class CertificationError(RuntimeError):
    """The store or the vendor's call log cannot be read; the message says which and why."""


@dataclass
class Certification:
    generated_at: datetime
    store: str
    since: datetime | None
    sandbox_url: str | None
    evidence: list[Evidence]
    crosscheck: list[crosscheck.VendorComparison] = field(default_factory=list)
    missing_tables: list[str] = field(default_factory=list)
    vendor_calls_read: int | None = None

    def count(self, verdict: Verdict) -> int:
        return sum(e.verdict is verdict for e in self.evidence)

    @property
    def failed(self) -> list[Evidence]:
        return [e for e in self.evidence if e.verdict is Verdict.FAILED]

    @property
    def judged_twice(self) -> list[Evidence]:
        """Checks judged from the vendor's log with our own log's verdict beside them."""
        return [e for e in self.evidence if e.ours is not None]

    def differing(self) -> list[Evidence]:
        return [e for e in self.judged_twice if e.ours is not None and e.ours.verdict is not e.verdict]


def read_vendor_log(url: str, *, timeout: float = SANDBOX_TIMEOUT_SECONDS) -> tuple[list[dict[str, Any]],
                                                                                   list[dict[str, Any]]]:
    """The sandbox's call log (`/_sandbox/calls`, JSON lines) and its notification deliveries."""
    base = url.rstrip("/")
    try:
        with requests.Session() as session:
            calls = session.get(f"{base}/_sandbox/calls", timeout=timeout)
            calls.raise_for_status()
            records = [json.loads(line) for line in calls.text.splitlines() if line.strip()]
            answer = session.get(f"{base}/_sandbox/deliveries", timeout=timeout)
            deliveries = answer.json() if answer.ok else []
    except (requests.RequestException, ValueError) as exc:
        raise CertificationError(f"cannot read the vendor's call log at {base}/_sandbox/calls: {exc}") from None
    return records, deliveries if isinstance(deliveries, list) else []


def open_store(url: str) -> sa.Engine:
    """An engine on an existing store (a SQLite URL naming a missing file is an error, not a new store)."""
    sa_url = sa.make_url(url)
    if sa_url.get_backend_name() == "sqlite" and sa_url.database not in (None, "", ":memory:"):
        if not Path(sa_url.database).is_file():
            raise CertificationError(f"no store at {sa_url.database} (DEALER_PIPELINE_DATABASE_URL)")
    return create_store_engine(url)


@contextmanager
def read_only(conn: sa.Connection) -> Iterator[sa.Connection]:
    """One read-only transaction (a consistent snapshot on PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        with conn.begin():
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield conn
    else:
        conn.exec_driver_sql("PRAGMA query_only = ON")
        conn.commit()
        try:
            with conn.begin():
                yield conn
        finally:
            conn.exec_driver_sql("PRAGMA query_only = OFF")
            conn.commit()


def certify(engine: sa.Engine, *, since: datetime | None = None, sandbox_url: str | None = None,
            now: datetime | None = None) -> Certification:
    """Judge every go-live check from the store (and the vendor's call log when `sandbox_url` is given)."""
    vendor_log = deliveries = None
    if sandbox_url:
        vendor_log, deliveries = read_vendor_log(sandbox_url)
    ctx = Context(now=now or utcnow(), since=since, vendor_calls=vendor_log, deliveries=deliveries,
                  sandbox_url=sandbox_url)
    rules = all_rules()
    found: list[Evidence] = []
    try:
        with engine.connect() as raw:
            with read_only(raw) as conn:
                if not sa.inspect(conn).has_table(api_calls.name):
                    raise CertificationError(
                        f"the store at {engine.url.render_as_string(hide_password=True)} has no api_calls table: "
                        "not a dealer_pipeline store, or not migrated (dealer-pipeline db upgrade)")
                for check in CHECKS:
                    found.append(_judge(check.id, rules.get(check.id), conn, ctx))
                if vendor_log is not None:
                    found = _beside_our_own(found, rules, conn, Context(now=ctx.now, since=since))
                comparisons = crosscheck.compare(conn, ctx)
    except sa.exc.SQLAlchemyError as exc:
        raise CertificationError(f"cannot read the store: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    return Certification(generated_at=ctx.now, store=engine.url.render_as_string(hide_password=True), since=since,
                         sandbox_url=sandbox_url, evidence=found, crosscheck=comparisons,
                         missing_tables=facts.missing_tables(ctx),
                         vendor_calls_read=len(vendor_log) if vendor_log is not None else None)


def _beside_our_own(found: list[Evidence], rules: dict[str, Any], conn: sa.Connection,
                    own: Context) -> list[Evidence]:
    """Each call-log check judged from the vendor's logs gets, beside it, the verdict our own
    `api_calls` alone gives: where the two differ, one of the logs or a rule is wrong."""
    beside = []
    for item in found:
        ours = _judge(item.id, rules.get(item.id), conn, own) if item.judged_by == "call log" else None
        beside.append(replace(item, ours=ours) if ours is not None and ours.basis != item.basis else item)
    return beside


def _judge(check_id: str, rule: Any, conn: sa.Connection, ctx: Context) -> Evidence:
    if rule is None:
        return evidence(check_id, Verdict.FAILED, "no rule judges this check")
    try:
        return rule(conn, ctx)
    except sa.exc.SQLAlchemyError:
        raise
    except Exception as exc:  # noqa: BLE001 - a rule that cannot judge is reported, never skipped
        log.exception("rule %s could not judge", check_id)
        return evidence(check_id, Verdict.FAILED, f"the rule could not judge this store: {type(exc).__name__}: "
                                                  f"{str(exc)[:200]}")

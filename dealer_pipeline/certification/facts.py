"""Reads of the store that several rules share, memoised for one certification run.

Everything here only reads. A table a store does not have yet (an older migration) reads
as empty and is named in `missing_tables(ctx)`, so a rule says "not exercised" rather than
crash; the report lists what was missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from dealer_pipeline.certification.model import Context
from dealer_pipeline.store import schema

T = schema


def missing_tables(ctx: Context) -> list[str]:
    return sorted(ctx.cache.setdefault("missing_tables", set()))


def has_table(conn: sa.Connection, ctx: Context, table: sa.Table) -> bool:
    if "tables" not in ctx.cache:
        ctx.cache["tables"] = set(sa.inspect(conn).get_table_names())
    if table.name in ctx.cache["tables"]:
        return True
    ctx.cache.setdefault("missing_tables", set()).add(table.name)
    return False


def memo(ctx: Context, key: str, load: Callable[[], Any]) -> Any:
    if key not in ctx.cache:
        ctx.cache[key] = load()
    return ctx.cache[key]


def select(conn: sa.Connection, ctx: Context, table: sa.Table, *columns: str, where: Sequence[Any] = (),
           order_by: Sequence[Any] = (), since: str | None = None) -> list[dict[str, Any]]:
    """Rows of `table` (chosen columns, or all) as dicts; [] when the table does not exist.

    `since` names the table's time column that `ctx.since` filters on.
    """
    if not has_table(conn, ctx, table):
        return []
    cols = [table.c[name] for name in columns] if columns else [table]
    stmt = sa.select(*cols)
    for clause in where:
        stmt = stmt.where(clause)
    if since and ctx.since is not None:
        stmt = stmt.where(table.c[since] >= ctx.since)
    if order_by:
        stmt = stmt.order_by(*order_by)
    return [dict(row) for row in conn.execute(stmt).mappings()]


def blocks(conn: sa.Connection, ctx: Context, vendor: str) -> list[dict[str, Any]]:
    b = T.api_blocks
    return memo(ctx, f"blocks:{vendor}", lambda: select(
        conn, ctx, b, "id", "vendor", "service", "dealer_id", "reason", "message", "action", "method", "path",
        "cf_ray", "created_at", "resolved_at", where=[b.c.vendor == vendor], order_by=[b.c.id]))


def sync_runs(conn: sa.Connection, ctx: Context, source: str, kind: str) -> list[dict[str, Any]]:
    s = T.sync_runs
    return memo(ctx, f"sync_runs:{source}:{kind}", lambda: select(
        conn, ctx, s, "id", "dealer_id", "run_id", "started_at", "finished_at", "complete", "pages", "records",
        "error", where=[s.c.source == source, s.c.kind == kind], order_by=[s.c.started_at], since="started_at"))


def events(conn: sa.Connection, ctx: Context, source: str) -> list[dict[str, Any]]:
    """`webhook_events` of one source without bodies (their size is unbounded)."""
    e = T.webhook_events
    return memo(ctx, f"events:{source}", lambda: select(
        conn, ctx, e, "id", "event_key", "event_type", "subject_id", "subject_version", "dealer_id", "received_at",
        "status", "attempts", "error", "processed_at", where=[e.c.source == source], order_by=[e.c.id],
        since="received_at"))


def event_headers(conn: sa.Connection, ctx: Context, source: str) -> dict[int, dict[str, Any]]:
    """Header names (lower case) of each stored event of a source; values are not kept here."""
    e = T.webhook_events

    def load() -> dict[int, dict[str, Any]]:
        rows = select(conn, ctx, e, "id", "headers", where=[e.c.source == source], since="received_at")
        return {r["id"]: {str(k).lower(): True for k in (r["headers"] or {})} for r in rows}

    return memo(ctx, f"event_headers:{source}", load)


def rejections(conn: sa.Connection, ctx: Context, source: str) -> list[dict[str, Any]]:
    r = T.webhook_rejections
    return memo(ctx, f"rejections:{source}", lambda: select(
        conn, ctx, r, "id", "received_at", "http_status", "reason", "remote_addr", "body_bytes",
        where=[r.c.source == source], order_by=[r.c.id], since="received_at"))


def changes(conn: sa.Connection, ctx: Context, cause: str | None = None,
            fields: Sequence[str] | None = None) -> list[dict[str, Any]]:
    vc = T.vehicle_changes
    where = []
    if cause is not None:
        where.append(vc.c.cause == cause)
    if fields is not None:
        where.append(vc.c.field.in_(list(fields)))
    key = f"changes:{cause}:{','.join(fields or ())}"
    return memo(ctx, key, lambda: select(
        conn, ctx, vc, "id", "vehicle_id", "field", "old_value", "new_value", "changed_at", "cause", "source_version",
        where=where, order_by=[vc.c.changed_at, vc.c.id], since="changed_at"))


def publications(conn: sa.Connection, ctx: Context, target: str) -> list[dict[str, Any]]:
    """A target's publications (those changed within the window, when one is set)."""
    p = T.publications
    return memo(ctx, f"publications:{target}", lambda: select(
        conn, ctx, p, where=[p.c.target == target], order_by=[p.c.dealer_id, p.c.vehicle_id], since="updated_at"))


def token_lifetimes(conn: sa.Connection, ctx: Context, vendor: str) -> list[float]:
    """Lifetimes (seconds) of the tokens cached now for a vendor (expiry minus grant time).

    Only these two timestamps are read: the ciphertext is never selected.
    """
    t = T.api_tokens

    def load() -> list[float]:
        rows = select(conn, ctx, t, "expires_at", "obtained_at", where=[t.c.vendor == vendor])
        return [(r["expires_at"] - r["obtained_at"]).total_seconds() for r in rows
                if r["expires_at"] is not None and r["obtained_at"] is not None]

    return memo(ctx, f"token_lifetimes:{vendor}", load)

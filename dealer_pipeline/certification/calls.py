"""Call logs in one shape: ours (`api_calls`) and the vendor's (the sandbox's `/_sandbox/calls`).

"Call log" checks are judged by what the vendor's server saw; when that log is at hand the
rules read it, otherwise they read our own `api_calls` (every attempt, logged before the
outcome is acted on). Both become `Call` records: vendor-relative path (percent-decoded, no
query), the query as a dict, status, CF-RAY, dealer, and what only one side knows (our run id
and attempt number; the vendor's hash of the token presented).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import sqlalchemy as sa

from dealer_pipeline.certification.model import Context
from dealer_pipeline.store.schema import api_calls

OURS, VENDOR_LOG = "api_calls", "vendor call log"
MAX_TARGET = 110  # characters of path and query shown in an evidence row

#: Query parameters whose values are credentials; never shown, whoever logged them.
_SECRET_PARAM = re.compile(r"token|secret|password|passwd|signature|sig$|apikey|api_key|^key$", re.IGNORECASE)


@dataclass(frozen=True)
class Call:
    ts: datetime
    vendor: str
    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    status: int | None = None
    cf_ray: str | None = None
    dealer_id: str | None = None
    service: str | None = None
    attempt: int | None = None
    run_id: str | None = None
    duration_ms: float | None = None
    error: str | None = None
    token: str | None = None      # the vendor log's hash of the credential presented
    signature: str | None = None  # the vendor log's hash of a signed request's Authorization (its signature)
    ref: int | None = None        # api_calls.id or the vendor log's seq

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def param(self, name: str) -> str | None:
        return self.query.get(name)

    def target(self) -> str:
        """Path and query as a person reads them (secret values hidden)."""
        if not self.query:
            return self.path
        return self.path + "?" + "&".join(f"{k}={v}" for k, v in self.query.items())

    def row(self, *, full: bool = False, **extra: Any) -> dict[str, Any]:
        """The evidence row of this call (a long query shortened unless `full`)."""
        target = self.target()
        if not full and len(target) > MAX_TARGET:
            target = target[:MAX_TARGET - 1] + "…"
        row: dict[str, Any] = {"ts": self.ts, "method": self.method, "path": target, "status": self.status,
                               "cf_ray": self.cf_ray, "dealer": self.dealer_id}
        if self.run_id is not None or self.attempt is not None:
            row["attempt"] = self.attempt
            row["run_id"] = (self.run_id or "")[:8] or None
        if self.duration_ms is not None:
            row["ms"] = self.duration_ms
        if self.token is not None:
            row["token#"] = self.token
        if self.error:
            row["error"] = self.error[:160]
        row.update(extra)
        return row


def split_target(raw: str) -> tuple[str, dict[str, str]]:
    """`/a%40b/c?x=1&y=2` -> (`/a@b/c`, {x: 1, y: 2}); secret values are replaced by `***`."""
    parts = urlsplit(raw)
    query = {k: ("***" if _SECRET_PARAM.search(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)}
    return unquote(parts.path) or "/", query


def strip_vendor_prefix(vendor: str, path: str) -> str:
    """Our log keeps a token URL's whole path (`/autochat/oauth/token` on the sandbox); the
    vendor's log is relative to its own prefix."""
    prefix = f"/{vendor}"
    return path[len(prefix):] if path.startswith(prefix + "/") else path


def our_calls(conn: sa.Connection, ctx: Context, vendor: str) -> list[Call]:
    """`api_calls` of one vendor, oldest first (memoised for the run)."""
    key = f"api_calls:{vendor}"
    if key not in ctx.cache:
        c = api_calls.c
        stmt = sa.select(api_calls).where(c.vendor == vendor).order_by(c.ts, c.id)
        if ctx.since is not None:
            stmt = stmt.where(c.ts >= ctx.since)
        found = []
        for row in conn.execute(stmt).mappings():
            path, query = split_target(row["path"])
            found.append(Call(ts=row["ts"], vendor=vendor, method=row["method"],
                              path=strip_vendor_prefix(vendor, path), query=query, status=row["status"],
                              cf_ray=row["cf_ray"], dealer_id=row["dealer_id"], service=row["service"],
                              attempt=row["attempt"], run_id=row["run_id"], duration_ms=row["duration_ms"],
                              error=row["error"], ref=row["id"]))
        ctx.cache[key] = found
    return ctx.cache[key]


def _vendor_call(record: Mapping[str, Any]) -> Call:
    ts = record.get("ts")
    when = (datetime.fromtimestamp(float(ts), UTC) if isinstance(ts, (int, float))
            else datetime.fromisoformat(str(record.get("at")).replace("Z", "+00:00")))
    query = record.get("query")
    if not isinstance(query, Mapping):
        query = dict(parse_qsl(str(record.get("query_string") or ""), keep_blank_values=True))
    safe = {str(k): ("***" if _SECRET_PARAM.search(str(k)) else str(v)) for k, v in query.items()}
    return Call(ts=when, vendor=str(record.get("vendor")), method=str(record.get("method")),
                path=unquote(str(record.get("path") or "/")), query=safe, status=record.get("status"),
                cf_ray=record.get("cf_ray"), dealer_id=record.get("dealer"), duration_ms=record.get("duration_ms"),
                token=record.get("token"), signature=record.get("signature"), ref=record.get("seq"))


def vendor_calls(ctx: Context, vendor: str) -> list[Call] | None:
    """The vendor's own log of one vendor (None when it was not read)."""
    if ctx.vendor_calls is None:
        return None
    key = f"vendor_calls:{vendor}"
    if key not in ctx.cache:
        found = [_vendor_call(r) for r in ctx.vendor_calls if r.get("vendor") == vendor]
        if ctx.since is not None:
            found = [c for c in found if c.ts >= ctx.since]
        ctx.cache[key] = sorted(found, key=lambda c: (c.ts, c.ref or 0))
    return ctx.cache[key]


def judged_calls(conn: sa.Connection, ctx: Context, vendor: str) -> tuple[list[Call], str]:
    """The calls a "call log" check is judged from: the vendor's log when read, else ours."""
    theirs = vendor_calls(ctx, vendor)
    if theirs is not None:
        return theirs, VENDOR_LOG
    return our_calls(conn, ctx, vendor), OURS


def where(calls: Iterable[Call], *, method: str | None = None, path: str | None = None,
          prefix: str | None = None, pattern: re.Pattern[str] | None = None) -> list[Call]:
    """Calls by method and path (exact, prefix, or a regular expression over the path)."""
    return [c for c in calls
            if (method is None or c.method == method) and (path is None or c.path == path)
            and (prefix is None or c.path.startswith(prefix)) and (pattern is None or pattern.search(c.path))]

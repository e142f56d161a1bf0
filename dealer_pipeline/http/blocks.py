"""Blocks: calls that must not be sent until a person acts (`api_blocks`).

A 403 kind A blocks every call for a dealer, a 403 kind B one service for a dealer, a
vendor-wide refusal the whole vendor, and rejected input (reason `400`, also for a 422 the
vendor's policy flags as bad input) the exact request that was refused (so the same bad input is not re-sent
by the next scheduled run, while the dealer's other calls go on). Every call is checked
against the vendor's unresolved blocks before it is sent; the list is re-read at most
every `cache_seconds` (50 ms), so a block set or resolved by another process takes effect
within 0.1 s. `dealer-pipeline blocks resolve ID` lifts a block.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from dealer_pipeline.http.snapshot import StoreSnapshot
from dealer_pipeline.store.engine import is_postgres, transaction
from dealer_pipeline.store.schema import api_blocks
from dealer_pipeline.store.types import utcnow

#: The reason of a block that stops one exact request (method and redacted path), not a dealer:
#: input a policy flags as bad (`Action.FLAG_BAD_INPUT`, for 400 and 422 by default).
BAD_INPUT = "400"


def is_request_block(reason: str | None) -> bool:
    """Whether a block with this reason stops one request only (bad input) rather than a scope."""
    return reason == BAD_INPUT


@dataclass(frozen=True)
class Block:
    id: int
    vendor: str
    service: str | None
    dealer_id: str | None
    reason: str
    message: str | None
    action: str | None
    method: str | None
    path: str | None
    cf_ray: str | None
    created_at: datetime
    resolved_at: datetime | None = None
    resolved_note: str | None = None

    @property
    def request_only(self) -> bool:
        """Bad input: only the refused request is stopped, never the dealer or the service."""
        return is_request_block(self.reason)

    def matches(self, *, dealer_id: str | None, service: str | None, method: str, path: str) -> bool:
        """Whether this block forbids a call (path = the redacted path with its query)."""
        if self.request_only:
            return self.method == method and self.path == path
        if self.dealer_id is not None and self.dealer_id != dealer_id:
            return False
        return self.service is None or self.service == service


def _block(row: sa.RowMapping) -> Block:
    return Block(**{name: row[name] for name in Block.__dataclass_fields__})


class BlockRegistry:
    """The unresolved blocks of one vendor, cached briefly; records new ones."""

    def __init__(
        self, engine: sa.Engine, vendor: str, *, cache_seconds: float = 0.05, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.engine = engine
        self.vendor = vendor
        self.clock = clock
        self._blocks: StoreSnapshot[list[Block]] = StoreSnapshot([], cache_seconds=cache_seconds, copy=list)
        self._recorded: dict[int, float] = {}  # block id -> when this process recorded it

    @property
    def cache_seconds(self) -> float:
        return self._blocks.cache_seconds

    @cache_seconds.setter
    def cache_seconds(self, seconds: float) -> None:
        self._blocks.cache_seconds = seconds

    def find(self, *, dealer_id: str | None, service: str | None, method: str, path: str) -> Block | None:
        for block in self._snapshot():
            if block.matches(dealer_id=dealer_id, service=service, method=method, path=path):
                return block
        return None

    def record(
        self,
        *,
        reason: str,
        dealer_id: str | None,
        service: str | None,
        message: str | None,
        action: str,
        method: str,
        path: str,
        cf_ray: str | None,
    ) -> Block:
        """Store a block (or return the identical unresolved one already stored).

        Processes that hit the same refusal at once must store one block, not one each (an
        operator would have to resolve every copy): on PostgreSQL the check-then-insert runs under
        an advisory lock on the block's identity; SQLite write transactions are exclusive already.
        """
        now = self.clock()
        identity = (self.vendor, reason, dealer_id, service) + ((method, path) if is_request_block(reason) else ())
        with transaction(self.engine) as conn:
            if is_postgres(conn):
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(identity)})
            same = sa.select(api_blocks).where(
                api_blocks.c.vendor == self.vendor,
                api_blocks.c.resolved_at.is_(None),
                api_blocks.c.reason == reason,
                _eq(api_blocks.c.dealer_id, dealer_id),
                _eq(api_blocks.c.service, service),
            )
            if is_request_block(reason):
                same = same.where(api_blocks.c.method == method, api_blocks.c.path == path)
            existing = conn.execute(same.limit(1)).mappings().first()
            if existing is not None:
                block = _block(existing)
            else:
                values = dict(vendor=self.vendor, service=service, dealer_id=dealer_id, reason=reason,
                              message=message, action=action, method=method, path=path, cf_ray=cf_ray,
                              created_at=now)
                new_id = conn.execute(sa.insert(api_blocks).values(**values).returning(api_blocks.c.id)).scalar_one()
                block = Block(id=new_id, **values)
        self._recorded[block.id] = time.monotonic()
        self._blocks.update(lambda blocks: blocks if any(b.id == block.id for b in blocks) else [*blocks, block])
        return block

    def _snapshot(self) -> Sequence[Block]:
        return self._blocks.get(lambda: list_blocks(self.engine, vendor=self.vendor), self._merge)

    def _merge(self, held: list[Block], read: list[Block], started: float) -> list[Block]:
        """Blocks this process recorded while the read ran may be missing from it: keep them."""
        read_ids = {b.id for b in read}
        return read + [b for b in held if b.id not in read_ids and self._recorded.get(b.id, 0) >= started]


def _lock_key(identity: tuple[str | None, ...]) -> int:
    """A signed 64-bit advisory-lock key for a block identity."""
    digest = hashlib.sha256(repr(identity).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _eq(column: sa.ColumnElement, value: object) -> sa.ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def list_blocks(engine: sa.Engine, *, vendor: str | None = None, include_resolved: bool = False) -> list[Block]:
    stmt = sa.select(api_blocks).order_by(api_blocks.c.id)
    if vendor is not None:
        stmt = stmt.where(api_blocks.c.vendor == vendor)
    if not include_resolved:
        stmt = stmt.where(api_blocks.c.resolved_at.is_(None))
    with engine.connect() as conn:
        return [_block(row) for row in conn.execute(stmt).mappings()]


def resolve_block(engine: sa.Engine, block_id: int, *, note: str, now: datetime | None = None) -> Block:
    """Lift a block; raises LookupError if it does not exist, ValueError if already resolved."""
    with transaction(engine) as conn:
        row = conn.execute(sa.select(api_blocks).where(api_blocks.c.id == block_id)).mappings().first()
        if row is None:
            raise LookupError(f"no block with id {block_id}")
        if row["resolved_at"] is not None:
            raise ValueError(f"block {block_id} was already resolved at {row['resolved_at'].isoformat()}")
        when = now or utcnow()
        conn.execute(
            sa.update(api_blocks).where(api_blocks.c.id == block_id).values(resolved_at=when, resolved_note=note)
        )
        return _block({**row, "resolved_at": when, "resolved_note": note})  # type: ignore[arg-type]


def lift_blocks(conn: sa.Connection, *, vendor: str, dealer_id: str, reasons: Sequence[str], note: str,
                now: datetime) -> list[int]:
    """Resolve, inside the caller's transaction, the vendor's open blocks of exactly this dealer with
    one of `reasons` (a vendor signal that their cause is gone); returns their ids. Blocks of the
    whole vendor or of one request are left for a person."""
    c = api_blocks.c
    ids = list(conn.execute(sa.select(c.id).where(
        c.vendor == vendor, c.dealer_id == dealer_id, c.reason.in_(list(reasons)), c.resolved_at.is_(None),
    ).order_by(c.id)).scalars())
    if ids:
        conn.execute(sa.update(api_blocks).where(c.id.in_(ids)).values(resolved_at=now, resolved_note=note))
    return ids

"""Many dealers in one run: each dealer's piece of work on a thread of a bounded pool.

A run that covers a range of dealer partitions (a single-run backfill, `dealer-pipeline sync`, the
stock schedules) hands each dealer to `for_each_dealer`. Each dealer runs under its lease (one run
at a time per dealer) and fails alone: its outcome carries the error and the others go on. The
vendor clients are shared by the threads, so the token, pauses, blocks and the client's cap on
calls in flight hold for the whole run.

A dealer stopped by a block that was already open when its work began (a 403 A/B, a refused login,
bad input: a person was told when it opened) is `blocked`, not failed: the HTTP layer refused the
call before sending it, and the block says what to do. A block opened by this very work is a
failure, the new problem it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

import sqlalchemy as sa

from dealer_pipeline import progress
from dealer_pipeline.http import VendorBlocked
from dealer_pipeline.http.blocks import Block, list_blocks
from dealer_pipeline.sources.leases import DealerBusy, dealer_lease
from dealer_pipeline.store.types import utcnow

T = TypeVar("T")


@dataclass
class DealerOutcome(Generic[T]):
    """What one dealer's work gave: a result, or the error that stopped it, or the run that had it, or
    the known block that stopped it before any call."""

    key: str
    dealer_id: str
    result: T | None = None
    error: BaseException | None = None
    busy: DealerBusy | None = None
    blocked: Block | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.busy is None and self.blocked is None


def known_block(engine: sa.Engine, error: VendorBlocked, since: datetime) -> Block | None:
    """The still-open block behind `error` if it was opened before `since` (None: opened since)."""
    for block in list_blocks(engine, vendor=error.vendor):
        if block.id == error.block_id:
            return block if block.created_at < since else None
    return None


def for_each_dealer(keys: Sequence[str], work: Callable[[str], T], *, engine: sa.Engine, stage: str,
                    dealer_of: Callable[[str], str], run_id: str | None, concurrency: int,
                    vehicles_of: Callable[[T], int] = lambda result: 0,
                    lease: bool = True) -> list[DealerOutcome[T]]:
    """Run `work(key)` for every partition key, `concurrency` dealers at a time; outcomes in key order.
    `lease=False` is for work that touches no vendor and no dealer data (nothing to guard)."""
    progress.board.plan(stage, len(keys))

    def one(key: str) -> DealerOutcome[T]:
        dealer_id = dealer_of(key)
        outcome: DealerOutcome[T] = DealerOutcome(key, dealer_id)
        started = utcnow()
        try:
            with dealer_lease(engine, dealer_id, stage, run_id) if lease else nullcontext():
                outcome.result = work(key)
        except DealerBusy as busy:
            outcome.busy = busy
        except VendorBlocked as exc:
            outcome.blocked = known_block(engine, exc, started)
            outcome.error = None if outcome.blocked is not None else exc
        except Exception as exc:  # noqa: BLE001 - one dealer's failure is reported, the others go on
            outcome.error = exc
        progress.board.dealer_done(stage, vehicles_of(outcome.result) if outcome.result is not None else 0)
        return outcome

    if len(keys) == 1:
        return [one(keys[0])]
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(keys))),
                            thread_name_prefix=f"dealers-{stage}") as pool:
        return list(pool.map(one, keys))

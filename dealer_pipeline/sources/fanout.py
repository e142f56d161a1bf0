"""Many dealers in one run: each dealer's piece of work on a thread of a bounded pool.

A run that covers a range of dealer partitions (a single-run backfill, `dealer-pipeline sync`, the
stock schedules) hands each dealer to `for_each_dealer`. Each dealer runs under its lease (one run
at a time per dealer) and fails alone: its outcome carries the error and the others go on. The
vendor clients are shared by the threads, so the token, pauses, blocks and the client's cap on
calls in flight hold for the whole run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Generic, TypeVar

import sqlalchemy as sa

from dealer_pipeline import progress
from dealer_pipeline.sources.leases import DealerBusy, dealer_lease

T = TypeVar("T")


@dataclass
class DealerOutcome(Generic[T]):
    """What one dealer's work gave: a result, or the error that stopped it, or the run that had it."""

    key: str
    dealer_id: str
    result: T | None = None
    error: BaseException | None = None
    busy: DealerBusy | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.busy is None


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
        try:
            with dealer_lease(engine, dealer_id, stage, run_id) if lease else nullcontext():
                outcome.result = work(key)
        except DealerBusy as busy:
            outcome.busy = busy
        except Exception as exc:  # noqa: BLE001 - one dealer's failure is reported, the others go on
            outcome.error = exc
        progress.board.dealer_done(stage, vehicles_of(outcome.result) if outcome.result is not None else 0)
        return outcome

    if len(keys) == 1:
        return [one(keys[0])]
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(keys))),
                            thread_name_prefix=f"dealers-{stage}") as pool:
        return list(pool.map(one, keys))

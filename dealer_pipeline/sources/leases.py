"""One run at a time per dealer, whatever launched it (and one step of that run at a time).

A run that syncs several dealers (a partition range) cannot be covered by Dagster's per-dealer
run tag limit, and a schedule, a sensor and `dealer-pipeline sync` may all reach for the same
dealer. So every piece of work on a dealer (its baseline, its features, ...) holds a lease row in
`dealer_leases` while it runs: taking it is one conditional write, valid on SQLite and
PostgreSQL alike. The holder renews it every `LEASE_SECONDS / 3` while it works, so a lease whose
holder died lapses within `LEASE_SECONDS`; on the holder's own machine a dead process's lease is
taken over at once.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import sqlalchemy as sa

from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.repository import insert_ignore
from dealer_pipeline.store.schema import dealer_leases
from dealer_pipeline.store.types import utcnow

#: How long a lease outlives its last renewal (a holder that died on another machine).
LEASE_SECONDS = 120.0
#: How often a step waiting for a sibling step of its own run asks for the lease again.
SIBLING_POLL_SECONDS = 0.2


class DealerBusy(RuntimeError):
    """Another run holds the dealer's lease; the message names it."""

    def __init__(self, dealer_id: str, run_id: str | None, work: str) -> None:
        super().__init__(f"{dealer_id} is being synced by run {run_id or 'outside Dagster'} ({work}); skipped")
        self.dealer_id, self.run_id, self.work = dealer_id, run_id, work


def _owner() -> str:
    return f"{os.uname().nodename}:{os.getpid()}:{threading.get_ident()}"


def _dead_here(owner: str) -> bool:
    """The owner ran on this machine and its process is gone."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != os.uname().nodename or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def acquire(engine: sa.Engine, dealer_id: str, work: str, run_id: str | None,
            seconds: float = LEASE_SECONDS) -> str | None:
    """Take the dealer's lease; the owner token on success, None when another live holder has it."""
    now, owner = utcnow(), _owner()
    row = {"dealer_id": dealer_id, "owner": owner, "run_id": run_id, "work": work, "acquired_at": now,
           "until": now + timedelta(seconds=seconds)}
    with transaction(engine) as conn:
        if insert_ignore(conn, dealer_leases, row, ["dealer_id"]):
            return owner
        held = conn.execute(sa.select(dealer_leases.c.owner, dealer_leases.c.until)
                            .where(dealer_leases.c.dealer_id == dealer_id)).first()
        if held is None or (held.until >= now and not _dead_here(held.owner)):
            return None
        taken = conn.execute(sa.update(dealer_leases)
                             .where(dealer_leases.c.dealer_id == dealer_id, dealer_leases.c.owner == held.owner)
                             .values(**row))
        return owner if taken.rowcount == 1 else None


def renew(engine: sa.Engine, dealer_id: str, owner: str, seconds: float = LEASE_SECONDS) -> bool:
    """Push the lease's end `seconds` from now; False if it is no longer ours."""
    with transaction(engine) as conn:
        renewed = conn.execute(sa.update(dealer_leases)
                               .where(dealer_leases.c.dealer_id == dealer_id, dealer_leases.c.owner == owner)
                               .values(until=utcnow() + timedelta(seconds=seconds)))
    return renewed.rowcount == 1


def release(engine: sa.Engine, dealer_id: str, owner: str) -> None:
    with transaction(engine) as conn:
        conn.execute(sa.delete(dealer_leases).where(dealer_leases.c.dealer_id == dealer_id,
                                                    dealer_leases.c.owner == owner))


def holder(engine: sa.Engine, dealer_id: str) -> tuple[str | None, str]:
    """(run_id, work) of the dealer's current lease holder."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(dealer_leases.c.run_id, dealer_leases.c.work)
                           .where(dealer_leases.c.dealer_id == dealer_id)).first()
    return (row.run_id, row.work) if row else (None, "")


def _acquire_or_wait_for_sibling(engine: sa.Engine, dealer_id: str, work: str, run_id: str | None) -> str:
    """The lease, taken now; or, when another step of the same run holds it (a run's steps that run in
    parallel, e.g. features and charge times on separate workers), once that step is done: a run never
    skips work it was asked to do because of itself. Another run's lease raises `DealerBusy` at once."""
    while True:
        owner = acquire(engine, dealer_id, work, run_id)
        if owner is not None:
            return owner
        busy_run, busy_work = holder(engine, dealer_id)
        if run_id is None or busy_run != run_id:
            raise DealerBusy(dealer_id, busy_run, busy_work or work)
        time.sleep(SIBLING_POLL_SECONDS)


@contextmanager
def dealer_lease(engine: sa.Engine, dealer_id: str, work: str, run_id: str | None) -> Iterator[None]:
    """Hold the dealer's lease for the block, or raise `DealerBusy` at once (another run holds it)."""
    owner = _acquire_or_wait_for_sibling(engine, dealer_id, work, run_id)
    stop = threading.Event()

    def keep() -> None:
        while not stop.wait(LEASE_SECONDS / 3):
            try:
                renew(engine, dealer_id, owner)
            except Exception:  # noqa: BLE001 - a failed renewal is retried; the lease lapses only if all do
                continue

    keeper = threading.Thread(target=keep, daemon=True, name=f"lease-{dealer_id}")
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join()
        release(engine, dealer_id, owner)

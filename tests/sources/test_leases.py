"""Dealer leases: another run's lease skips the dealer at once; a sibling step of the same run (steps
that an executor runs in parallel, e.g. features and charge times on separate workers) waits its turn
instead of skipping work its run was asked to do."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from dealer_pipeline.sources.leases import DealerBusy, dealer_lease

DEALER = "autotrader:10012345"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_a_sibling_step_waits_and_another_run_is_refused(store: sa.Engine) -> None:
    spans: dict[str, tuple[float, float]] = {}
    holding = threading.Event()

    def features() -> None:
        with dealer_lease(store, DEALER, "features", "run-1"):
            start = time.monotonic()
            holding.set()
            time.sleep(0.6)
            spans["features"] = (start, time.monotonic())

    first = threading.Thread(target=features)
    first.start()
    assert holding.wait(10)
    with pytest.raises(DealerBusy, match="by run run-1"):
        with dealer_lease(store, DEALER, "baseline", "run-2"):
            pass
    with dealer_lease(store, DEALER, "charge_times", "run-1"):
        spans["charge_times"] = (time.monotonic(), time.monotonic())
    first.join()
    assert spans["features"][1] <= spans["charge_times"][0], "the sibling ran after, not beside, the holder"
    with dealer_lease(store, DEALER, "baseline", "run-2"):
        pass  # free again once both steps of run-1 are done

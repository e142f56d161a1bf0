"""The Webmotors side of the fault matrix (issue 10): a 5xx storm on the stock list is retried a
bounded number of times and changes nothing; a storm that passes loses nothing. Connection
resets are `test_stock.py::test_connection_reset_on_page_2_changes_nothing`."""

from __future__ import annotations

import sqlalchemy as sa

from dealer_pipeline.store.schema import sync_runs, vehicle_changes, vehicles
from tests.support.runs import failure_message
from tests.webmotors.conftest import STOCK_PATH, Harness, table


def _state(harness: Harness) -> tuple[list[dict], list[dict]]:
    return (table(harness.engine, vehicles, vehicles.c.vehicle_id),
            table(harness.engine, vehicle_changes, vehicle_changes.c.id))


def test_a_5xx_storm_on_the_stock_list_is_bounded_and_changes_nothing(harness: Harness) -> None:
    cnpj = harness.cnpj(1)
    assert harness.sync(cnpj, stock_page_size=10).success
    with harness.engine.begin() as conn:  # make the store differ, so a wrongly applied page would show
        conn.execute(sa.update(vehicles).values(mileage_km=1))
    before = _state(harness)
    harness.sandbox.fault(vendor="webmotors", path=STOCK_PATH, query={"p": "2"}, dealer=cnpj, status=503,
                          times=None)
    harness.mark()
    failed = harness.sync(cnpj, stock_page_size=10, max_attempts=3, backoff_base_seconds=0.05)
    harness.sandbox.clear_faults()
    assert not failed.success and "503" in failure_message(failed)
    assert [(c["query"]["p"], c["status"]) for c in harness.calls(STOCK_PATH)] == [("1", 200)] + [("2", 503)] * 3
    assert _state(harness) == before
    assert not table(harness.engine, sync_runs, sync_runs.c.id)[-1]["complete"]
    # A storm shorter than the attempts: retried through, nothing lost, the baseline applies.
    harness.sandbox.fault(vendor="webmotors", path=STOCK_PATH, query={"p": "2"}, dealer=cnpj, status=500, times=2)
    done = harness.sync(cnpj, stock_page_size=10, max_attempts=3, backoff_base_seconds=0.05)
    assert done.success, failure_message(done)
    after = _state(harness)[0]
    assert len(after) == len(before[0]) and all(row["mileage_km"] != 1 for row in after)
    assert table(harness.engine, sync_runs, sync_runs.c.id)[-1]["complete"]

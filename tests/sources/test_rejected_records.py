"""A record that cannot be keyed is kept whole in `rejected_records`, and the baseline removes nothing."""

from __future__ import annotations

import copy

import sqlalchemy as sa

from dealer_pipeline.canonical.autotrader import normalize_stock
from dealer_pipeline.sources.runs import BaselineResult, apply_baseline
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.schema import rejected_records, sync_runs, vehicles
from dealer_pipeline.store.types import utcnow
from tests.canonical.records import autotrader_record

DEALER = "autotrader:10012345"


def _baseline(engine: sa.Engine, records: list[dict], *, incomplete: str | None) -> BaselineResult:
    now = utcnow()
    batch = normalize_stock(records, received_at=now, advertiser_id="10012345")
    result = BaselineResult(dealer_id=DEALER, pages=1, records=len(records))
    with transaction(engine) as conn:
        apply_baseline(conn, result, batch, source="autotrader", now=now, run_id="run-1", started=now,
                       incomplete=incomplete)
    return result


def test_unkeyed_record_is_kept_whole_and_removes_nothing(store: sa.Engine) -> None:
    first = autotrader_record(stockId="a" * 32)
    second = autotrader_record(stockId="b" * 32)
    assert _baseline(store, [first, second], incomplete=None).complete

    broken = copy.deepcopy(second)
    del broken["metadata"]["stockId"]
    result = _baseline(store, [first, broken], incomplete="1 records could not be keyed")
    assert (result.rejected, result.removed, result.complete) == (1, 0, False)

    with store.connect() as conn:
        kept = conn.execute(sa.select(rejected_records)).mappings().all()
        availability = dict(conn.execute(sa.select(vehicles.c.vehicle_id, vehicles.c.availability)).all())
        runs = conn.execute(sa.select(sync_runs.c.complete).order_by(sync_runs.c.id)).scalars().all()
    assert len(kept) == 1
    assert kept[0]["raw"] == broken and kept[0]["dealer_id"] == DEALER and kept[0]["kind"] == "stock"
    assert "stockId" in kept[0]["reason"] and kept[0]["run_id"] == "run-1"
    assert availability == {f"autotrader:{'a' * 32}": "available", f"autotrader:{'b' * 32}": "available"}
    assert runs == [True, False]

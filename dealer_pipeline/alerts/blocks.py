"""Blocks opened since the alert sensor last looked, with the run whose call the vendor refused.

`api_blocks` ids only grow, so "new" is an id above the sensor's cursor: each block pages once,
whatever number of later runs it stops. A block already lifted when the sensor looks (a vendor
signal, an operator) needs nobody and pages nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from dealer_pipeline.http.blocks import Block
from dealer_pipeline.store.schema import api_blocks, api_calls


@dataclass(frozen=True)
class OpenedBlock:
    block: Block
    run_id: str | None  # the Dagster run that made the refused call, when the call log names it


def last_block_id(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(api_blocks.c.id), 0))).scalar_one())


def blocks_after(engine: sa.Engine, after_id: int, limit: int = 50) -> list[OpenedBlock]:
    """Blocks with an id above `after_id` (resolved ones too: the caller skips them), oldest first."""
    stmt = sa.select(api_blocks).where(api_blocks.c.id > after_id).order_by(api_blocks.c.id).limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
        return [OpenedBlock(Block(**{name: row[name] for name in Block.__dataclass_fields__}), _opening_run(conn, row))
                for row in rows]


#: How long before a block was stored the refused call that opened it was sent (its retries and timeouts
#: included); bounds the lookup to the `(vendor, ts)` index instead of the vendor's whole call history.
OPENING_CALL_WINDOW = timedelta(minutes=10)


def _opening_run(conn: sa.Connection, block: sa.RowMapping) -> str | None:
    """The run of the refused call: the logged call with the block's CF-RAY, else the dealer's last
    refused call before the block was stored."""
    refused = sa.select(api_calls.c.run_id).where(
        api_calls.c.vendor == block["vendor"], api_calls.c.status >= 400, api_calls.c.run_id.is_not(None),
        api_calls.c.ts <= block["created_at"], api_calls.c.ts >= block["created_at"] - OPENING_CALL_WINDOW)
    if block["cf_ray"]:
        by_ray = conn.execute(refused.where(api_calls.c.cf_ray == block["cf_ray"]).limit(1)).scalar()
        if by_ray:
            return by_ray
    if block["dealer_id"] is not None:
        refused = refused.where(api_calls.c.dealer_id == block["dealer_id"])
    return conn.execute(refused.order_by(api_calls.c.ts.desc()).limit(1)).scalar()

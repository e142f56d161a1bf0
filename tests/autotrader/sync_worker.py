"""One Autotrader stock sync of one advertiser in a process of its own (the fault matrix kills it).

    python -m tests.autotrader.sync_worker ADVERTISER_ID PAGE_SIZE

The environment carries the sandbox's settings and DEALER_PIPELINE_DATABASE_URL; the run uses an
ephemeral Dagster instance and the real `stock` asset.
"""

from __future__ import annotations

import sys

import dagster as dg

from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.defs.sources import autotrader as at


def main(argv: list[str]) -> int:
    advertiser_id, page_size = argv[0], int(argv[1])
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(at.ADVERTISER_PARTITIONS.name, [advertiser_id])
        result = dg.materialize([at.stock], instance=instance, partition_key=advertiser_id, raise_on_error=False,
                                resources={"autotrader": at.AutotraderResource(stock_page_size=page_size),
                                           "store": StoreResource()})
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

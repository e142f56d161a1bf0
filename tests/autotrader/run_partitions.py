"""Materialize Autotrader partitions in this process (one Dagster run per advertiser, or with
`range=1` one run over them all, as a ranged backfill run).

    python -m tests.autotrader.run_partitions ASSET[,ASSET...] ADVERTISER_ID[,ADVERTISER_ID...] [KEY=VALUE ...]

ASSET names: stock, stock_features, charge_times. KEY=VALUE pairs configure the
AutotraderResource (numbers as numbers). Settings (store URL, sandbox URL, credentials)
come from the environment. Prints one JSON line: runs made and the ids that failed.
"""

from __future__ import annotations

import json
import logging
import sys

import dagster as dg

from dealer_pipeline.defs.common import range_run_tags
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.defs.sources import autotrader as at

ASSETS = {"stock": at.stock, "stock_features": at.stock_features, "charge_times": at.charge_times}


def _value(raw: str) -> object:
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def main(argv: list[str]) -> int:
    logging.disable(logging.INFO)
    assets = [ASSETS[name] for name in argv[0].split(",")]
    ids = [a for a in argv[1].split(",") if a]
    config = {key: _value(value) for key, value in (pair.split("=", 1) for pair in argv[2:])}
    ranged = bool(config.pop("range", 0))
    failures = []
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(at.ADVERTISER_PARTITIONS.name, ids)
        resources = {"autotrader": at.AutotraderResource(**config), "store": StoreResource()}
        if ranged:
            one = {"partition_key": ids[0]} if len(ids) == 1 else {}
            result = dg.materialize(assets, instance=instance, resources=resources, raise_on_error=False,
                                    tags=range_run_tags(ids), **one)
            print(json.dumps({"runs": 1, "failures": [] if result.success else ids}))
            return 0
        for advertiser_id in ids:
            result = dg.materialize(assets, instance=instance, resources=resources, partition_key=advertiser_id,
                                    raise_on_error=False)
            if not result.success:
                failures.append(advertiser_id)
    print(json.dumps({"runs": len(ids), "failures": failures}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

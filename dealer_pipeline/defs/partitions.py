"""The dealer partitions a step covers: one (a dealer's run) or a range (a run over many dealers)."""

from typing import List

import dagster as dg


def partition_keys_of(context: dg.OpExecutionContext) -> List[str]:
    """The step's partition keys. A single partition is read from the run's tags; only a range is
    resolved against the instance's dynamic partitions."""
    if context.has_partition_key:
        return [context.partition_key]
    return list(context.partition_keys)

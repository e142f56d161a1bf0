"""The publishing partitions: one dynamic partition per dealer that publishes anywhere.

`publishing/dealers` reads the dealers file and keeps the dynamic partitions
`published_dealer` equal to the dealer ids (`autotrader:10012345`, `webmotors:0334...`)
that have at least one publication target. Every per-target asset (`publishing/autocosmos`,
`publishing/autochat`, ...) is partitioned by it; a target skips, with a note in its
metadata, a dealer that does not publish to it.
"""

# No `from __future__ import annotations`: Dagster reads resource annotations at runtime.
from typing import Callable

import dagster as dg

from dealer_pipeline.dealers_file import DealerEntry, DealersFileError, load_dealers
from dealer_pipeline.defs.common import sync_dynamic_partitions
from dealer_pipeline.defs.labels import labels
from dealer_pipeline.publishing.core import account_of

GROUP = "publishing"
PUBLISHED_DEALER = dg.DynamicPartitionsDefinition(name="published_dealer")
DEALERS_KEY = dg.AssetKey(["publishing", "dealers"])
TARGETS = ("autocosmos", "autochat")


@dg.asset(key=DEALERS_KEY, group_name=GROUP, **labels("publishing", "yaml", grain="all_dealers", writes_store=False),
          description="Dealers with a publication target in the dealers file; keeps one `published_dealer` "
                      "partition per dealer id.")
def published_dealers(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    try:
        dealers_file = load_dealers()
    except DealersFileError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    wanted = {e.dealer_id for e in dealers_file.dealers if any(account_of(e, t) for t in TARGETS)}
    added, dropped = sync_dynamic_partitions(context.instance, PUBLISHED_DEALER, wanted)
    per_target = {t: sum(1 for e in dealers_file.dealers if account_of(e, t)) for t in TARGETS}
    return dg.MaterializeResult(metadata={
        "dealers": len(wanted), "partitions_added": len(added), "partitions_removed": len(dropped),
        "per_target": dg.MetadataValue.json(per_target),
    })


def dealer_entries() -> Callable[[str], DealerEntry]:
    """The dealers file, read once per step: a function giving the entry of a `published_dealer`
    partition (a Failure naming it if absent)."""
    try:
        entries = load_dealers().by_id()
    except DealersFileError as exc:
        raise dg.Failure(description=f"the dealers file is invalid: {exc}", allow_retries=False) from None

    def entry_of(dealer_id: str) -> DealerEntry:
        entry = entries.get(dealer_id)
        if entry is None:
            raise dg.Failure(description=f"dealer {dealer_id} is not in the dealers file; rematerialize "
                                         f"publishing/dealers to drop its partition", allow_retries=False)
        return entry

    return entry_of


published_dealers_job = dg.define_asset_job(
    "published_dealers_job", selection=[DEALERS_KEY],
    description="Refresh the `published_dealer` partitions from the dealers file.",
)


@dg.schedule(job=published_dealers_job, cron_schedule="30 * * * *", default_status=dg.DefaultScheduleStatus.STOPPED)
def published_dealers_schedule() -> dg.RunRequest:
    """Hourly, before the targets' runs: a dealer added to the dealers file gets its partition."""
    return dg.RunRequest()

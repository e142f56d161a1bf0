"""A publishing run over a range of dealers: each dealer is published as in its own run, one dealer's
failure is named and does not stop the others, and the step fails only when every dealer failed.

Autochat through its real Dagster asset against the sandbox over HTTP, on SQLite and PostgreSQL; the
range is given by Dagster's partition-range tags, as `dealer-pipeline sync` and the schedules give it.
"""

from __future__ import annotations

import dagster as dg

from dealer_pipeline.defs.keys import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from dealer_pipeline.defs.publishing import autochat as ach_defs
from dealer_pipeline.defs.publishing.autochat import AUTOCHAT_KEY
from dealer_pipeline.defs.publishing.partitions import PUBLISHED_DEALER
from dealer_pipeline.defs.resources import StoreResource
from tests.publishing.channels_fixtures import Channels
from tests.support.runs import materializations

UNKNOWN = ("autotrader:99999991", "autotrader:99999992")


def _publish_range(channels: Channels, first: str, last: str) -> dg.ExecuteInProcessResult:
    return dg.materialize([ach_defs.publish_autochat], instance=channels.instance, raise_on_error=False,
                          resources={"autochat": ach_defs.AutochatResource(), "store": StoreResource()},
                          tags={ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last})


def test_a_range_publishes_each_dealer_and_names_the_one_that_failed(channels: Channels) -> None:
    dealers = [e for e in channels.dealers() if e.autochat_dealership_id][:2]
    assert len(dealers) == 2, "the sandbox world has two Autochat dealers"
    for entry in dealers:
        channels.sync(entry)
    keys = [dealers[0].dealer_id, UNKNOWN[0], dealers[1].dealer_id]
    channels.instance.add_dynamic_partitions(PUBLISHED_DEALER.name, keys)

    result = _publish_range(channels, keys[0], keys[-1])

    assert result.success, "one dealer's failure does not fail the range"
    found = materializations(result, AUTOCHAT_KEY)
    assert len(found) == 3, "one materialization per partition of the range, with the range's metadata"
    metadata = found[0]
    assert (metadata["dealers"], metadata["dealers_failed"]) == (3, 1)
    assert list(metadata["failed_dealers"]) == [UNKNOWN[0]]
    assert "not in the dealers file" in metadata["failed_dealers"][UNKNOWN[0]]
    published = {entry.dealer_id: len([p for p in channels.publications("autochat", entry.dealer_id).values()
                                       if p["state"] == "active"]) for entry in dealers}
    assert all(published.values()), published
    assert metadata["succeeded"] == sum(published.values())
    assert metadata["outcomes"]["sent"] == metadata["succeeded"] and metadata["api_calls"] > 0


def test_a_range_whose_every_dealer_failed_fails_naming_them(channels: Channels) -> None:
    channels.instance.add_dynamic_partitions(PUBLISHED_DEALER.name, list(UNKNOWN))

    result = _publish_range(channels, *UNKNOWN)

    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    assert message.startswith("all 2 dealers failed") and all(key in message for key in UNKNOWN)

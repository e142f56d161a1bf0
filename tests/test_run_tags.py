"""One dealer tag: the per-dealer run limit of `deploy/dagster.yaml` reads the tag every per-dealer run carries."""

from __future__ import annotations

import dagster as dg
import yaml

from dealer_pipeline.defs.common import range_run_tags, wanted_ranges
from dealer_pipeline.defs.keys import DEALER_TAG
from dealer_pipeline.defs.operations.events import run_tags
from dealer_pipeline.paths import project_root


def test_the_deployed_per_dealer_limit_reads_the_dealer_tag() -> None:
    config = yaml.safe_load((project_root() / "deploy" / "dagster.yaml").read_text())
    limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    per_dealer = [item for item in limits if item.get("value") == {"applyLimitPerUniqueValue": True}]
    assert [(item["key"], item["limit"]) for item in per_dealer] == [(DEALER_TAG, 1)]


def test_schedule_sync_and_event_runs_name_their_dealer_with_the_same_tag() -> None:
    dealer = "autotrader:10012345"
    assert range_run_tags(["10012345"], lambda key: f"autotrader:{key}") == {DEALER_TAG: dealer}
    event_tags = run_tags(dealer, 7, 9, 3)
    assert event_tags[DEALER_TAG] == dealer and "dealer_id" not in event_tags
    assert DEALER_TAG not in run_tags(None, 7, 9, 3), "events that name no dealer are about none"


@dg.op
def _noop() -> None:
    return None


@dg.job
def _dealer_work() -> None:
    _noop()


def test_an_event_run_waits_while_its_dealer_has_a_run_in_progress() -> None:
    """The deployed limits, applied by Dagster's own run-queue counter to runs tagged as the schedules,
    `sync` and the events sensor tag them: a dealer's event run waits for that dealer's stock run;
    another dealer's, and a run about no dealer, do not."""
    from dagster._utils.tags import TagConcurrencyLimitsCounter

    config = yaml.safe_load((project_root() / "deploy" / "dagster.yaml").read_text())
    limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    with dg.instance_for_test() as instance:
        def run(tags: dict[str, str]) -> dg.DagsterRun:
            return instance.create_run_for_job(_dealer_work, tags=tags)

        stock = run(range_run_tags(["10012345"], lambda key: f"autotrader:{key}"))
        same_dealer = run(run_tags("autotrader:10012345", 1, 4, 4))
        other_dealer = run(run_tags("autotrader:10099999", 5, 5, 1))
        no_dealer = run(run_tags(None, 6, 6, 1))
        counter = TagConcurrencyLimitsCounter(limits, [stock])
        assert counter.is_blocked(same_dealer)
        assert not counter.is_blocked(other_dealer) and not counter.is_blocked(no_dealer)


def test_wanted_ranges_never_cover_a_dealer_that_was_not_asked_for() -> None:
    """A range run covers every partition from its first key to its last, so wanted dealers with another
    between them go in separate ranges; consecutive ones share a range up to the size."""
    keys = ["a", "b", "c", "d", "e", "f", "g"]
    assert wanted_ranges(keys, ["a", "b", "d", "e", "f", "g"], 3) == [["a", "b"], ["d", "e", "f"], ["g"]]
    assert wanted_ranges(keys, ["g", "a"], 50) == [["a"], ["g"]]
    assert wanted_ranges(keys, [], 50) == []
    assert wanted_ranges(keys, keys, 50) == [keys]

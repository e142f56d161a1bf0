"""Webhooks to the classifieds through the sensors alone, under a real `dagster-daemon`.

The sandbox delivers each change as a signed webhook over HTTP to the receiver; the daemon (on a
throwaway DAGSTER_HOME, schedules stopped) evaluates `webhook_events_sensor` and
`publish_changes_sensor` and launches every run as its own process. Nothing else runs anything:
the tests only change the sandbox and read the sandbox's state, the store and the instance.
Waits are generous and polled (a loaded 2-core machine takes tens of seconds per change).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterator

import dagster as dg
import pytest
import sqlalchemy as sa

from dealer_pipeline.dealers_file import DealerEntry, load_dealers
from dealer_pipeline.defs.keys import DEALER_TAG
from dealer_pipeline.defs.operations.publish_changes import SENSOR_NAME
from dealer_pipeline.defs.publishing.partitions import published_dealers
from dealer_pipeline.http.blocks import list_blocks
from dealer_pipeline.publishing.core import external_id_for
from dealer_pipeline.sandbox.runner import SandboxHandle, start_sandbox
from dealer_pipeline.settings import get_settings
from dealer_pipeline.store.engine import create_store_engine, get_engine
from dealer_pipeline.webhooks.runner import start_receiver
from tests.conftest import fresh_pg_database
from tests.support.classifieds import Listing, listing, new_stock_for_sale, stored, wait_for
from tests.support.daemon import DaemonHandle, start_daemon

SENSOR_TAG = "dagster/sensor_name"


@dataclass
class Stack:
    sandbox: SandboxHandle
    engine: sa.Engine
    daemon: DaemonHandle
    both: DealerEntry  # publishes to Autocosmos and Autochat
    blocked: DealerEntry  # publishes to Autocosmos; its agency starts unlinked (a 403 blocks it)

    def advertiser(self, entry: DealerEntry) -> str:
        return entry.dealer_id.split(":", 1)[1]

    def new_stock(self, entry: DealerEntry) -> str:
        return new_stock_for_sale(self.sandbox, self.advertiser(entry))

    def listing(self, entry: DealerEntry, vehicle_id: str) -> Listing:
        return listing(self.sandbox, entry, vehicle_id)

    def runs(self) -> list[dg.DagsterRun]:
        with self.daemon.instance() as instance:
            return list(instance.get_runs())

    def explain(self) -> str:
        summary = "\n".join(f"{r.job_name} {r.status.value} {dict(r.tags)}" for r in self.runs())
        return f"runs:\n{summary}\ndaemon log:\n{self.daemon.log_tail()}"


def _dealers(sandbox: SandboxHandle) -> tuple[DealerEntry, DealerEntry]:
    entries = load_dealers().by_id()
    autotrader = [entries[a["dealer_id"]] for a in sandbox.world()["autotrader"]
                  if a["on_integration"] and a["stock_sync"] and a["dealer_id"] in entries]
    both = next(e for e in autotrader if e.autochat_dealership_id and e.autocosmos_adminmail)
    blocked = next(e for e in autotrader if e is not both and e.autocosmos_adminmail)
    return both, blocked


@pytest.fixture(scope="module")
def stack(pg_admin_url: str, pg_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with fresh_pg_database(pg_admin_url, pg_template) as url, \
            start_sandbox(seed=5, dealers=2, vehicles=2, workdir=tmp_path_factory.mktemp("sandbox")) as sandbox, \
            pytest.MonkeyPatch.context() as patch:
        env = {**sandbox.env(), "DEALER_PIPELINE_DATABASE_URL": url, "DEALER_PIPELINE_HTTP_MAX_WAIT_SECONDS": "20"}
        for name, value in env.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        get_engine.cache_clear()
        both, blocked = _dealers(sandbox)
        sandbox.control("POST", "/autocosmos/agencies", {"adminmail": blocked.autocosmos_adminmail, "linked": False})
        engine = create_store_engine(url)
        with start_receiver(env=env) as receiver, start_daemon(env) as daemon:
            sandbox.configure(receiver_url=receiver.base_url)
            with daemon.instance() as instance:  # the `published_dealer` partitions, from the dealers file
                assert dg.materialize([published_dealers], instance=instance).success
            yield Stack(sandbox, engine, daemon, both, blocked)
            sandbox.configure(receiver_url=None)
        engine.dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


def _price(stack: Stack, vehicle_id: str, version: int) -> Decimal | None:
    row = stored(stack.engine, vehicle_id)
    if row is None or (row["source_version"] or 0) < version:
        return None
    return Decimal(str(row["price_amount"]))


def test_a_price_change_and_a_sale_by_webhook_reach_both_classifieds_through_the_sensors(stack: Stack) -> None:
    vehicle_id = stack.new_stock(stack.both)
    first = wait_for(lambda: _price(stack, vehicle_id, 1), "the new vehicle in the store", context=stack.explain)
    wait_for(lambda: stack.listing(stack.both, vehicle_id).shows_price(first),
             "the new vehicle listed on Autocosmos and Autochat", context=stack.explain)

    version = stored(stack.engine, vehicle_id)["source_version"] + 1  # type: ignore[index]
    since = stack.sandbox.last_seq()
    stack.sandbox.change("autotrader", vehicle_id.split(":", 1)[1], price=int(first) - 750)
    cut = wait_for(lambda: _price(stack, vehicle_id, version), "the price cut in the store", context=stack.explain)
    assert cut < first
    wait_for(lambda: stack.listing(stack.both, vehicle_id).shows_price(cut),
             "the price cut on Autocosmos and Autochat", context=stack.explain)
    sent = {(c["method"], c["path"].rsplit("/", 1)[-1]) for c in stack.sandbox.calls("autocosmos", since=since)}
    assert ("PATCH", external_id_for(vehicle_id)) in sent  # AC-PUB-2: a price-only change is a PATCH

    stack.sandbox.change("autotrader", vehicle_id.split(":", 1)[1], lifecycle="SOLD")
    gone = wait_for(lambda: (now := stack.listing(stack.both, vehicle_id)).gone and now,
                    "the sold car archived on Autocosmos and deleted from Autochat", context=stack.explain)
    assert (gone.autocosmos or {}).get("Estado") == "Archivada" and gone.autochat is None
    assert stored(stack.engine, vehicle_id)["availability"] == "sold"  # type: ignore[index]

    publish_runs = [r for r in stack.runs() if r.job_name == "publish_dealer_job"]
    assert publish_runs and {r.tags.get(SENSOR_TAG) for r in publish_runs} == {SENSOR_NAME}
    assert {r.job_name for r in stack.runs() if r.tags.get(SENSOR_TAG) is None} <= {"__ephemeral_asset_job__"}


def test_ac_hook_1_acceptance_lifts_the_block_and_publishes_the_dealer_without_a_person(stack: Stack) -> None:
    entry = stack.blocked
    vehicle_id = stack.new_stock(entry)

    def open_block() -> list:
        return [b for b in list_blocks(stack.engine, vendor="autocosmos")
                if b.dealer_id == entry.dealer_id and b.reason == "403"]

    (block,) = wait_for(open_block, "the 403 block of the unlinked agency", context=stack.explain)
    assert not stack.listing(entry, vehicle_id).live_on_autocosmos

    accepted = stack.sandbox.control("POST", "/autocosmos/invitations/accept",
                                     {"adminmail": entry.autocosmos_adminmail})
    assert [a["status"] for a in accepted["attempts"]] == [200]
    wait_for(lambda: stack.listing(entry, vehicle_id).live_on_autocosmos,
             "the dealer's vehicle published on Autocosmos after the acceptance", context=stack.explain)

    (lifted,) = [b for b in list_blocks(stack.engine, vendor="autocosmos", include_resolved=True) if b.id == block.id]
    assert lifted.resolved_at is not None
    assert "invitacionagencia_aceptada" in (lifted.resolved_note or "")
    assert (entry.autocosmos_adminmail or "").lower() in (lifted.resolved_note or "")
    assert not open_block()
    runs = [r for r in stack.runs() if r.job_name == "publish_dealer_job" and r.tags.get(SENSOR_TAG) == SENSOR_NAME
            and r.tags.get(DEALER_TAG) == entry.dealer_id]
    assert len(runs) >= 2  # the one the 403 stopped, and the one the acceptance asked for

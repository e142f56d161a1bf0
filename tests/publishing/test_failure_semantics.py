"""One failure semantics for every publishing target: a transient error in the middle of a run.

The same test runs each target (Autocosmos, Autochat, the Webmotors status reports, the leads into
the Cockpit CRM) through its real Dagster asset against the sandbox over HTTP, on SQLite and
PostgreSQL: the vendor accepts the first item, then answers 503 to everything on that path. Each
run must stop after the failing item (no further call), record the failing item with the vendor's
error and every remaining item as not sent with why, report the same outcome counts, and succeed;
the next run (the vendor healthy again) sends what waited. Only what the failing item becomes
differs by target, as its contract requires: a publication or a status report is planned again; a
CRM lead whose insert may have landed is handed to an operator (at most once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import dagster as dg
import pytest
import sqlalchemy as sa

from dealer_pipeline.dealers_file import DealerEntry
from dealer_pipeline.defs.catalogue.assets import catalog_matches
from dealer_pipeline.defs.publishing import autocosmos as acd
from dealer_pipeline.defs.publishing import webmotors as wm_publishing
from dealer_pipeline.defs.publishing.autochat import AUTOCHAT_KEY
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.defs.sources.webmotors import WebmotorsResource
from dealer_pipeline.publishing.engine import NOT_SENT
from dealer_pipeline.sandbox.runner import SandboxHandle, start_sandbox
from dealer_pipeline.store.schema import leads, publications
from tests.publishing.channels_fixtures import Channels
from tests.support.runs import metadata_of

FAST = {"max_attempts": 2, "backoff_base_seconds": 0.01}


@pytest.fixture
def channels_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    """A sandbox per test: no publication, enquiry or report left by another case or backend."""
    with start_sandbox(seed=7, dealers=3, vehicles=8, workdir=tmp_path_factory.mktemp("semantics")) as handle:
        yield handle


@dataclass(frozen=True)
class Case:
    name: str
    key: dg.AssetKey
    prepare: Callable[[Channels], DealerEntry]
    run: Callable[[Channels, DealerEntry], dg.ExecuteInProcessResult]
    fault: dict[str, Any]               # vendor, method, path of the items' calls
    attempts: int                       # calls the client makes for one item before giving up
    waiting: Callable[[Channels, DealerEntry], dict[str, str]]   # items not done -> their recorded error
    failed_item_planned_again: bool


# ---- Autocosmos ---------------------------------------------------------------------------------------
def _autocosmos_resources() -> dict[str, Any]:
    return {"autocosmos": acd.AutocosmosResource(readback_delay_seconds=0.1, **FAST)}


def _autocosmos_prepare(channels: Channels) -> DealerEntry:
    entry = channels.dealer(source="autotrader", autocosmos=True)
    channels.sync(entry)
    assert dg.materialize([catalog_matches], instance=channels.instance,
                          resources={**_autocosmos_resources(), "store": StoreResource()}).success
    return entry


def _autocosmos_run(channels: Channels, entry: DealerEntry) -> dg.ExecuteInProcessResult:
    return channels.materialize([acd.autocosmos_publications], entry.dealer_id, _autocosmos_resources())


def _waiting_publications(target: str) -> Callable[[Channels, DealerEntry], dict[str, str]]:
    def waiting(channels: Channels, entry: DealerEntry) -> dict[str, str]:
        with channels.engine.connect() as conn:
            rows = conn.execute(sa.select(publications.c.vehicle_id, publications.c.last_error).where(
                publications.c.target == target, publications.c.dealer_id == entry.dealer_id,
                publications.c.last_error.is_not(None), publications.c.last_op != "hold")).all()
        return {vehicle_id: error for vehicle_id, error in rows}
    return waiting


# ---- Autochat -----------------------------------------------------------------------------------------
def _autochat_prepare(channels: Channels) -> DealerEntry:
    entry = channels.dealer(source="autotrader", autochat=True)
    channels.sync(entry)
    return entry


def _autochat_run(channels: Channels, entry: DealerEntry) -> dg.ExecuteInProcessResult:
    return channels.publish_autochat(entry.dealer_id, **FAST)


# ---- Webmotors status reports ------------------------------------------------------------------------
def _status_prepare(channels: Channels) -> DealerEntry:
    entry = channels.dealer(source="webmotors", autochat=True)
    channels.sync(entry)
    assert channels.publish_autochat(entry.dealer_id).success
    return entry


def _status_run(channels: Channels, entry: DealerEntry) -> dg.ExecuteInProcessResult:
    return channels.materialize([wm_publishing.webmotors_status], entry.dealer_id, {
        "webmotors": WebmotorsResource(**FAST), "classified": wm_publishing.ClassifiedResource()})


# ---- leads into the Cockpit CRM ----------------------------------------------------------------------
def _leads_prepare(channels: Channels) -> DealerEntry:
    entry = channels.dealer(source="webmotors", autocosmos=True)
    channels.sync(entry)
    assert dg.materialize([catalog_matches], instance=channels.instance,
                          resources={**_autocosmos_resources(), "store": StoreResource()}).success
    assert _autocosmos_run(channels, entry).success
    active = [p for p in channels.publications("autocosmos", entry.dealer_id).values() if p["state"] == "active"]
    for number in range(4):
        channels.sandbox.control("POST", "/autocosmos/consultas", {
            "adminmail": entry.autocosmos_adminmail, "external_id": active[number % len(active)]["external_id"],
            "mensaje": f"enquiry {number}"})
    return entry


def _leads_run(channels: Channels, entry: DealerEntry) -> dg.ExecuteInProcessResult:
    return channels.materialize([wm_publishing.publishing_leads], entry.dealer_id, {
        "autocosmos": acd.AutocosmosResource(readback_delay_seconds=0.1),
        "webmotors": WebmotorsResource(**FAST)})


def _leads_waiting(channels: Channels, entry: DealerEntry) -> dict[str, str]:
    with channels.engine.connect() as conn:
        rows = conn.execute(sa.select(leads.c.lead_key, leads.c.detail).where(
            leads.c.dealer_id == entry.dealer_id, leads.c.forward_status != "forwarded")).all()
    return {key: (detail or {}).get("error") or "" for key, detail in rows}


CASES = [
    Case("autocosmos", acd.AUTOCOSMOS_KEY, _autocosmos_prepare, _autocosmos_run,
         {"vendor": "autocosmos", "method": "POST", "path": "/v3/publicaciones"}, FAST["max_attempts"],
         _waiting_publications("autocosmos"), True),
    Case("autochat", AUTOCHAT_KEY, _autochat_prepare, _autochat_run,
         {"vendor": "autochat", "method": "POST", "path": "/api/cars"}, FAST["max_attempts"],
         _waiting_publications("autochat"), True),
    Case("webmotors_status", wm_publishing.STATUS_KEY, _status_prepare, _status_run,
         {"vendor": "webmotors", "method": "PUT", "path": "/marketplace/v1/anuncios/"}, FAST["max_attempts"],
         _waiting_publications("webmotors_status"), True),
    Case("leads", wm_publishing.LEADS_KEY, _leads_prepare, _leads_run,
         {"vendor": "webmotors", "method": "POST", "path": "/crm/v1/leads"}, 1, _leads_waiting, False),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_transient_error_mid_run_is_handled_the_same_by_every_target(channels: Channels, case: Case) -> None:
    entry = case.prepare(channels)
    channels.sandbox.fault(**case.fault, status=503, skip=1, times=None)
    channels.mark()
    result = case.run(channels, entry)
    channels.sandbox.clear_faults()

    assert result.success, "the run records every item and succeeds; its metadata says it stopped"
    metadata = metadata_of(result, case.key)
    outcomes = metadata["outcomes"]
    remaining = outcomes["not_sent"]
    assert outcomes == {"sent": 1, "refused": 0, "blocked": 0, "transient": 1, "not_sent": remaining}
    assert remaining >= 1 and metadata["stopped"] and metadata["not_sent"] == remaining
    item_calls = [c for c in channels.calls(case.fault["vendor"], case.fault["path"])
                  if c["method"] == case.fault["method"]]
    assert len(item_calls) == 1 + case.attempts, "no call after the failing item"
    assert [c["status"] for c in item_calls[1:]] == [503] * case.attempts

    waiting = case.waiting(channels, entry)
    not_sent = [error for error in waiting.values() if error.startswith(NOT_SENT)]
    failed = [error for error in waiting.values() if not error.startswith(NOT_SENT)]
    assert len(not_sent) == remaining and len(failed) == 1 and "503" in failed[0]
    assert all(metadata["stopped"] in error for error in not_sent), "each waiting item says why"

    channels.mark()
    again = case.run(channels, entry)
    assert again.success
    second = metadata_of(again, case.key)["outcomes"]
    assert second == {"sent": remaining + int(case.failed_item_planned_again), "refused": 0, "blocked": 0,
                      "transient": 0, "not_sent": 0}
    assert len(case.waiting(channels, entry)) == int(not case.failed_item_planned_again)

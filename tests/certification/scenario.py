"""The real pipeline against a sandbox, shaped to exercise as many go-live checks as a short run can.

One sandbox (which delivers its signed notifications to a real receiver) and a store; then,
through the Dagster definitions on an ephemeral instance:

1. faults scripted on the first Autotrader calls: a 429 with Retry-After 1, a token that
   expires now (401), a 503 on the stock service; advertiser 2 loses the Stock Sync product
   (403 B) and Webmotors dealer 2 its stock integration (401 after one new token);
2. `sync` of those dealers: advertisers, baselines, features, charge times, Webmotors stock,
   canonical vehicles, catalogue, publishing to Autocosmos and Autochat, status reports;
3. changes in the sandbox, each delivered as a signed notification (price twice, a
   reservation, a derivative switch, features/ratings/highlights, media and advert texts,
   hidden from the dealer site, a sale, a new stock item, an advertiser's details), a forged
   notification and a forged lead notice, a Webmotors lead, an agency acceptance, an
   Autocosmos moderation, photo loss and deletion on its side, and an enquiry; the events applied and their follow-up calls made
   (the sensor's code path);
4. a second baseline of advertiser 1 (nothing may be fetched again); Autocosmos then holds a
   publication for advertiser 1's new vehicle that our store does not know (an earlier create
   whose answer was lost), so its create is answered 409; a second publishing round for
   advertiser 1 and Webmotors dealer 1.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import requests
import sqlalchemy as sa

from dealer_pipeline.definitions import defs as default_defs
from dealer_pipeline.defs.catalogue.resources import AutocosmosResource
from dealer_pipeline.defs.sources.autotrader import AutotraderResource
from dealer_pipeline.defs.sources.webmotors import WebmotorsResource
from dealer_pipeline.runner.sync import publish_dealers, sync
from dealer_pipeline.events import apply_all_pending, followups
from dealer_pipeline.http import VendorError
from dealer_pipeline.publishing.core import external_id_for
from dealer_pipeline.sandbox.runner import SandboxHandle, start_sandbox
from dealer_pipeline.settings import get_settings
from dealer_pipeline.store.engine import create_store_engine, get_engine
from dealer_pipeline.vendors.autotrader import AutotraderClient
from dealer_pipeline.webhooks.runner import ReceiverHandle, start_receiver

SEED, DEALERS, VEHICLES = 7, 2, 8
BAD_INPUT, NOT_ON_INTEGRATION = "99999901", "99999902"


@dataclass
class Scenario:
    store_url: str
    sandbox: SandboxHandle
    receiver: ReceiverHandle
    at_dealer: str = ""
    report: list[str] = field(default_factory=list)
    seconds: float = 0.0


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set process env vars (settings are read from them) and restore them after."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    get_settings.cache_clear()
    get_engine.cache_clear()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        get_settings.cache_clear()
        get_engine.cache_clear()


def _vehicles(engine: sa.Engine, dealer_id: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT vehicle_id, source_vehicle_id, derivative_id, price_amount, availability FROM vehicles "
            "WHERE dealer_id = :d ORDER BY vehicle_id"), {"d": dealer_id}).mappings()
        return [dict(r) for r in rows]


def _forge(receiver: ReceiverHandle) -> None:
    """A notification with a wrong signature and a lead notice with a wrong token: both must get 403."""
    body = b'{"id":"x","time":"2026-01-01T00:00:00Z","type":"STOCK_UPDATE","data":{}}'
    answer = requests.put(receiver.url("autotrader"), data=body, timeout=10, headers={
        "Content-Type": "application/json", "Autotrader-Signature": f"t={int(time.time())},v1={'0' * 64}"})
    assert answer.status_code == 403, answer.text
    answer = requests.post(receiver.url("webmotors") + "?token=not-the-token", data=b'{"IdLead":"1"}', timeout=10,
                           headers={"Content-Type": "application/json"})
    assert answer.status_code == 403, answer.text


def _changes(sb: SandboxHandle, engine: sa.Engine, dealer_id: str, wm_dealer: dict[str, Any]) -> list[str]:
    cars = [v for v in _vehicles(engine, dealer_id) if v["availability"] == "available"]
    assert len(cars) >= 6, f"{dealer_id} has too few available vehicles for the scenario"
    stock = [c["source_vehicle_id"] for c in cars]
    other = next(c["derivative_id"] for c in cars if c["derivative_id"] != cars[2]["derivative_id"])
    sb.change("autotrader", stock[0], price=int(cars[0]["price_amount"]) - 250, duplicate=1)
    sb.change("autotrader", stock[1], reservation="Reserved")
    sb.change("autotrader", stock[2], derivative_id=other, mileage=41234)
    sb.change("autotrader", stock[3], add_features=["Heated seats"], highlights=["Low mileage", "One owner"])
    sb.change("autotrader", stock[4], images=3, video="https://www.youtube.com/watch?v=cert",
              attention_grabber="Certified stock", description="Checked and ready.")
    sb.change("autotrader", stock[5], advertiser_advert="NOT_PUBLISHED")
    sb.control("POST", f"/autotrader/stock/{stock[6]}/delete", {"state": "SOLD"})
    advertiser = dealer_id.split(":", 1)[1]
    sb.control("POST", f"/autotrader/advertisers/{advertiser}/stock", {"images": 3})
    sb.control("POST", f"/autotrader/advertisers/{advertiser}/change", {"phone": "0161 555 0199"})
    sb.control("POST", "/webmotors/leads", {"cnpj": wm_dealer["cnpj"], "tipo": 2})
    sb.control("POST", "/autocosmos/invitations/accept", {"adminmail": wm_dealer["autocosmos_adminmail"]})
    sb.settle()
    return stock


def _vendor_side(sb: SandboxHandle, engine: sa.Engine, at: dict[str, Any], wm: dict[str, Any],
                 changed: list[str]) -> None:
    """Autocosmos suspends one of advertiser 1's publications on its own (one whose payload the changes
    leave alone, so only the read-back can notice), loses every photo of another and deletes a third
    (the second publishing round heals both); a buyer asks about a Webmotors car."""
    with engine.connect() as conn:
        mine = conn.execute(sa.text(
            "SELECT vehicle_id, external_id, account_id, dealer_id FROM publications WHERE target = 'autocosmos' "
            "AND state = 'active' AND dealer_id IN (:a, :w) ORDER BY vehicle_id"),
            {"a": at["dealer_id"], "w": wm["dealer_id"]}).mappings().all()
    moved = {f"autotrader:{s}" for i, s in enumerate(changed) if i != 3}
    uk = [p for p in mine if p["dealer_id"] == at["dealer_id"] and p["vehicle_id"] not in moved]
    br = [p for p in mine if p["dealer_id"] == wm["dealer_id"]]
    assert uk and br, "the first publishing round published nothing to Autocosmos"
    sb.control("POST", f"/autocosmos/publicaciones/{uk[0]['account_id']}/{uk[0]['external_id']}/moderation",
               {"suspended": True})
    # Autocosmos also loses every photo of one and deletes another: the read-back heals both (a PUT, a POST)
    spare = uk[1:] + br[1:]
    assert len(spare) >= 2, "the scenario needs two more untouched Autocosmos publications"
    for pub, action in ((spare[0], "photo_loss"), (spare[-1], "delete")):
        sb.control("POST", f"/autocosmos/publicaciones/{pub['account_id']}/{pub['external_id']}/vendor-action",
                   {"action": action})
    sb.control("POST", "/autocosmos/consultas", {"adminmail": br[0]["account_id"], "external_id": br[0]["external_id"],
                                                 "nombre": "Maria Souza", "email": "maria@example.com"})


def _held_by_the_vendor(sb: SandboxHandle, engine: sa.Engine, at: dict[str, Any]) -> str:
    """Autocosmos already holds a publication for advertiser 1's new vehicle that our store does not know
    (an earlier create whose answer was lost): arranged on the vendor's side, with out-of-date content, so
    our first create of it is answered 409 (AC-PUB-5). Returns its ExternalId."""
    with engine.connect() as conn:
        unpublished = conn.execute(sa.text(
            "SELECT vehicle_id FROM vehicles WHERE dealer_id = :d AND availability = 'available' AND vehicle_id "
            "NOT IN (SELECT vehicle_id FROM publications WHERE target = 'autocosmos') ORDER BY vehicle_id"),
            {"d": at["dealer_id"]}).scalars().all()
        agency = conn.execute(sa.text(
            "SELECT account_id FROM publications WHERE target = 'autocosmos' AND dealer_id = :d AND state = 'active'"),
            {"d": at["dealer_id"]}).scalars().first()
    assert unpublished and agency, "advertiser 1 has no new vehicle to publish, or nothing on Autocosmos"
    return str(sb.hold_publication(agency, external_id_for(unpublished[0]))["ExternalId"])


def definitions() -> dg.Definitions:
    """The project's definitions with small pages (so baselines span pages) and a short Autocosmos
    read-back delay (the sandbox suspends at once)."""
    resources = {**default_defs.resources,
                 "autotrader": AutotraderResource(stock_page_size=5),
                 "webmotors": WebmotorsResource(stock_page_size=5),
                 "autocosmos": AutocosmosResource(readback_delay_seconds=0.2)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dg.Definitions(assets=default_defs.assets, asset_checks=default_defs.asset_checks,
                              jobs=default_defs.jobs, schedules=default_defs.schedules, sensors=default_defs.sensors,
                              loggers=default_defs.loggers, resources=resources)


def _single_advertisers(sb: SandboxHandle, engine: sa.Engine, advertiser_id: str) -> None:
    """One advertiser checked with ?advertiserId=; two more answered 400 and 403 (kind A), each asked
    twice: the second ask must be refused by the block before it is sent."""
    sb.fault(vendor="autotrader", path="/advertisers", query={"advertiserId": BAD_INPUT}, status=400, times=1)
    sb.fault(vendor="autotrader", path="/advertisers", query={"advertiserId": NOT_ON_INTEGRATION}, status=403,
             kind="A", times=1)
    with AutotraderClient.from_settings(engine=engine) as client:
        assert client.get_advertiser(advertiser_id) is not None
        for refused in (BAD_INPUT, NOT_ON_INTEGRATION):
            for _ in range(2):
                try:
                    client.get_advertiser(refused)
                except VendorError:
                    continue
                raise AssertionError(f"advertiser {refused} was not refused")


@contextlib.contextmanager
def pipeline_run(store_url: str, workdir: Path) -> Iterator[Scenario]:
    """Run the scenario (module docstring) into `store_url`; the sandbox and receiver stay up while in use."""
    started = time.monotonic()
    with start_receiver(env={"DEALER_PIPELINE_DATABASE_URL": store_url}) as receiver, \
            start_sandbox(seed=SEED, dealers=DEALERS, vehicles=VEHICLES, receiver_url=receiver.base_url,
                          workdir=workdir) as sb:
        sb.configure(webmotors_lead_retry_interval=0.2)
        world = sb.world()
        at1, at2 = world["autotrader"][:2]
        wm1, wm2 = world["webmotors"][:2]
        env = {**sb.env(), "DEALER_PIPELINE_DATABASE_URL": store_url, "DEALER_PIPELINE_HTTP_MAX_WAIT_SECONDS": "30",
               "DEALER_PIPELINE_DEFAULT_429_PAUSE_SECONDS": "1"}
        with environment(env):
            engine = create_store_engine(store_url)
            scenario = Scenario(store_url, sb, receiver, at_dealer=at1["dealer_id"])
            sb.control("POST", f"/autotrader/advertisers/{at2['advertiser_id']}/access", {"stock_sync": False})
            sb.control("POST", f"/webmotors/dealers/{wm2['cnpj']}/access", {"stock_integration": False})
            sb.fault(vendor="autotrader", path="/stock", status=429, retry_after=1, times=1)
            sb.fault(vendor="autotrader", path="/stock/", expire_token=True, times=1)
            sb.fault(vendor="autotrader", path="/stock/", status=503, times=1)
            dealers = [at1["dealer_id"], at2["dealer_id"], wm1["dealer_id"], wm2["dealer_id"]]
            defs = definitions()
            with dg.DagsterInstance.ephemeral() as instance:
                # The whole advertiser listing (AT-ADV-1/2); `sync --dealer` checks only its dealers.
                listing = defs.resolve_job_def("autotrader_advertisers_job").execute_in_process(
                    instance=instance, raise_on_error=False)
                scenario.report.append(f"advertisers listing: {'ok' if listing.success else 'failed'}")
                first = sync(instance, dealers=dealers, defs=defs)
                scenario.report += [f"{r.label}: {'ok' if r.success else r.error}" for r in first.runs]
                sb.clear_faults()
                _single_advertisers(sb, engine, at1["advertiser_id"])
                _forge(receiver)
                changed = _changes(sb, engine, at1["dealer_id"], wm1)
                _vendor_side(sb, engine, at1, wm1, changed)
                summary = apply_all_pending(engine)
                after = followups.run(engine, summary.followups)
                scenario.report.append(f"events: {summary.as_dict()} refetch calls {after.refetch_calls}")
                again = sync(instance, sources=["autotrader"], dealers=[at1["dealer_id"]], publish=False, defs=defs)
                scenario.report += [f"again {r.label}: {'ok' if r.success else r.error}" for r in again.runs]
                held = _held_by_the_vendor(sb, engine, at1)
                scenario.report.append(f"held by Autocosmos, unknown to our store: {held}")
                published = publish_dealers(instance, dealers=[at1["dealer_id"], wm1["dealer_id"]], defs=defs)
                scenario.report += [f"{r.label}: {'ok' if r.success else r.error}" for r in published.runs]
            sb.settle()
            engine.dispose()
            scenario.seconds = time.monotonic() - started
            yield scenario

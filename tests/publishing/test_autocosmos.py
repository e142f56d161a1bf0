"""Autocosmos v3 certification (AC-SIGN/MATCH/PUB/PHOTO/STATE), against the sandbox over real HTTP.

Vehicles reach the store through the real Autotrader source asset (`autotrader/stock`), then
the real Dagster assets (`catalogue/catalog_matches`, `publishing/autocosmos`) run on an
ephemeral instance. Checks are judged from the sandbox's call log (only calls since the test's
mark), the sandbox's own view of the publications, and our store. One module sandbox serves
every test; each test takes a dealer of its own, so publications never collide. The store is
PostgreSQL (the production backend); the core's store logic is also tested on SQLite
(`test_core.py`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from dealer_pipeline.catalogue.review import review_queue
from dealer_pipeline.cli import cli
from dealer_pipeline.defs.catalogue.assets import catalog_matches
from dealer_pipeline.defs.publishing import autocosmos as acd
from dealer_pipeline.defs.publishing.partitions import PUBLISHED_DEALER
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.defs.sources import autotrader as at
from dealer_pipeline.publishing.core import external_id_for
from dealer_pipeline.quality import blocked_vehicles
from dealer_pipeline.sandbox.runner import SandboxHandle, start_sandbox
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.schema import catalog_matches as catalog_table
from dealer_pipeline.store.schema import photo_checks, publications, vehicle_specs, vehicles
from tests.support.runs import metadata_of, sandbox_run_environment

SEED, DEALERS, VEHICLES = 7, 26, 8
FOCUS_ST_CANDIDATES_ONLY = "b327d7e1a55b2f0f392885061431bae3"
PEUGEOT_208_CANDIDATES_ONLY = "a75e36baeedcfdf237d934e9c48fdde3"


@pytest.fixture(params=["postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """These tests run on PostgreSQL only (see the module docstring)."""
    return request.param


@pytest.fixture(scope="module")
def ac_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    with start_sandbox(seed=SEED, dealers=DEALERS, vehicles=VEHICLES,
                       workdir=tmp_path_factory.mktemp("ac-sandbox")) as handle:
        handle.configure(extra={"autocosmos_photo_retry_seconds": 0.05})
        yield handle


@pytest.fixture(scope="module")
def uk_dealers(ac_sandbox: SandboxHandle) -> list[dict[str, Any]]:
    """Dealers no test has used yet (each test pops one)."""
    world = ac_sandbox.world()
    linked = {a["adminmail"].lower() for a in world["autocosmos_agencies"] if a["linked"]}
    return [a for a in world["autotrader"] if a["on_integration"] and a["stock_sync"] and a["status"] == "Active"
            and (a["autocosmos_adminmail"] or "").lower() in linked]


def _unlinked_dealer(sandbox: SandboxHandle) -> dict[str, Any]:
    world = sandbox.world()
    unlinked = {a["adminmail"].lower() for a in world["autocosmos_agencies"] if not a["linked"]}
    return next(a for a in world["autotrader"] if a["on_integration"] and a["stock_sync"]
                and a["status"] == "Active" and (a["autocosmos_adminmail"] or "").lower() in unlinked)


@dataclass
class Harness:
    sandbox: SandboxHandle
    engine: sa.Engine
    instance: dg.DagsterInstance
    dealer: dict[str, Any]
    since: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def dealer_id(self) -> str:
        return self.dealer["dealer_id"]

    @property
    def adminmail(self) -> str:
        return self.dealer["autocosmos_adminmail"]

    # ---- the real assets ----
    def sync(self) -> None:
        """The Autotrader baseline of this dealer, through the source asset."""
        advertiser = self.dealer["advertiser_id"]
        if advertiser not in self.instance.get_dynamic_partitions(at.ADVERTISER_PARTITIONS.name):
            self.instance.add_dynamic_partitions(at.ADVERTISER_PARTITIONS.name, [advertiser])
        result = dg.materialize([at.stock], instance=self.instance, partition_key=advertiser,
                                resources={"autotrader": at.AutotraderResource(), "store": StoreResource()})
        assert result.success

    def resources(self, **overrides: Any) -> dict[str, Any]:
        settings = {"readback_delay_seconds": 0.1, **self.overrides, **overrides}
        return {"autocosmos": acd.AutocosmosResource(**settings), "store": StoreResource()}

    def catalogue(self, **overrides: Any) -> dict[str, Any]:
        result = dg.materialize([catalog_matches], instance=self.instance, resources=self.resources(**overrides))
        assert result.success
        return metadata_of(result, catalog_matches.key)

    def publish(self, *, audit: bool = False, **overrides: Any) -> dict[str, Any]:
        if self.dealer_id not in self.instance.get_dynamic_partitions(PUBLISHED_DEALER.name):
            self.instance.add_dynamic_partitions(PUBLISHED_DEALER.name, [self.dealer_id])
        config = {"ops": {"publishing__autocosmos": {"config": {"audit": audit}}}}
        result = dg.materialize([acd.autocosmos_publications], instance=self.instance, partition_key=self.dealer_id,
                                resources=self.resources(**overrides), run_config=config)
        assert result.success
        return metadata_of(result, acd.AUTOCOSMOS_KEY)

    def round(self, **overrides: Any) -> dict[str, Any]:
        """What a scheduled run does: catalogue for new specs, then publish."""
        self.catalogue(**overrides)
        return self.publish(**overrides)

    # ---- the vendor's view ----
    def mark(self) -> None:
        self.sandbox.settle()
        self.since = self.sandbox.last_seq()

    def calls(self, method: str | None = None, contains: str | None = None) -> list[dict[str, Any]]:
        found = self.sandbox.calls(vendor="autocosmos", since=self.since)
        return [c for c in found if (method is None or c["method"] == method)
                and (contains is None or contains.lower() in c["path"].lower())]

    def ops(self) -> list[dict[str, Any]]:
        """Calls on single publications and creates (not best matches, not reads of the agency's list)."""
        listing = f"/v3/publicaciones/{self.adminmail}".lower()
        return [c for c in self.calls(contains="/v3/publicaciones")
                if not (c["method"] == "GET" and c["path"].lower() == listing)]

    def only_read_back(self) -> bool:
        """The run's only Autocosmos call was the read-back of the agency's list (every run reads it)."""
        return [(c["method"], c["path"].lower()) for c in self.calls()] == [
            ("GET", f"/v3/publicaciones/{self.adminmail}".lower())]

    def remote(self) -> dict[str, dict[str, Any]]:
        """The sandbox's publications of this agency, by lower-case ExternalId (after photo processing)."""
        self.sandbox.settle()
        entries = self.sandbox.control("GET", f"/autocosmos/publicaciones/{self.adminmail}")
        entries = entries.get("_entries", entries) if isinstance(entries, dict) else entries
        return {str(e["ExternalId"]).lower(): e for e in entries}

    # ---- changing the dealer's stock at the source ----
    def change(self, vehicle_id: str, **change: Any) -> None:
        self.sandbox.change("autotrader", vehicle_id.split(":", 1)[1], deliver=False, **change)

    # ---- our store ----
    def vehicles(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(vehicles).where(vehicles.c.dealer_id == self.dealer_id)).mappings()
            return {r["vehicle_id"]: dict(r) for r in rows}

    def clean_vehicles(self) -> list[str]:
        """Listed vehicles without blocking quality findings (their catalogue spec is what decides)."""
        with self.engine.connect() as conn:
            blocked = blocked_vehicles(conn, self.dealer_id)
        return sorted(v for v, row in self.vehicles().items()
                      if row["availability"] in ("available", "reserved") and v not in blocked)

    def publications(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(publications).where(publications.c.dealer_id == self.dealer_id,
                                                              publications.c.target == "autocosmos")).mappings()
            return {r["vehicle_id"]: dict(r) for r in rows}

    def active(self) -> list[str]:
        return sorted(v for v, p in self.publications().items() if p["state"] == "active")


def _harness(store: sa.Engine, sandbox: SandboxHandle, dealer: dict[str, Any],
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    with sandbox_run_environment(sandbox, monkeypatch, max_wait_seconds=30) as instance:
        harness = Harness(sandbox, store, instance, dealer)
        harness.sync()
        harness.mark()
        yield harness


@pytest.fixture
def ac(store: sa.Engine, ac_sandbox: SandboxHandle, uk_dealers: list[dict[str, Any]],
       monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """A fresh store holding one unused UK dealer's synced stock, and a fresh Dagster instance."""
    yield from _harness(store, ac_sandbox, uk_dealers.pop(0), monkeypatch)


def _by_path(calls: list[dict[str, Any]]) -> Counter:
    return Counter((c["method"], c["path"]) for c in calls)


def _publication_path(harness: Harness, vehicle_id: str) -> str:
    return f"/v3/publicaciones/{harness.adminmail}/{external_id_for(vehicle_id)}"


# ---- AC-SIGN -------------------------------------------------------------------------------------------
def test_ac_sign_1_every_request_signed_and_a_post_never_repeated_within_the_second(ac: Harness) -> None:
    """A 502 on the first POST; the retry backoff is configured tiny, yet the repeated POST goes out at
    least a second later, re-signed, and is accepted (a same-second repeat would be a 401 replay)."""
    ac.sandbox.fault(vendor="autocosmos", method="POST", path="/v3/publicaciones", status=502, times=1)
    report = ac.round(backoff_base_seconds=0.01)
    calls = ac.calls()
    assert calls and all(c["status"] != 401 for c in calls), "every request carried a valid signature"
    posts = ac.calls("POST")
    failed = [c for c in posts if c["status"] == 502]
    assert len(failed) == 1
    retried = [c for c in posts if c["path"] == failed[0]["path"] and c["seq"] > failed[0]["seq"]]
    assert retried, "the failed POST was repeated"
    first_post = next(c for c in retried)
    assert first_post["status"] == 201
    assert _seconds(first_post["ts"]) - _seconds(failed[0]["ts"]) >= 1.0
    assert report["sent"]["post"] == len(ac.active())


def _seconds(ts: Any) -> float:
    return float(ts)


# ---- AC-MATCH -------------------------------------------------------------------------------------------
def test_ac_match_1_one_bestmatch_per_distinct_spec_cached_never_on_a_schedule(ac: Harness) -> None:
    first = ac.catalogue()
    with ac.engine.connect() as conn:
        specs = dict(conn.execute(sa.select(vehicle_specs.c.vehicle_id, vehicle_specs.c.spec_key)).all())
        cached = conn.execute(sa.select(sa.func.count()).select_from(catalog_table)).scalar_one()
    asked = ac.calls("GET", "/v3/versiones/bestmatch")
    assert len(asked) == first["new_specs"] == len(set(specs.values())) == cached > 0
    assert len({json.dumps(c.get("query"), sort_keys=True) for c in asked}) == len(asked), "no spec asked twice"

    ac.mark()
    again = ac.round()
    assert ac.calls("GET", "/v3/versiones/bestmatch") == [], "cached answers are not asked again"
    assert again["catalogue"]["cache_hits"] >= 1 and again["catalogue"]["new_specs"] == 0
    ac.mark()
    ac.round()
    assert ac.calls("GET", "/v3/versiones/bestmatch") == []

    # an operator sends one spec back: it is asked exactly once more
    key = sorted(set(specs.values()))[0]
    result = CliRunner().invoke(cli, ["catalogue", "review", "retry", key, "--note", "data corrected"])
    assert result.exit_code == 0, result.output
    ac.mark()
    ac.catalogue()
    assert len(ac.calls("GET", "/v3/versiones/bestmatch")) == 1
    ac.mark()
    ac.catalogue()
    assert ac.calls("GET", "/v3/versiones/bestmatch") == []


def test_ac_match_2_at_most_two_requests_to_publish_a_vehicle(ac: Harness) -> None:
    report = ac.round()
    published = ac.active()
    assert published, "some vehicles were published"
    per_path = _by_path(ac.calls())
    creates = per_path[("POST", f"/v3/publicaciones/{ac.adminmail}")]
    bestmatch = per_path[("GET", "/v3/versiones/bestmatch")]
    per_vehicle = [k for k in per_path if k[1].startswith(f"/v3/publicaciones/{ac.adminmail}/")]
    assert per_vehicle == [], "no request on a single publication: one POST each, nothing else"
    assert creates == len(published) == report["sent"]["post"]
    with ac.engine.connect() as conn:
        specs = dict(conn.execute(sa.select(vehicle_specs.c.vehicle_id, vehicle_specs.c.spec_key)).all())
    assert bestmatch == len(set(specs.values())) <= len(specs), "at most one best match per vehicle (per spec)"
    assert {specs[v] for v in published} <= set(specs.values())
    # so each published vehicle cost at most its best match and its POST
    assert bestmatch + creates <= 2 * len(specs)


def test_ac_match_3_unmatched_vehicles_are_ranked_or_reviewed_never_published_blindly(ac: Harness) -> None:
    """Catalogue fixtures: the Focus ST and the 208 exist only under LatAm names (Match null, Candidates
    present); the Leaf's model is not in the catalogue (no candidates). The Focus's top candidate agrees on
    everything but power (-30 cv) and is accepted as ranked; the 208's (-20 cv of 100) falls below the
    threshold; both unresolved ones wait in the review queue until an operator resolves them."""
    fates = ac.sandbox.control("GET", "/autocosmos/catalogue/fates")
    leaf = next(k.split(":", 1)[1] for k, v in fates.items() if k.startswith("uk:") and v == "absent_model")
    assert fates[f"uk:{FOCUS_ST_CANDIDATES_ONLY}"] == fates[f"uk:{PEUGEOT_208_CANDIDATES_ONLY}"] == "candidates"
    focus, peugeot, modelless = ac.clean_vehicles()[:3]
    for vehicle_id, derivative in ((focus, FOCUS_ST_CANDIDATES_ONLY), (peugeot, PEUGEOT_208_CANDIDATES_ONLY),
                                   (modelless, leaf)):
        ac.change(vehicle_id, derivative_id=derivative, set={"vehicle.yearOfManufacture": 2021},
                  reservation=None, advertiser_advert="PUBLISHED")
    ac.sync()
    ac.mark()
    report = ac.round()

    with ac.engine.connect() as conn:
        spec_of = dict(conn.execute(sa.select(vehicle_specs.c.vehicle_id, vehicle_specs.c.spec_key)).all())
        rows = {r["spec_key"]: dict(r) for r in conn.execute(sa.select(catalog_table)).mappings()}
        queue = {r["spec_key"]: r for r in review_queue(conn)}
    ranked, low, absent = (rows[spec_of[v]] for v in (focus, peugeot, modelless))
    assert ranked["response"]["Match"] is None and low["response"]["Match"] is None
    assert (ranked["status"], low["status"], absent["status"]) == ("ranked", "unresolved", "unresolved")
    # ranked: the top candidate, its confidence and the whole ranking are kept, and it is what gets published
    assert float(ranked["confidence"]) >= 0.8 and ranked["version_href"] == ranked["candidates"][0]["href"]
    assert ranked["candidates"][0]["agreement"]["power"] < 1.0 <= ranked["candidates"][0]["agreement"]["fuel"]
    remote = ac.remote()
    assert remote[external_id_for(focus).lower()]["Version"] == ranked["version_href"]
    # unresolved: ranked candidates kept for the reviewer, in the queue, never published
    assert low["candidates"] and float(low["confidence"]) < 0.8 and low["version_href"] is None
    assert absent["candidates"] is None and absent["model_href"] is None
    assert {spec_of[peugeot], spec_of[modelless]} <= set(queue) and spec_of[focus] not in queue
    assert queue[spec_of[modelless]]["vehicles"] == 1
    for vehicle_id in (peugeot, modelless):
        assert external_id_for(vehicle_id).lower() not in remote
        assert ac.calls(contains=external_id_for(vehicle_id)) == []
        row = ac.publications()[vehicle_id]
        assert row["state"] == "error" and "review queue" in row["last_error"]
    assert report["review_queue_size"] == len(queue)

    # the operator resolves the 208 with its top candidate; the next run publishes it, with no new best match
    listed = CliRunner().invoke(cli, ["catalogue", "review", "list"])
    assert spec_of[peugeot] in listed.output and low["candidates"][0]["href"] in listed.output
    chosen = low["candidates"][0]["href"]
    result = CliRunner().invoke(cli, ["catalogue", "review", "resolve", spec_of[peugeot], "--version", chosen,
                                      "--note", "same car, LatAm name"])
    assert result.exit_code == 0, result.output
    ac.mark()
    ac.round()
    assert ac.calls("GET", "/v3/versiones/bestmatch") == [], "a resolved spec is not asked again"
    assert [(c["method"], c["status"]) for c in ac.ops()] == [("POST", 201)]
    assert ac.remote()[external_id_for(peugeot).lower()]["Version"] == chosen
    with ac.engine.connect() as conn:
        assert spec_of[peugeot] not in {r["spec_key"] for r in review_queue(conn)}


# ---- AC-PUB ---------------------------------------------------------------------------------------------
def test_ac_pub_1_create_with_post_and_the_external_id_never_changes(ac: Harness) -> None:
    ac.round()
    published = ac.active()
    remote = ac.remote()
    for vehicle_id in published:
        assert external_id_for(vehicle_id).lower() in remote
        assert ac.publications()[vehicle_id]["external_id"] == external_id_for(vehicle_id)
    assert {c["method"] for c in ac.calls(contains="/v3/publicaciones")} <= {"GET", "POST"}

    ac.mark()
    report = ac.round()
    assert ac.only_read_back(), "a second publish of unchanged stock sends nothing: one read of the agency's list"
    assert report["api_calls"] == 1 and report["read_back_calls"] == 1

    target = published[0]
    ac.change(target, mileage=12_345, colour="Azul Marino")
    ac.sync()
    ac.mark()
    ac.round()
    changed = ac.ops()
    assert [(c["method"], c["path"]) for c in changed] == [("PUT", _publication_path(ac, target))]
    assert ac.publications()[target]["external_id"] == external_id_for(target)
    assert remote.keys() <= ac.remote().keys()


def test_ac_pub_2_a_price_only_change_uses_patch(ac: Harness) -> None:
    ac.round()
    target = ac.active()[0]
    old_price = ac.vehicles()[target]["price_amount"]
    ac.change(target, price=int(ac.vehicles()[target]["supplied_price_amount"]) - 250)
    ac.sync()
    new_price = ac.vehicles()[target]["price_amount"]
    assert new_price == old_price - 250
    ac.mark()
    report = ac.round()
    changed = ac.ops()
    assert [(c["method"], c["path"], c["status"]) for c in changed] == [("PATCH", _publication_path(ac, target), 200)]
    assert report["sent"] == {"patch": 1}
    remote = ac.remote()[external_id_for(target).lower()]
    assert remote["Precio"] == {"Moneda": "GBP", "Monto": int(new_price)} and remote["Estado"] == "Activa"
    assert ac.publications()[target]["last_op"] == "price"


def test_ac_pub_3_reserved_or_hidden_vehicles_are_suspended_and_reactivated(ac: Harness) -> None:
    ac.round()
    reserved, hidden = ac.active()[:2]
    ac.change(reserved, reservation="Reserved")
    ac.change(hidden, advertiser_advert="NOT_PUBLISHED")
    ac.sync()
    ac.mark()
    ac.round()
    assert _by_path(ac.ops()) == Counter(
        {("PUT", _publication_path(ac, reserved)): 1, ("PUT", _publication_path(ac, hidden)): 1})
    remote = ac.remote()
    for vehicle_id in (reserved, hidden):
        assert remote[external_id_for(vehicle_id).lower()]["Estado"] == "Suspendida"
        assert remote[external_id_for(vehicle_id).lower()]["Activa"] is False
        assert ac.publications()[vehicle_id]["state"] == "suspended"
    assert "reserved" in ac.publications()[reserved]["flags"]["reasons"]

    ac.change(reserved, reservation=None)
    ac.change(hidden, advertiser_advert="PUBLISHED")
    ac.sync()
    ac.mark()
    ac.round()
    assert _by_path(ac.ops()) == Counter(
        {("PUT", _publication_path(ac, reserved)): 1, ("PUT", _publication_path(ac, hidden)): 1})
    remote = ac.remote()
    assert all(remote[external_id_for(v).lower()]["Estado"] == "Activa" for v in (reserved, hidden))
    assert {ac.publications()[v]["last_op"] for v in (reserved, hidden)} == {"reactivate"}


def test_ac_pub_4_sold_vehicles_archived_once_and_the_external_id_never_reused(ac: Harness) -> None:
    ac.round()
    sold = ac.active()[0]
    ac.change(sold, lifecycle="SOLD")
    ac.sync()
    ac.mark()
    ac.round()
    assert [(c["method"], c["path"], c["status"]) for c in ac.ops()] == [
        ("DELETE", _publication_path(ac, sold), 204)]
    assert ac.remote()[external_id_for(sold).lower()]["Estado"] == "Archivada"
    assert ac.publications()[sold]["state"] == "archived"

    ac.mark()
    ac.round()
    assert ac.only_read_back(), "archived once: the next run sends nothing"

    # back on sale: the archived ExternalId is never used again, and no new one is invented
    ac.change(sold, lifecycle="FORECOURT")
    ac.sync()
    ac.mark()
    ac.round()
    assert ac.calls("POST") == [] and ac.calls(contains=external_id_for(sold)) == []
    held = ac.publications()[sold]
    assert held["state"] == "archived" and "cannot be used again" in held["last_error"]


def test_ac_pub_5_a_409_on_create_is_read_back_and_replaced(ac: Harness) -> None:
    ac.round()
    lost = ac.active()[0]
    # the POST succeeded but its outcome never reached our store (a crash): our row is gone
    with transaction(ac.engine) as conn:
        conn.execute(sa.delete(publications).where(publications.c.vehicle_id == lost))
    ac.change(lost, mileage=23_456)
    ac.sync()
    ac.mark()
    report = ac.round()
    path = _publication_path(ac, lost)
    sequence = [(c["method"], c["path"], c["status"]) for c in ac.calls(contains="/v3/publicaciones")
                if c["method"] != "GET" or c["path"] == path]
    assert sequence == [("POST", f"/v3/publicaciones/{ac.adminmail}", 409), ("GET", path, 200),
                        ("PUT", path, 200)]
    assert report["reconciled_409"] == 1
    row = ac.publications()[lost]
    assert row["external_id"] == external_id_for(lost) and row["state"] == "active" and row["last_op"] == "reconcile"
    assert ac.remote()[external_id_for(lost).lower()]["Kilometraje"] == ac.vehicles()[lost]["mileage_km"]
    ac.mark()
    ac.round()
    assert ac.only_read_back()


def test_ac_pub_6_a_put_never_sends_an_empty_photo_list(ac: Harness) -> None:
    candidates = [v for v, row in ac.vehicles().items() if row["availability"] == "available"]
    fresh = candidates[-1]
    ac.change(fresh, reservation="Reserved")  # held back from the first run: never created
    ac.sync()
    ac.round()
    assert ac.publications()[fresh]["state"] == "error"
    shrunk = next(v for v in ac.active() if v != fresh)
    ac.change(shrunk, images=["tiny-a-320x240", "tiny-b-400x300"])
    ac.change(fresh, reservation=None, images=["tiny-c-320x240"])
    ac.sync()
    ac.mark()
    ac.round()
    assert ac.calls("PUT") == [], "no PUT: it would carry an empty photo list"
    assert [(c["method"], c["path"]) for c in ac.calls(contains=external_id_for(shrunk))] == [
        ("PATCH", _publication_path(ac, shrunk))]
    remote = ac.remote()[external_id_for(shrunk).lower()]
    assert remote["Estado"] == "Suspendida" and remote["Fotos"], "suspended, earlier photos untouched"
    row = ac.publications()[shrunk]
    assert row["state"] == "suspended" and "no valid photo" in row["flags"]["reasons"]
    # a vehicle without a usable photo is not created (not even with an empty list)
    assert ac.calls("POST") == [] and ac.calls(contains=external_id_for(fresh)) == []
    held = ac.publications()[fresh]
    assert held["state"] == "error" and "no valid photo" in held["last_error"]


def test_ac_photo_1_photos_checked_before_sending_and_bad_ones_flagged(ac: Harness) -> None:
    ac.round()
    target = ac.active()[0]
    base = ac.sandbox.base_url
    photos = [f"{base}/media/good-a-1024x768.jpg", f"{base}/media/small-320x240.jpg",
              f"{base}/media/missing-photo.jpg", f"{base}/media/good-b-800x600.webp",
              f"{base}/_sandbox/health", f"{base}/media/good-c-1280x960.png"]
    ac.change(target, images=photos)
    ac.sync()
    ac.mark()
    report = ac.round()
    sent = ac.remote()[external_id_for(target).lower()]
    assert sent["Fotos"] == [photos[0], photos[3], photos[5]], "only usable photos, in their order"
    assert sent["Estado"] == "Activa"
    dropped = {d["url"]: d["reason"] for d in ac.publications()[target]["flags"]["dropped_photos"]}
    assert set(dropped) == {photos[1], photos[2], photos[4]}
    assert "smaller than 640x360" in dropped[photos[1]] and "404" in dropped[photos[2]]
    assert "not an image" in dropped[photos[4]]
    assert report["flagged_photos"] >= 3
    assert [(c["method"], c["path"]) for c in ac.ops()] == [("PUT", _publication_path(ac, target))]
    with ac.engine.connect() as conn:
        checks = {r["url"]: r for r in conn.execute(sa.select(photo_checks)).mappings()}
    assert (checks[photos[3]]["image_format"], checks[photos[3]]["width"]) == ("WEBP", 800)
    assert checks[photos[1]]["ok"] is False and checks[photos[1]]["height"] == 240
    outcomes = ac.sandbox.control("GET", "/autocosmos/photos")
    outcomes = outcomes.get("_entries", outcomes) if isinstance(outcomes, dict) else outcomes
    mine = [o for o in outcomes if o["external_id"].lower() == external_id_for(target).lower()]
    assert mine and all(o["kept"] for o in mine), "Autocosmos kept every photo we sent"

    again = ac.round()
    assert again["photos_fetched"] == 0 and again["photo_cache_hits"] > 0, "checks are cached per URL"


def test_ac_state_1_publications_the_vendor_suspended_are_detected_and_reported(ac: Harness) -> None:
    ac.round()
    victim = ac.active()[0]
    external = external_id_for(victim)
    ac.sandbox.control("POST", f"/autocosmos/publicaciones/{ac.adminmail}/{external}/moderation",
                       {"suspended": True})
    report = ac.publish(audit=True)
    assert report["suspended_by_vendor"] == 1 and report["suspended_by_vendor_ids"] == [external]
    row = ac.publications()[victim]
    assert row["state"] == "suspended" and "suspended by Autocosmos" in row["last_error"]
    assert row["flags"]["vendor_suspended"]["estado"] == "Suspendida"
    # not fought with the same payload on the next run; lifted when the vendor lifts it
    ac.mark()
    ac.round()
    assert ac.only_read_back()
    ac.sandbox.control("POST", f"/autocosmos/publicaciones/{ac.adminmail}/{external}/moderation",
                       {"suspended": False})
    ac.publish(audit=True)
    assert ac.publications()[victim]["state"] == "active"
    assert "vendor_suspended" not in ac.publications()[victim]["flags"]

    # left with no valid photo: our checks passed (cached), but Autocosmos' own downloads fail; the
    # read-back after sending photos catches the suspension in the same run
    other = next(v for v in ac.active() if v != victim)
    ac.change(other, mileage=4_321)
    ac.sync()
    ac.sandbox.fault(vendor="media", path="/w800/", status=404, times=None)
    ac.mark()
    report = ac.round(readback_delay_seconds=1.5)
    ac.sandbox.clear_faults()
    assert [(c["method"], c["path"]) for c in ac.ops()] == [("PUT", _publication_path(ac, other))]
    assert report["suspended_by_vendor_ids"] == [external_id_for(other)] and report["photos_fetched"] == 0
    row = ac.publications()[other]
    assert row["state"] == "suspended" and row["flags"]["vendor_suspended"]["photos_kept"] == 0


def _vendor_action(harness: Harness, vehicle_id: str, action: str) -> None:
    harness.sandbox.control("POST", f"/autocosmos/publicaciones/{harness.adminmail}/{external_id_for(vehicle_id)}"
                                    "/vendor-action", {"action": action})


def test_ac_state_1_vendor_suspension_archive_and_deletion_found_by_the_next_run_and_healed(ac: Harness) -> None:
    """Autocosmos acts on its own between two runs: every photo of one publication lost (suspended), one
    archived, one deleted. The next run, with nothing to send, reads the agency's list once (after its
    writes: none), records each change with its reason, lifts the photo suspension with a PUT of the
    accepted payload (valid photos) and creates the deleted one again under the same ExternalId; the
    archived one is final and left alone. The run after sends nothing (no heal is sent twice)."""
    ac.round()
    lost, archived, deleted = ac.active()[:3]
    for vehicle_id, action in ((lost, "photo_loss"), (archived, "archive"), (deleted, "delete")):
        _vendor_action(ac, vehicle_id, action)
    assert external_id_for(deleted).lower() not in ac.remote()
    ac.mark()
    report = ac.publish()

    listing = ("GET", f"/v3/publicaciones/{ac.adminmail}".lower())
    calls = [(c["method"], c["path"].lower(), c["status"]) for c in ac.calls()]
    assert calls[0][:2] == listing and calls[0][2] == 200, "the read comes first: nothing was written before it"
    assert sorted(calls[1:]) == sorted([("PUT", _publication_path(ac, lost).lower(), 200),
                                        ("POST", f"/v3/publicaciones/{ac.adminmail}".lower(), 201)])
    assert report["suspended_by_vendor_ids"] == [external_id_for(lost)]
    assert report["archived_by_vendor_ids"] == [external_id_for(archived)]
    assert report["deleted_by_vendor_ids"] == [external_id_for(deleted)]
    assert sorted(report["healed_ids"]) == sorted([external_id_for(lost), external_id_for(deleted)])

    rows = ac.publications()
    assert (rows[lost]["state"], rows[lost]["last_op"]) == ("active", "heal")
    assert (rows[deleted]["state"], rows[deleted]["last_op"]) == ("active", "recreate")
    assert rows[deleted]["external_id"] == external_id_for(deleted)
    assert rows[archived]["state"] == "archived" and "archived by Autocosmos" in rows[archived]["last_error"]
    remote = ac.remote()
    assert remote[external_id_for(lost).lower()]["Estado"] == "Activa", "the PUT brought valid photos back"
    assert remote[external_id_for(deleted).lower()]["Estado"] == "Activa"
    assert remote[external_id_for(archived).lower()]["Estado"] == "Archivada"

    with ac.engine.connect() as conn:
        seen = {r["vehicle_id"]: dict(r) for r in conn.execute(sa.text(
            "SELECT * FROM v_vendor_state_changes WHERE dealer_id = :d"), {"d": ac.dealer_id}).mappings()}
    assert {v: (r["change"], r["healed"], r["state_now"]) for v, r in seen.items()} == {
        lost: ("suspended", 1, "active"), archived: ("archived", 0, "archived"), deleted: ("deleted", 1, "active")}
    assert "no valid photo kept" in seen[lost]["reason"] and seen[lost]["vendor_state"] == "Suspendida"
    assert seen[deleted]["vendor_state"] is None and "gone from the agency's list" in seen[deleted]["reason"]
    assert seen[lost]["healing"].startswith("sent PUT") and seen[deleted]["healing"].startswith("sent POST")
    assert "archiving is final" in seen[archived]["healing"]

    ac.mark()
    again = ac.publish()
    assert ac.only_read_back() and again["healed_ids"] == [], "healed ones are active again; nothing resent"


def test_ac_state_1_a_heal_is_sent_once_per_payload(ac: Harness) -> None:
    """Photos lost again after the healing PUT: recorded again, but the same payload is not sent a second
    time (it would loop on a schedule); new photos (a changed payload) are sent as a reactivation."""
    ac.round()
    victim = ac.active()[0]
    _vendor_action(ac, victim, "photo_loss")
    ac.publish()
    assert ac.publications()[victim]["last_op"] == "heal"
    ac.sandbox.settle()
    _vendor_action(ac, victim, "photo_loss")
    ac.mark()
    report = ac.publish()
    assert ac.only_read_back() and report["suspended_by_vendor_ids"] == [external_id_for(victim)]
    row = ac.publications()[victim]
    assert row["state"] == "suspended" and row["flags"]["vendor_suspended"]["photos_kept"] == 0
    with ac.engine.connect() as conn:
        healing = conn.execute(sa.text("SELECT healing FROM vendor_state_changes WHERE vehicle_id = :v ORDER BY id"),
                               {"v": victim}).scalars().all()
    assert healing[0].startswith("sent PUT") and healing[1].startswith("none:")
    base = ac.sandbox.base_url
    ac.change(victim, images=[f"{base}/media/fresh-a-1024x768.jpg"])
    ac.sync()
    ac.mark()
    ac.round()
    assert [(c["method"], c["path"]) for c in ac.ops()] == [("PUT", _publication_path(ac, victim))]
    assert ac.publications()[victim]["state"] == "active"


def test_ac_state_1_the_daily_audit_finds_content_changed_on_the_vendors_side_and_resends_it(ac: Harness) -> None:
    """An edit made outside the API (the agency's dashboard): a normal run compares states only and sends
    nothing; the audit compares content too, records the drift and PUTs the accepted payload once."""
    ac.round()
    edited = ac.active()[0]
    ours = ac.remote()[external_id_for(edited).lower()]["Kilometraje"]
    ac.sandbox.control("POST", f"/autocosmos/publicaciones/{ac.adminmail}/{external_id_for(edited)}/vendor-action",
                       {"action": "edit", "fields": {"Kilometraje": ours + 1000}})
    ac.mark()
    ac.publish()
    assert ac.only_read_back(), "states alone show nothing wrong"
    report = ac.publish(audit=True)
    assert report["drifted_by_vendor_ids"] == [external_id_for(edited)]
    assert [(c["method"], c["path"]) for c in ac.ops()] == [("PUT", _publication_path(ac, edited))]
    assert ac.remote()[external_id_for(edited).lower()]["Kilometraje"] == ours
    with ac.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT change, reason, healing FROM vendor_state_changes WHERE vehicle_id = :v"),
                           {"v": edited}).mappings().one()
    assert row["change"] == "drifted" and "Kilometraje" in row["reason"] and row["healing"].startswith("sent PUT")
    assert ac.publications()[edited]["state"] == "active"
    ac.mark()
    ac.publish(audit=True)
    assert ac.only_read_back(), "nothing differs any more"


# ---- failures a person must handle ------------------------------------------------------------------------
def test_unlinked_agency_is_blocked_after_one_403(store: sa.Engine, ac_sandbox: SandboxHandle,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    dealer = _unlinked_dealer(ac_sandbox)
    for harness in _harness(store, ac_sandbox, dealer, monkeypatch):
        report = harness.round()
        calls = harness.calls(contains="/v3/publicaciones")
        assert [(c["method"], c["status"]) for c in calls] == [("GET", 403)]
        assert "Autocosmos refuses access" in report["blocked"]
        assert harness.calls("GET", "/v3/versiones/bestmatch") == [], "no catalogue work for a blocked dealer"
        harness.mark()
        harness.round()
        assert harness.calls() == [], "a blocked dealer gets no further calls"


def test_a_refused_payload_is_flagged_and_not_resent(ac: Harness) -> None:
    ac.sandbox.fault(vendor="autocosmos", method="POST", path="/v3/publicaciones", status=400, times=1,
                     body={"Type": "https://httpstatuses.com/400", "Title": "Validación de información esperada "
                           "fallida", "Status": 400, "Errors": {"Color": ["El color no es válido."]}})
    report = ac.round()
    assert report["failed"] == {"create": 1}
    refused = [p for p in ac.publications().values() if p["last_status"] == 400]
    assert len(refused) == 1 and "Color: El color no es válido." in refused[0]["last_error"]
    ac.mark()
    ac.round()
    assert ac.only_read_back(), "the same refused payload is not sent again on a schedule"
    ac.change(refused[0]["vehicle_id"], colour="Rojo")
    ac.sync()
    ac.mark()
    ac.round()
    assert [c["status"] for c in ac.calls("POST")] == [201], "changed data is sent again"


def test_catalogue_resolution_waits_while_our_signature_is_refused(ac: Harness) -> None:
    """A wrong AppSecret: the catalogue asset fails clearly (not retried), caches nothing, leaks nothing."""
    ac.sandbox.fault(vendor="autocosmos", path="/v3/versiones/bestmatch", status=401, times=2)
    result = dg.materialize([catalog_matches], instance=ac.instance, resources=ac.resources(),
                            raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    assert "refused our signature" in failure.message and "sandbox-ac-app-secret" not in failure.message
    with ac.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(catalog_table)).scalar_one() == 0
    assert [c["status"] for c in ac.calls("GET", "/v3/versiones/bestmatch")] == [401, 401], \
        "one retry, re-signed, then a clear failure"
    ac.mark()
    assert ac.catalogue()["new_specs"] > 0, "the next run asks again: nothing was cached"

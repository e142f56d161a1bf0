"""WM-STATUS-1: each Webmotors vehicle's publication status on our channels is reported back
(Publicado with our URL, Erro with the reason), through the real `publishing/webmotors_status`
asset after the real `publishing/autochat` asset, judged from the sandbox's call log, its
status-report listing and our store."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from dealer_pipeline.defs.publishing import webmotors as wm_publishing
from dealer_pipeline.defs.sources.webmotors import WebmotorsResource
from dealer_pipeline.publishing.webmotors_status import check_url_template, report_for
from tests.publishing.channels_fixtures import Channels
from tests.support.runs import metadata_of

TEMPLATE = "https://classificados.test/anuncio/{external_id}?loja={dealer_id}"
STATUS_PATH = "/marketplace/v1/anuncios/"


def _report(channels: Channels, dealer_id: str, **classified: object):
    return channels.materialize([wm_publishing.webmotors_status], dealer_id, {
        "webmotors": WebmotorsResource(),
        "classified": wm_publishing.ClassifiedResource(**{"url_template": TEMPLATE, **classified}),
    })


def _status_calls(channels: Channels) -> list[dict]:
    return [c for c in channels.calls("webmotors", STATUS_PATH) if c["method"] == "PUT"]


def _reports(channels: Channels, ad_id: str) -> list[dict]:
    return channels.sandbox.control("GET", "/webmotors/status-reports", params={"id": ad_id})


def test_wm_status_1_status_reported_back_once_per_change(channels: Channels) -> None:
    """WM-STATUS-1: after publishing, every listed Webmotors vehicle gets Publicado (our URL) or Erro
    (a non-empty reason: the vendor's field errors, a quality finding); a run with nothing changed
    reports nothing; a vehicle that stops being shown is reported Erro once, with why."""
    entry = channels.dealer(source="webmotors", autochat=True, autocosmos=False)
    channels.sync(entry)
    channels.sandbox.fault(vendor="autochat", method="POST", path="/api/cars", status=400, times=1,
                           body={"errors": {"images": ["required"]}})
    assert channels.publish_autochat(entry.dealer_id).success
    pubs = channels.publications("autochat", entry.dealer_id)
    active = {p["vehicle_id"] for p in pubs.values() if p["state"] == "active"}
    refused = {p["vehicle_id"] for p in pubs.values() if p["last_status"] == 400}
    held = {p["vehicle_id"] for p in pubs.values() if p["last_op"] == "hold"}
    assert active and len(refused) == 1
    channels.mark()

    result = _report(channels, entry.dealer_id)
    assert result.success
    calls = _status_calls(channels)
    assert all(c["status"] == 204 for c in calls)
    reported = Counter(c["path"].removeprefix(STATUS_PATH).removesuffix("/status") for c in calls)
    listed = _listed(channels, entry.dealer_id)
    expected = {v.split(":")[1] for v in active | refused | (held & listed)}
    assert set(reported) == expected and set(reported.values()) == {1}
    for vehicle_id in active:
        ad = vehicle_id.split(":")[1]
        last = _reports(channels, ad)[-1]
        assert last["status"] == "Publicado" and last["mensagem"] is None
        assert last["url"] == TEMPLATE.format(external_id=pubs[vehicle_id]["external_id"], dealer_id=entry.dealer_id)
    erro = _reports(channels, next(iter(refused)).split(":")[1])[-1]
    assert erro["status"] == "Erro" and erro["url"] is None and "images: required" in erro["mensagem"]
    for vehicle_id in held & listed:
        last = _reports(channels, vehicle_id.split(":")[1])[-1]
        assert last["status"] == "Erro" and "quality" in last["mensagem"]
    assert metadata_of(result, wm_publishing.STATUS_KEY)["reports_sent"] == {
        "Publicado": len(active), "Erro": len(expected) - len(active)}
    stored = channels.publications("webmotors_status", entry.dealer_id)
    assert {p["external_id"] for p in stored.values()} == expected

    channels.mark()
    assert _report(channels, entry.dealer_id).success
    assert _status_calls(channels) == []  # nothing changed, nothing reported

    # One published vehicle loses its photos: the quality gate takes it off Autochat, Webmotors hears Erro once.
    gone = sorted(active)[0]
    channels.sandbox.control("POST", f"/webmotors/stock/{gone.split(':')[1]}/change", {"photos": []})
    channels.sync(entry)
    assert channels.publish_autochat(entry.dealer_id).success
    channels.mark()
    assert _report(channels, entry.dealer_id).success
    calls = _status_calls(channels)
    assert [c["path"] for c in calls] == [f"{STATUS_PATH}{gone.split(':')[1]}/status"]
    last = _reports(channels, gone.split(":")[1])[-1]
    assert last["status"] == "Erro" and "quality" in last["mensagem"]
    channels.mark()
    assert channels.publish_autochat(entry.dealer_id).success
    assert _report(channels, entry.dealer_id).success
    assert _status_calls(channels) == []


def _listed(channels: Channels, dealer_id: str) -> set[str]:
    with channels.engine.connect() as conn:
        return set(conn.execute(sa.text(
            "SELECT vehicle_id FROM vehicles WHERE dealer_id = :d AND availability = 'available' "
            "AND (shown_on_dealer_site IS NULL OR shown_on_dealer_site)"), {"d": dealer_id}).scalars())


def test_wm_status_1_a_refused_report_is_not_repeated_until_it_changes(channels: Channels) -> None:
    """WM-STATUS-1: a report Webmotors refuses (422) is stored with the reason and not re-sent as is."""
    entry = channels.dealer(source="webmotors", autochat=True, autocosmos=False)
    channels.sync(entry)
    assert channels.publish_autochat(entry.dealer_id).success
    channels.sandbox.fault(vendor="webmotors", method="PUT", path=STATUS_PATH, status=422, times=1)
    channels.mark()
    result = _report(channels, entry.dealer_id)
    assert result.success
    assert metadata_of(result, wm_publishing.STATUS_KEY)["refused"] == 1
    stored = channels.publications("webmotors_status", entry.dealer_id)
    refused = [p for p in stored.values() if p["last_status"] == 422]
    assert len(refused) == 1 and refused[0]["last_error"] and refused[0]["payload_hash"] is None
    channels.mark()
    assert _report(channels, entry.dealer_id).success
    assert _status_calls(channels) == []


def test_report_rules_and_url_template() -> None:
    """The report a vehicle gets from its channels' rows; templates name only known placeholders."""
    vehicle = {"vehicle_id": "webmotors:51234567", "source_vehicle_id": "51234567", "dealer_id": "webmotors:1",
               "availability": "available", "shown_on_dealer_site": None}
    row = {"target": "autochat", "external_id": "wm-51234567", "state": "active", "last_error": None, "flags": {}}
    assert report_for(vehicle, [row], TEMPLATE).body() == {
        "status": "Publicado", "url": "https://classificados.test/anuncio/wm-51234567?loja=webmotors:1",
        "mensagem": None}
    failed = {**row, "state": "error", "last_error": "400 images: required"}
    assert report_for(vehicle, [failed], TEMPLATE).body()["mensagem"] == "autochat: 400 images: required"
    assert report_for({**vehicle, "availability": "reserved"}, [failed], TEMPLATE) is None
    assert report_for(vehicle, [{**row, "state": "error"}], TEMPLATE) is None  # no reason: nothing to say yet
    assert report_for(vehicle, [], TEMPLATE) is None
    with pytest.raises(ValueError, match="unknown placeholders"):
        check_url_template("https://x.test/{stock}")

"""WM-LEAD-2: leads raised on our channels (Autocosmos enquiries) are stored and inserted into the
dealer's Cockpit CRM once each, through the real `publishing/leads` asset; the enquiries are about
publications made by the real `catalogue/catalog_matches` and `publishing/autocosmos` assets.
Judged from the sandbox's call log, its CRM listing and our store.

The module's sandbox is shared by both backends, so every enquiry a test creates carries a
marker of its own in `Mensaje`, and CRM insertions are counted per marker.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Callable

import dagster as dg
import sqlalchemy as sa

from dealer_pipeline.dealers_file import DealerEntry
from dealer_pipeline.defs.catalogue.assets import catalog_matches
from dealer_pipeline.defs.publishing import autocosmos as acd
from dealer_pipeline.defs.publishing import webmotors as wm_publishing
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.defs.sources.webmotors import WebmotorsResource
from dealer_pipeline.publishing import leads as lead_flow
from dealer_pipeline.store.schema import api_calls, leads
from tests.publishing.channels_fixtures import Channels
from tests.support.runs import metadata_of

ORIGIN = "Classificado Teste"
CRM_PATH = "/crm/v1/leads"


def _publish_on_autocosmos(channels: Channels, entry: DealerEntry) -> list[dict[str, Any]]:
    channels.sync(entry)
    resources = {"autocosmos": acd.AutocosmosResource(readback_delay_seconds=0.2)}
    assert dg.materialize([catalog_matches], instance=channels.instance,
                          resources={**resources, "store": StoreResource()}).success
    assert channels.materialize([acd.autocosmos_publications], entry.dealer_id, resources).success
    active = [p for p in channels.publications("autocosmos", entry.dealer_id).values() if p["state"] == "active"]
    assert len(active) >= 2
    return sorted(active, key=lambda p: p["vehicle_id"])


def _enquire(channels: Channels, entry: DealerEntry, publication: dict[str, Any], **fields: Any) -> str:
    marker = f"enquiry {uuid.uuid4().hex[:12]}"
    channels.sandbox.control("POST", "/autocosmos/consultas", {
        "adminmail": entry.autocosmos_adminmail, "external_id": publication["external_id"], "mensaje": marker,
        "nombre": "Juan Pérez", "email": "juan@example.com", "telefono": "+54 9 221 555 0101", **fields})
    return marker


def _leads(channels: Channels, entry: DealerEntry, **config: Any):
    return channels.materialize([wm_publishing.publishing_leads], entry.dealer_id, {
        "autocosmos": acd.AutocosmosResource(readback_delay_seconds=0.2),
        "webmotors": WebmotorsResource(origin=ORIGIN, **config),
    })


def _crm_by_marker(channels: Channels, markers: list[str]) -> dict[str, list[dict[str, Any]]]:
    crm = channels.sandbox.control("GET", "/webmotors/crm-leads")
    return {m: [lead for lead in crm if lead.get("mensagem") == m] for m in markers}


def _wait_for_call(channels: Channels, path: str, wanted: Callable[[dict[str, Any]], bool],
                   timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(wanted(c) for c in channels.calls("webmotors", path)):
        assert time.monotonic() < deadline, f"the sandbox never logged the expected call to {path}"
        time.sleep(0.05)


def _stored(channels: Channels) -> dict[str, dict[str, Any]]:
    with channels.engine.connect() as conn:
        rows = conn.execute(sa.select(leads).where(leads.c.source == "autocosmos")).mappings().all()
    return {row["payload"]["Mensaje"]: dict(row) for row in rows if isinstance(row["payload"], dict)}


def test_wm_lead_2_enquiries_inserted_into_the_crm_once_each(channels: Channels) -> None:
    """WM-LEAD-2: each enquiry is stored once (raw, with its vehicle) and inserted into the dealer's
    Cockpit CRM once (origem = our classified, anuncio_id = the Webmotors ad), across runs."""
    entry = channels.dealer(source="webmotors", autocosmos=True)
    published = _publish_on_autocosmos(channels, entry)
    first = [_enquire(channels, entry, published[0]), _enquire(channels, entry, published[1])]
    channels.mark()

    result = _leads(channels, entry)
    assert result.success
    consultas = channels.calls("autocosmos", "/v3/consultas/")
    assert len(consultas) == 1 and consultas[0]["status"] == 200 and "desde" not in (consultas[0]["query"] or {})
    crm = _crm_by_marker(channels, first)
    assert all(len(found) == 1 for found in crm.values())
    stored = _stored(channels)
    for marker, publication in zip(first, published[:2], strict=True):
        inserted, row = crm[marker][0], stored[marker]
        ad_id = int(publication["vehicle_id"].split(":")[1])
        assert inserted["cnpj"] == entry.source_dealer_id and inserted["origem"] == ORIGIN
        assert inserted["anuncio_id"] == ad_id and inserted["nome"] == "Juan Pérez"
        assert inserted["email"] == "juan@example.com" and inserted["telefone"] == "+54 9 221 555 0101"
        assert row["vehicle_id"] == publication["vehicle_id"] and row["dealer_id"] == entry.dealer_id
        assert row["forward_status"] == "forwarded" and row["forwarded_at"] is not None
        assert row["detail"]["crm_id"] == inserted["id"]
        assert row["lead_key"] == f"{entry.autocosmos_adminmail.lower()}/{row['payload']['Id']}"
    posted = [c for c in channels.calls("webmotors", CRM_PATH) if c["method"] == "POST"]
    assert all(c["status"] == 201 for c in posted)
    assert metadata_of(result, wm_publishing.LEADS_KEY)["forwarded"]["forwarded"] == len(posted)

    second = _enquire(channels, entry, published[0])
    channels.mark()
    assert _leads(channels, entry).success
    consultas = channels.calls("autocosmos", "/v3/consultas/")
    assert len(consultas) == 1 and "desde" in consultas[0]["query"]
    assert [c["status"] for c in channels.calls("webmotors", CRM_PATH)] == [201]  # only the new one
    assert all(len(found) == 1 for found in _crm_by_marker(channels, [*first, second]).values())

    channels.mark()
    assert _leads(channels, entry).success
    assert channels.calls("webmotors", CRM_PATH) == []
    with channels.engine.connect() as conn:
        keys = conn.execute(sa.select(leads.c.lead_key).where(leads.c.source == "autocosmos")).scalars().all()
    assert len(keys) == len(set(keys))


def test_wm_lead_2_retried_after_429_never_after_a_timeout(channels: Channels) -> None:
    """WM-LEAD-2: a 429 (Webmotors did not act) is re-sent; a timed-out insert may have landed, so it is
    marked for an operator and never sent again."""
    entry = channels.dealer(source="webmotors", autocosmos=True)
    published = _publish_on_autocosmos(channels, entry)
    assert _leads(channels, entry).success  # whatever earlier tests left in the agency is forwarded first

    throttled = _enquire(channels, entry, published[0])
    channels.sandbox.fault(vendor="webmotors", method="POST", path=CRM_PATH, status=429, retry_after=0.2, times=1)
    channels.mark()
    assert _leads(channels, entry).success
    assert [c["status"] for c in channels.calls("webmotors", CRM_PATH)] == [429, 201]
    assert _stored(channels)[throttled]["forward_status"] == "forwarded"

    timed_out = _enquire(channels, entry, published[1])
    channels.sandbox.fault(vendor="webmotors", method="POST", path=CRM_PATH, delay_seconds=2.0, times=1)
    channels.mark()
    result = _leads(channels, entry, read_timeout_seconds=0.5)
    assert result.success
    with channels.engine.connect() as conn:
        attempts = conn.execute(sa.select(api_calls.c.status, api_calls.c.error).where(
            api_calls.c.vendor == "webmotors", api_calls.c.method == "POST", api_calls.c.path == CRM_PATH,
            api_calls.c.status.is_(None))).all()
    assert len(attempts) == 1 and "Timeout" in attempts[0].error  # one attempt, no answer, no second try
    row = _stored(channels)[timed_out]
    assert row["forward_status"] == lead_flow.NEEDS_OPERATOR and row["forwarded_at"] is None
    assert "not re-sent" in row["detail"]["error"]
    assert metadata_of(result, wm_publishing.LEADS_KEY)["forwarded"] == {lead_flow.NEEDS_OPERATOR: 1}
    # The sandbox logs the delayed call only when it gives up on it (~2 s, after our client left): wait for that
    # record, so it cannot land inside the next window of this test, or of the next test.
    _wait_for_call(channels, CRM_PATH, lambda call: "delay" in (call.get("fault") or ""))

    channels.mark()
    assert _leads(channels, entry).success
    assert channels.calls("webmotors", CRM_PATH) == []
    assert _stored(channels)[timed_out]["forward_status"] == lead_flow.NEEDS_OPERATOR
    assert len(_crm_by_marker(channels, [throttled])[throttled]) == 1

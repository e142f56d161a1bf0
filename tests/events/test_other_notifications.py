"""ADVERTISER notifications, Autocosmos agency links and Webmotors lead notices, end to end."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa

from dealer_pipeline.events import apply_events
from dealer_pipeline.settings import get_settings
from dealer_pipeline.store.schema import agency_links, leads
from dealer_pipeline.webhooks.runner import ReceiverHandle
from tests.events.helpers import dealer, deliver, deliver_autocosmos, deliver_lead, event
from tests.events.records import advertiser_notification


def _advertiser_id() -> str:
    return str(uuid.uuid4().int)[:8]


def test_at_advn_2_advertiser_notification_type_is_recognised(receiver: ReceiverHandle,
                                                               module_engine: sa.Engine) -> None:
    advertiser_id = _advertiser_id()
    event_id = deliver(receiver, advertiser_notification(advertiser_id, "2026-06-02T10:00:00.000Z"))
    summary = apply_events(module_engine, event_ids=[event_id])
    assert summary.by_type == {"autotrader:ADVERTISER": 1} and summary.applied == 1
    assert event(module_engine, event_id)["status"] == "applied"


def test_at_advn_3_advertiser_details_updated_only_by_a_later_time(receiver: ReceiverHandle,
                                                                  module_engine: sa.Engine) -> None:
    advertiser_id = _advertiser_id()
    dealer_id = f"autotrader:{advertiser_id}"
    first = deliver(receiver, advertiser_notification(advertiser_id, "2026-06-02T10:00:00.000Z"))
    apply_events(module_engine, event_ids=[first])
    assert dealer(module_engine, dealer_id)["name"] == "Example Motors Ltd"

    renamed = deliver(receiver, advertiser_notification(advertiser_id, "2026-06-02T11:30:00.000Z",
                                                        name="Example Motors Group", status="Inactive"))
    older = deliver(receiver, advertiser_notification(advertiser_id, "2026-06-02T10:30:00.000Z", name="Stale Name"))
    summary = apply_events(module_engine, event_ids=[renamed, older])
    assert (summary.applied, summary.ignored) == (1, 1)
    row = dealer(module_engine, dealer_id)
    assert (row["name"], row["status"]) == ("Example Motors Group", "inactive")
    assert row["raw"]["name"] == "Example Motors Group"
    assert row["source_updated_at"].isoformat().startswith("2026-06-02T11:30:00")
    assert event(module_engine, older)["error"].startswith("time 2026-06-02T10:30:00")


@pytest.fixture
def dealers_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    adminmail = f"ventas-{uuid.uuid4().hex[:6]}@agencia.com.ar"
    path = tmp_path / "dealers.yaml"
    path.write_text(
        "dealers:\n"
        '  - dealer_id: "autotrader:10012345"\n'
        "    publish:\n"
        f'      autocosmos: {{adminmail: "{adminmail}"}}\n'
    )
    monkeypatch.setenv("DEALER_PIPELINE_DEALERS_FILE", str(path))
    get_settings.cache_clear()
    yield adminmail
    get_settings.cache_clear()


def test_ac_hook_1_agency_acceptance_links_the_agency_to_the_dealer(receiver: ReceiverHandle,
                                                                    module_engine: sa.Engine,
                                                                    dealers_file: str) -> None:
    hook = str(uuid.uuid4())
    payload = {"AdminMail": dealers_file.upper(), "Agencia": "Agencia Ejemplo SA", "AceptadaEn": "2026-01-01T00:00:00Z"}
    event_id = deliver_autocosmos(receiver, hook, payload)
    assert deliver_autocosmos(receiver, hook, payload) is None  # redelivery: stored once
    unknown_agency = deliver_autocosmos(receiver, str(uuid.uuid4()),
                                        dict(payload, AdminMail="otra@agencia.com.ar"))
    other_topic = deliver_autocosmos(receiver, str(uuid.uuid4()), {}, topic="nuevo_topico")
    summary = apply_events(module_engine, event_ids=[event_id, unknown_agency, other_topic])
    assert (summary.applied, summary.ignored) == (2, 1)
    with module_engine.connect() as conn:
        link = conn.execute(sa.select(agency_links).where(agency_links.c.adminmail == dealers_file)).mappings().one()
        orphan = conn.execute(sa.select(agency_links)
                              .where(agency_links.c.adminmail == "otra@agencia.com.ar")).mappings().one()
    assert (link["dealer_id"], link["agency_name"]) == ("autotrader:10012345", "Agencia Ejemplo SA")
    assert link["accepted_at"].isoformat().startswith("2026-01-01T00:00:00")
    assert orphan["dealer_id"] is None
    assert "no dealer in the dealers file" in event(module_engine, unknown_agency)["error"]
    assert event(module_engine, other_topic)["error"] == "type nuevo_topico is not handled"


def test_wm_lead_1_lead_notice_stored_once_and_its_detail_wanted(receiver: ReceiverHandle,
                                                              module_engine: sa.Engine) -> None:
    lead_id = str(uuid.uuid4().int)[:7]
    notice = {"IdLead": lead_id, "CodigoCliente": "3823863", "Cnpj": "03.347.828/0001-09", "IdTipoLead": "2"}
    first = deliver_lead(receiver, notice)
    assert deliver_lead(receiver, notice) is None
    summary = apply_events(module_engine, event_ids=[first])
    assert (summary.applied, summary.lead_details_wanted) == (1, 1)
    assert summary.followups.lead_details == [("webmotors:03347828000109", lead_id, "2")]
    with module_engine.connect() as conn:
        (lead,) = conn.execute(sa.select(leads).where(leads.c.source == "webmotors",
                                                      leads.c.lead_key == lead_id)).mappings().all()
    assert lead["dealer_id"] == "webmotors:03347828000109"
    assert lead["payload"] == notice
    assert lead["detail"] is None  # fetched after the commit (test_sandbox_notifications.py)
    missing = deliver_lead(receiver, {"CodigoCliente": "1", "Cnpj": "03.347.828/0001-09"})
    assert apply_events(module_engine, event_ids=[missing]).failed == 1
    assert event(module_engine, missing)["error"] == "lead notice without IdLead"


@pytest.mark.parametrize("notice_id", ["../../advertisers", "1" * 400, "١٢٣", None])
def test_an_incomplete_advertiser_notice_without_a_valid_id_fails_and_calls_nobody(
        receiver: ReceiverHandle, module_engine: sa.Engine, notice_id: str | None) -> None:
    """Only a digit-string advertiserId is ever re-read from the vendor; anything else is kept as failed."""
    payload = {"id": notice_id, "time": "2026-06-02T10:00:00.000Z", "type": "ADVERTISER",
               "data": {"phone": "0161 000 0000"}}
    event_id = deliver(receiver, payload)
    summary = apply_events(module_engine, event_ids=[event_id])
    assert summary.failed == 1 and not summary.followups.advertisers
    assert "without a valid advertiser id" in event(module_engine, event_id)["error"]

"""Agency acceptances with hostile bodies, stored as the receiver stores them: each ends applied or failed with
its reason, none is lost or left pending, and none lifts the block of a dealer whose agency it does not name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from dealer_pipeline.events.apply import apply_events
from dealer_pipeline.events.autocosmos import AGENCY_ACCEPTED
from dealer_pipeline.http.blocks import BlockRegistry, list_blocks
from dealer_pipeline.settings import get_settings
from dealer_pipeline.store.schema import webhook_events
from dealer_pipeline.store.types import utcnow
from dealer_pipeline.webhooks.storage import insert_events, storable_text

DEALER, OTHER = "autotrader:10012345", "autotrader:10012346"
AGENCY = "x@y.example"


def _deep(levels: int) -> dict:
    node: dict = {}
    for _ in range(levels):
        node = {"a": node}
    return node


HOSTILE = [
    {},
    {"AdminMail": ["x@y.example"]},
    {"AdminMail": 12345},
    {"AdminMail": "nul\u0000@y.example", "Agencia": "a\u0000b"},
    {"AdminMail": "x@y.example", "AceptadaEn": "\u0000"},
    {"AdminMail": "x@y.example", "AceptadaEn": 1e308, "Agencia": _deep(200)},
    {"AdminMail": "x@y.example", "AceptadaEn": "9999-99-99T99:99:99"},
    {"AdminMail": "a" * 100_000 + "@y.example"},
    {"AdminMail": "\ud800@y.example"},
]


@pytest.fixture
def dealers_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    path = tmp_path / "dealers.yaml"
    path.write_text("dealers:\n"
                    f'  - dealer_id: "{DEALER}"\n    publish:\n      autocosmos: {{adminmail: "{AGENCY}"}}\n'
                    f'  - dealer_id: "{OTHER}"\n    publish:\n      autocosmos: {{adminmail: "other@y.example"}}\n')
    monkeypatch.setenv("DEALER_PIPELINE_DEALERS_FILE", str(path))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_hostile_acceptances_end_applied_or_failed_and_lift_nothing(store: sa.Engine, dealers_file: None) -> None:
    block = BlockRegistry(store, "autocosmos").record(
        reason="403", dealer_id=OTHER, service="publicaciones", method="POST", path="/v3/publicaciones",
        message="agency not linked", action="ask the agency to accept the invitation", cf_ray=None)
    rows = [{"source": "autocosmos", "event_key": f"hostile-{i}", "event_type": AGENCY_ACCEPTED,
             "subject_id": None, "subject_version": None, "dealer_id": None, "received_at": utcnow(),
             "headers": {}, "body": storable_text(json.dumps(body).encode("utf-8", "surrogatepass")),
             "status": "pending", "attempts": 0, "error": None} for i, body in enumerate(HOSTILE)]
    ids = [s.event_id for s in insert_events(store, rows)]

    summary = apply_events(store, event_ids=ids)

    with store.connect() as conn:
        ended = conn.execute(sa.select(webhook_events.c.status, webhook_events.c.error)
                             .where(webhook_events.c.id.in_(ids)).order_by(webhook_events.c.id)).all()
    assert len(ended) == len(HOSTILE), "every event is kept"
    assert {status for status, _ in ended} <= {"applied", "failed"}, ended
    assert all(error for status, error in ended if status == "failed"), "a failed event says why"
    assert summary.applied + summary.failed == len(HOSTILE)
    assert [status for status, _ in ended][5:7] == ["applied", "applied"], "absurd dates and a deep name: applied"
    (still,) = [b for b in list_blocks(store, vendor="autocosmos", include_resolved=True) if b.id == block.id]
    assert still.resolved_at is None, "no body names the other dealer's agency"

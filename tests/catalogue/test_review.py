"""The review queue (`v_catalog_review`) and what an operator does with it (AC-MATCH-3), on both backends."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from dealer_pipeline.catalogue.resolve import load_matches
from dealer_pipeline.catalogue.review import ReviewError, resolve_by_hand, review_queue, send_back
from dealer_pipeline.cli import cli
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.repository import insert_many
from dealer_pipeline.store.schema import catalog_matches, vehicle_specs

T0 = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
CANDIDATES = [{"href": "/v3/versiones/140185", "Nombre": "ST Performance Pack", "Propulsion": "nafta",
               "Transmision": "Manual", "Carroceria": "Hatchback", "score": 0.79},
              {"href": "/v3/versiones/140180", "Nombre": "1.0 EcoBoost Titanium", "score": 0.41}]


def _row(key: str, status: str, **values: object) -> dict:
    row = {"spec_key": key, "params": {"make": "ford", "model": "focus", "trim": "2.3 ecoboost st", "year": "2021",
                                        "fuelType": "nafta", "transmissionType": "Manual"},
           "make_href": "/v3/marcas/611", "model_href": "/v3/modelos/10040", "version_href": None,
           "fuel_type": None, "transmission": None, "status": status, "confidence": None, "candidates": None,
           "response": {"Match": None}, "resolved_at": T0, "reviewed_at": None}
    row.update(values)
    return row


@pytest.fixture
def seeded(store: sa.Engine) -> sa.Engine:
    with transaction(store) as conn:
        insert_many(conn, catalog_matches, [
            _row("low", "unresolved", confidence=0.79, candidates=CANDIDATES),
            _row("nomodel", "unresolved", model_href=None, params={"make": "nissan", "model": "leaf"}),
            _row("fine", "matched", version_href="/v3/versiones/1", confidence=1),
        ])
        insert_many(conn, vehicle_specs, [{"vehicle_id": f"autotrader:{n}", "spec_key": "low", "updated_at": T0}
                                          for n in range(3)]
                    + [{"vehicle_id": "autotrader:9", "spec_key": "nomodel", "updated_at": T0}])
    return store


def test_ac_match_3_review_queue_lists_unresolved_specs_with_waiting_vehicles(seeded: sa.Engine) -> None:
    with seeded.connect() as conn:
        queue = review_queue(conn)
    assert [(r["spec_key"], r["vehicles"]) for r in queue] == [("low", 3), ("nomodel", 1)]
    low = queue[0]
    assert (low["make"], low["model"], low["year"], low["fuel_type"]) == ("ford", "focus", "2021", "nafta")
    assert low["top_candidate_href"] == "/v3/versiones/140185"
    assert low["top_candidate_name"] == "ST Performance Pack"
    assert float(low["confidence"]) == pytest.approx(0.79)
    output = CliRunner().invoke(cli, ["catalogue", "review", "list"]).output
    assert "low unresolved vehicles=3" in output and "/v3/versiones/140185" in output


def test_ac_match_3_operator_resolves_a_spec_by_hand(seeded: sa.Engine) -> None:
    result = CliRunner().invoke(cli, ["catalogue", "review", "resolve", "low", "--version", "/v3/versiones/140185"])
    assert result.exit_code == 0, result.output
    with seeded.connect() as conn:
        match = load_matches(conn, ["low"])["low"]
        assert [r["spec_key"] for r in review_queue(conn)] == ["nomodel"]
    assert match.usable and match.status == "matched" and match.version_href == "/v3/versiones/140185"
    assert (match.fuel_type, match.transmission, match.body) == ("nafta", "Manual", "Hatchback")

    with pytest.raises(ReviewError, match="--make and --model"):
        resolve_by_hand(seeded, "nomodel", "/v3/versiones/5")
    with pytest.raises(ReviewError, match="not a /v3/versiones"):
        resolve_by_hand(seeded, "nomodel", "/v3/modelos/5")
    bad = CliRunner().invoke(cli, ["catalogue", "review", "resolve", "missing", "--version", "/v3/versiones/5"])
    assert bad.exit_code != 0 and "no catalogue spec" in bad.output
    done = resolve_by_hand(seeded, "nomodel", "/v3/versiones/5", make_href="/v3/marcas/1", model_href="/v3/modelos/2")
    assert done["model_href"] == "/v3/modelos/2"


def test_ac_match_3_a_spec_sent_back_is_queued_until_asked_again(seeded: sa.Engine) -> None:
    send_back(seeded, "fine", note="derivative corrected", now=T0 + timedelta(hours=1))
    with seeded.connect() as conn:
        queued = {r["spec_key"]: r for r in review_queue(conn)}
    assert "fine" in queued and queued["fine"]["review_note"] == "derivative corrected"
    with transaction(seeded) as conn:  # what the next resolution does after asking again
        conn.execute(sa.update(catalog_matches).where(catalog_matches.c.spec_key == "fine")
                     .values(resolved_at=T0 + timedelta(hours=2)))
    with seeded.connect() as conn:
        assert "fine" not in {r["spec_key"] for r in review_queue(conn)}
    with pytest.raises(ReviewError):
        send_back(seeded, "missing")

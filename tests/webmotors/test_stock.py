"""WM-STOCK-1 and the dealers asset: the dealer's Cockpit stock listed completely, page by page,
into `vehicles`; the complete-download rule."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from dealer_pipeline.canonical.apply import apply_vehicles
from dealer_pipeline.defs.sources import webmotors as wm
from dealer_pipeline.http.tokens import derive_fernet
from dealer_pipeline.settings import get_settings
from dealer_pipeline.store.schema import api_tokens, dealers, sync_runs, vehicle_changes, vehicles
from dealer_pipeline.store.types import utcnow
from tests.support.runs import failure_message, metadata_of
from tests.webmotors.conftest import STOCK_PATH, TOKEN_PATH, VEHICLES, Harness, table

FUEL = {"Flex": "flex", "Gasolina": "petrol", "Etanol": "ethanol", "Diesel": "diesel", "Elétrico": "electric",
        "Híbrido": "hybrid", "GNV": "lpg_cng"}
AVAILABILITY = {"Ativo": "available", "Vendido": "sold", "Inativo": "removed"}


@pytest.mark.parametrize(("backend", "page_size"), [("postgresql", 5), ("sqlite", 10)], indirect=["backend"])
def test_wm_stock_1_stock_listed_completely_page_by_page(harness: Harness, page_size: int) -> None:
    """Exact multiple of qty (25 = 5 x 5) on PostgreSQL, a partial last page (10, 10, 5) on SQLite."""
    cnpj = harness.cnpj(0)
    truth = {hit["id"]: hit for hit in harness.vendor_hits(cnpj)}
    assert len(truth) == VEHICLES
    harness.mark()
    assert harness.dealers().success
    assert cnpj in harness.instance.get_dynamic_partitions(wm.DEALER_PARTITIONS.name)

    result = harness.sync(cnpj, checks=True, stock_page_size=page_size)
    assert result.success, failure_message(result)

    pages = -(-VEHICLES // page_size)
    gets = harness.calls(STOCK_PATH)
    assert [(c["query"]["p"], c["query"]["qty"], c["status"]) for c in gets] == [
        (str(p), str(page_size), 200) for p in range(1, pages + 1)]  # every p once, in order
    assert [c["status"] for c in harness.calls(TOKEN_PATH)] == [201]

    meta = metadata_of(result, wm.STOCK_KEY)
    assert (meta["complete"], meta["pages"], meta["records"], meta["created"]) == (True, pages, VEHICLES, VEHICLES)
    assert (meta["api_calls"], meta["token_requests"]) == (pages, 1)
    checks = {e.check_name for e in result.get_asset_check_evaluations()}
    assert checks == {"vehicle_rules", "baseline_row_count", "dealer_freshness"}

    rows = {row["source_vehicle_id"]: row for row in table(harness.engine, vehicles, vehicles.c.vehicle_id)}
    assert set(rows) == {str(ad) for ad in truth}
    for ad, hit in truth.items():
        row = rows[str(ad)]
        assert row["vehicle_id"] == f"webmotors:{ad}" and row["dealer_id"] == f"webmotors:{cnpj}"
        assert isinstance(row["price_amount"], Decimal) and row["price_amount"] == Decimal(hit["price"])
        assert row["price_currency"] == "BRL"
        assert row["mileage_km"] == hit["vehicle"]["km"]
        assert row["model_year"] == hit["vehicle"]["year_model"]
        assert row["fuel_type"] == FUEL[hit["vehicle"]["fuel"]["name"]]
        assert row["availability"] == AVAILABILITY[hit["status"]] and row["lifecycle_state"] == hit["status"]
        assert row["images"] == hit["photos"]
        assert row["raw"] == hit  # the vendor record beside the normalized row
    (run,) = [r for r in table(harness.engine, sync_runs, sync_runs.c.id) if r["kind"] == "baseline"]
    assert (run["source"], run["complete"], run["pages"], run["records"]) == ("webmotors", True, pages, VEHICLES)

    # A second baseline finds nothing new, and reuses the dealer's token.
    harness.mark()
    again = harness.sync(cnpj, stock_page_size=page_size)
    assert again.success and metadata_of(again, wm.STOCK_KEY)["unchanged"] == VEHICLES
    assert harness.calls(TOKEN_PATH) == [] and len(harness.calls(STOCK_PATH)) == pages

    # No secret in Dagster's event log or the store in clear.
    dealer = harness.dealer(0)
    with harness.engine.connect() as conn:
        (token_row,) = conn.execute(sa.select(api_tokens)).mappings().all()
    token = derive_fernet(get_settings().webmotors_client_secret, token_row["token_key"]).decrypt(
        token_row["ciphertext"].encode()).decode()
    logged = json.dumps([str(e) for e in harness.instance.all_logs(result.run_id)]
                        + [str(e) for e in harness.instance.all_logs(again.run_id)])
    secrets = [dealer["password"], token, harness.sandbox.credentials["webmotors_client_secret"]]
    assert not [s for s in secrets if s in logged or s in json.dumps(table(harness.engine, dealers,
                                                                           dealers.c.dealer_id), default=str)]
    assert token not in token_row["ciphertext"] and dealer["username"] not in token_row["token_key"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_dealers_asset_keeps_partitions_and_dealers_rows(harness: Harness, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    world = harness.sandbox.world()["webmotors"]
    result = harness.dealers()
    assert result.success
    assert sorted(harness.instance.get_dynamic_partitions(wm.DEALER_PARTITIONS.name)) == sorted(
        d["cnpj"] for d in world)
    rows = {r["dealer_id"]: r for r in table(harness.engine, dealers, dealers.c.dealer_id)}
    assert set(rows) == {d["dealer_id"] for d in world}
    for d in world:
        row = rows[d["dealer_id"]]
        assert (row["source"], row["source_dealer_id"], row["name"], row["status"]) == (
            "webmotors", d["cnpj"], d["name"], "active")
        assert row["raw"]["webmotors"] == {"username_env": d["username_env"], "password_env": d["password_env"]}
        assert d["password"] not in json.dumps(row["raw"])

    # A dealer taken out of the file loses its partition and is marked as having left.
    text = Path(harness.sandbox.dealers_file).read_text(encoding="utf-8")
    gone = world[-1]
    kept = text.split(f'  - dealer_id: "{gone["dealer_id"]}"')[0]
    assert kept != text
    smaller = tmp_path / "dealers.yaml"
    smaller.write_text(kept, encoding="utf-8")
    monkeypatch.setenv("DEALER_PIPELINE_DEALERS_FILE", str(smaller))
    get_settings.cache_clear()
    result = harness.dealers()
    assert result.success
    assert metadata_of(result, wm.DEALERS_KEY)["partitions_removed"] == 1
    assert gone["cnpj"] not in harness.instance.get_dynamic_partitions(wm.DEALER_PARTITIONS.name)
    rows = {r["dealer_id"]: r for r in table(harness.engine, dealers, dealers.c.dealer_id)}
    assert rows[gone["dealer_id"]]["status"] == "left_integration"
    assert Counter(r["status"] for r in rows.values()) == {"active": len(world) - 1, "left_integration": 1}

    # Its stock run now fails clearly, without calling Webmotors.
    harness.mark()
    failed = harness.sync(gone["cnpj"])
    assert not failed.success and "not in the dealers file" in failure_message(failed)
    assert harness.calls() == []


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_connection_reset_on_page_2_changes_nothing(harness: Harness) -> None:
    """The complete-download rule: a download that breaks on page 2 changes nothing in `vehicles`."""
    cnpj, dealer = harness.cnpj(1), f"webmotors:{harness.cnpj(1)}"
    assert harness.sync(cnpj, stock_page_size=10).success
    # Make the store differ from Webmotors, so that a (wrongly) applied partial download would show:
    # one price edited, and one vehicle Webmotors does not list (a complete download removes it).
    with harness.engine.begin() as conn:
        victim = conn.execute(sa.select(vehicles).where(vehicles.c.dealer_id == dealer)
                              .order_by(vehicles.c.vehicle_id).limit(1)).mappings().one()
        conn.execute(sa.update(vehicles).where(vehicles.c.vehicle_id == victim["vehicle_id"])
                     .values(price_amount=Decimal("1.00")))
        ghost = {k: victim[k] for k in victim if k not in ("first_seen_at", "updated_at",
                                                                  "last_seen_in_baseline_at")}
        ghost.update(vehicle_id="webmotors:999999999", source_vehicle_id="999999999")
        apply_vehicles(conn, [ghost], cause="baseline", now=utcnow())
    before = (table(harness.engine, vehicles, vehicles.c.vehicle_id),
              table(harness.engine, vehicle_changes, vehicle_changes.c.id))

    harness.sandbox.fault(vendor="webmotors", path=STOCK_PATH, query={"p": "2"}, dealer=cnpj, reset=True,
                          times=None)
    harness.mark()
    failed = harness.sync(cnpj, stock_page_size=10, max_attempts=2, backoff_base_seconds=0.05)
    harness.sandbox.clear_faults()
    assert not failed.success
    assert "no response after 2 attempts" in failure_message(failed)
    assert [(c["query"]["p"], c["status"]) for c in harness.calls(STOCK_PATH)] == [("1", 200), ("2", None),
                                                                                 ("2", None)]
    after = (table(harness.engine, vehicles, vehicles.c.vehicle_id),
             table(harness.engine, vehicle_changes, vehicle_changes.c.id))
    assert after == before
    last = table(harness.engine, sync_runs, sync_runs.c.id)[-1]
    assert (last["dealer_id"], last["complete"], last["pages"], last["records"]) == (dealer, False, 1, 10)
    assert "no response after 2 attempts" in last["error"]

    # The same baseline, complete this time, does change both (so the check above could fail).
    done = harness.sync(cnpj, stock_page_size=10)
    assert done.success and metadata_of(done, wm.STOCK_KEY)["removed"] == 1
    rows = {r["vehicle_id"]: r for r in table(harness.engine, vehicles, vehicles.c.vehicle_id)}
    assert rows["webmotors:999999999"]["availability"] == "removed"
    assert rows[victim["vehicle_id"]]["price_amount"] == victim["price_amount"]

"""The Webmotors normalizer on the contract's stock hit and Portuguese variations of it."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from dealer_pipeline.canonical import webmotors
from dealer_pipeline.canonical.model import ROW_COLUMNS
from tests.canonical.records import variant, webmotors_hit

RECEIVED = datetime(2026, 1, 6, 9, 0, tzinfo=timezone.utc)
DEALER = "webmotors:03347828000109"


def _batch(*hits: dict):
    return webmotors.normalize_stock(list(hits), dealer_id=DEALER, received_at=RECEIVED)


def _one(hit: dict) -> dict:
    batch = _batch(hit)
    assert batch.rejected == []
    (row,) = batch.rows
    return row


def test_contract_hit_maps_every_field() -> None:
    hit = webmotors_hit()
    row = _one(hit)
    assert set(row) == set(ROW_COLUMNS)
    assert row["vehicle_id"] == "webmotors:51234567" and row["source_vehicle_id"] == "51234567"
    assert row["source"] == "webmotors" and row["dealer_id"] == DEALER
    assert row["price_amount"] == Decimal("89900.00") and row["price_currency"] == "BRL"
    assert (row["make"], row["model"]) == ("Honda", "Civic")
    assert row["derivative"] == "2.0 16V FLEXONE EXL 4P CVT"
    assert (row["model_year"], row["manufacture_year"]) == (2020, 2019)
    assert row["mileage_km"] == 45200 and row["colour"] == "Prata" and row["doors"] == 4
    assert (row["fuel_type"], row["source_fuel_type"]) == ("flex", "Flex")
    assert (row["transmission"], row["source_transmission"]) == ("automatic", "CVT")
    assert row["features"] == [{"name": "Air bag"}, {"name": "Ar-condicionado"}, {"name": "Direção elétrica"}]
    assert row["images"] == ["https://img.example.com/51234567/1.jpg", "https://img.example.com/51234567/2.jpg"]
    assert row["description"] == "Único dono, revisões na concessionária."
    assert (row["availability"], row["lifecycle_state"]) == ("available", "Ativo")
    assert row["registration"] is None and row["raw"]["vehicle"]["plate_final"] == "7"
    assert row["shown_on_dealer_site"] is None and row["source_version"] is None
    assert row["source_updated_at"] == datetime(2026, 1, 5, 14, 32, 10, tzinfo=timezone.utc)
    assert row["raw"] is hit and row["raw"]["vehicle"]["brand"]["name"] == "HONDA"


@pytest.mark.parametrize(
    ("vendor", "canonical"),
    [
        ("Flex", "flex"), ("Gasolina", "petrol"), ("Etanol", "ethanol"), ("Diesel", "diesel"),
        ("Elétrico", "electric"), ("Híbrido", "hybrid"), ("GNV", "lpg_cng"),
        ("ELETRICO", "electric"), ("hibrido", "hybrid"), ("  gasolina ", "petrol"), ("ELÉTRICO", "electric"),
    ],
)
def test_every_fuel_accent_and_case_insensitive(vendor: str, canonical: str) -> None:
    row = _one(variant(webmotors_hit(), "vehicle.fuel", {"name": vendor}))
    assert row["fuel_type"] == canonical and row["source_fuel_type"] == vendor


@pytest.mark.parametrize(
    ("vendor", "canonical"),
    [("Manual", "manual"), ("Automática", "automatic"), ("Automatizada", "automatic"), ("CVT", "automatic"),
     ("AUTOMATICA", "automatic")],
)
def test_every_transmission(vendor: str, canonical: str) -> None:
    assert _one(variant(webmotors_hit(), "vehicle.transmission", {"name": vendor}))["transmission"] == canonical


@pytest.mark.parametrize(
    ("status", "availability"), [("Ativo", "available"), ("Vendido", "sold"), ("Inativo", "removed")]
)
def test_status_to_availability(status: str, availability: str) -> None:
    row = _one(webmotors_hit(status=status))
    assert row["availability"] == availability and row["lifecycle_state"] == status


def test_unknown_values_are_kept_flagged_and_not_rejected() -> None:
    hit = webmotors_hit(status="Pausado")
    hit["vehicle"]["fuel"] = {"name": "Hidrogênio"}
    hit["vehicle"]["transmission"] = {"name": "Sequencial"}
    batch = _batch(hit)
    (row,) = batch.rows
    assert row["lifecycle_state"] == "Pausado" and row["availability"] == "available"
    assert (row["fuel_type"], row["source_fuel_type"]) == ("other", "Hidrogênio")
    assert (row["transmission"], row["source_transmission"]) == ("other", "Sequencial")
    assert batch.unknown_values == {
        ("lifecycle_state", "Pausado"): 1, ("fuel_type", "Hidrogênio"): 1, ("transmission", "Sequencial"): 1,
    }


@pytest.mark.parametrize("price", ["89.900,00", "R$ 89900", "-100.00", "", "89900.001", "abc"])
def test_malformed_price_keeps_the_vehicle_without_a_price(price: str) -> None:
    batch = _batch(webmotors_hit(price=price))
    (row,) = batch.rows
    assert row["price_amount"] is None and row["price_currency"] is None
    assert row["make"] == "Honda" and row["raw"]["price"] == price
    if price:
        assert batch.unknown_values[("price_amount", price)] == 1


def test_null_fields_are_none_not_errors() -> None:
    hit = webmotors_hit(price=None, photos=None, details=None, status=None, updated_at=None)
    hit["vehicle"] = {key: None for key in hit["vehicle"]}
    batch = _batch(hit)
    (row,) = batch.rows
    assert row["price_amount"] is None and row["images"] == [] and row["features"] == []
    assert row["make"] is None and row["fuel_type"] is None and row["availability"] == "available"
    assert not batch.unknown_values


def test_hits_without_an_id_are_rejected_with_a_reason() -> None:
    batch = _batch(webmotors_hit(id=None), webmotors_hit(id=2), webmotors_hit(id="abc"), webmotors_hit(id="777"))
    assert [row["vehicle_id"] for row in batch.rows] == ["webmotors:2", "webmotors:777"]
    assert [reason for _, reason in batch.rejected] == [
        "id is missing or not a positive integer: None", "id is missing or not a positive integer: 'abc'",
    ]


@pytest.mark.parametrize(
    ("vendor", "canonical"),
    [("HONDA", "Honda"), ("BMW", "BMW"), ("GM - CHEVROLET", "GM - Chevrolet"), ("RAM", "RAM"),
     ("MERCEDES-BENZ", "Mercedes-Benz"), ("CITROËN", "Citroën"), ("HR-V", "HR-V"), ("T-CROSS", "T-Cross"),
     ("HB20", "HB20"), ("CLASSE A", "Classe A"), ("VW - VOLKSWAGEN", "VW - Volkswagen")],
)
def test_make_and_model_title_case(vendor: str, canonical: str) -> None:
    row = _one(variant(webmotors_hit(), "vehicle.brand", {"name": vendor}))
    assert row["make"] == canonical and row["raw"]["vehicle"]["brand"]["name"] == vendor


@pytest.mark.parametrize("cnpj", ["03.347.828/0001-09", "03347828000109", " 03347828000109", "11.222.333/0001-81"])
def test_dealer_id_from_cnpj(cnpj: str) -> None:
    assert webmotors.dealer_id_from_cnpj(cnpj) == "webmotors:" + "".join(ch for ch in cnpj if ch.isdigit())


@pytest.mark.parametrize("cnpj", ["03.347.828/0001-08", "0334782800010", "11111111111111", "03a47828000109"])
def test_bad_cnpj_raises_naming_the_value(cnpj: str) -> None:
    with pytest.raises(ValueError, match=cnpj.replace(".", r"\.")):
        webmotors.dealer_id_from_cnpj(cnpj)

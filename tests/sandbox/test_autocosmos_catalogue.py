"""The Autocosmos catalogue's fixture fates hold for every reference vehicle (fixtures the adapter tests use).

Other tests (the adapter's, the demo's) rely on these fates: a vehicle marked `matched` is
found from its source text, a `candidates` one only through Candidates, an absent make or
model not at all. Checked in process over the whole reference, with the query shapes a
client sends (derivative text, trim plus attributes, power in kW).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from dealer_pipeline.sandbox.catalogue import (
    ABSENT_MAKES,
    ABSENT_MODELS,
    CANDIDATES_ONLY,
    MAX_CANDIDATES,
    BadQuery,
    build_catalogue,
)
from dealer_pipeline.sandbox.reference import BR_VERSIONS, UK_DERIVATIVES

CATALOGUE = build_catalogue()


def _version_source(href: str) -> str:
    return CATALOGUE.versiones[int(href.rsplit("/", 1)[1])].source


def _assert_fate(key: str, params: dict[str, str]) -> dict[str, Any]:
    result = CATALOGUE.bestmatch(params)
    fate = CATALOGUE.fate(key)
    if fate == "matched":
        assert result["Match"] is not None, params
        assert _version_source(result["Trim"]) == key
        assert result["Match"]["_links"]["self"]["href"] == result["Trim"]
    elif fate == "candidates":
        assert result["Match"] is None, params
        assert result["Model"] is not None
        assert key in {_version_source(c["_links"]["self"]["href"]) for c in result["Candidates"]}
        assert result["Trim"] == params.get("trim")
    elif fate == "absent_model":
        assert result["Make"] is not None and result["Model"] is None, params
        assert result["Candidates"] == [] and result["Trim"] is None and result["FuelType"] is None
    else:
        assert result["Make"] is None and result["Model"] is None and result["Candidates"] == [], params
    return result


def test_fixture_fates_fixture_fates_cover_the_reference_in_the_documented_proportions() -> None:
    counts = Counter(CATALOGUE.fates.values())
    assert counts["matched"] > 0.8 * sum(counts.values())
    assert counts["candidates"] == len(CANDIDATES_ONLY)
    uk_makes = {model.make for model, _ in UK_DERIVATIVES}
    assert ABSENT_MAKES <= uk_makes
    sources = {(m.make, m.model) for m, _ in UK_DERIVATIVES} | {(m.make, m.model) for m, _ in BR_VERSIONS}
    assert ABSENT_MODELS <= sources
    texts = {(m.make, m.model, d.name) for m, d in UK_DERIVATIVES} | {(m.make, m.model, v.name) for m, v in BR_VERSIONS}
    assert set(CANDIDATES_ONLY) <= texts


@pytest.mark.parametrize("model_derivative", UK_DERIVATIVES, ids=lambda md: f"{md[0].make}-{md[1].name[:30]}")
def test_fixture_fates_uk_vehicle_fates(model_derivative) -> None:
    model, d = model_derivative
    key = f"uk:{d.derivative_id}"
    for year in {d.year_from, min(d.year_to or 2026, 2026)}:
        base = {"make": model.make, "model": model.model, "year": str(year)}
        _assert_fate(key, {**base, "trim": d.name})
        full = {**base, "trim": d.name, "fuelType": d.fuel_type, "transmissionType": d.transmission,
                "power": f"{d.power_ps}cv", "bodystyle": d.body_type}
        if d.engine_cc:
            full["displacement"] = str(d.engine_cc)
        _assert_fate(key, full)
        _assert_fate(key, {**base, "trim": d.trim, "fuelType": d.fuel_type, "transmissionType": d.transmission,
                           "power": str(d.power_ps)})
        _assert_fate(key, {**base, "trim": d.trim, "fuelType": d.fuel_type, "transmissionType": d.transmission,
                           "power": f"{d.power_kw}kw"})


@pytest.mark.parametrize("model_version", BR_VERSIONS, ids=lambda mv: f"{mv[0].make}-{mv[1].name[:30]}")
def test_fixture_fates_br_vehicle_fates(model_version) -> None:
    model, v = model_version
    key = f"br:{model.make}|{model.model}|{v.name}"
    base = {"make": model.make.title(), "model": model.model.title(), "year": str(v.year_from)}
    _assert_fate(key, {**base, "trim": v.name})
    _assert_fate(key, {**base, "trim": v.name, "fuelType": v.fuel,
                       "transmissionType": "manual" if v.transmission == "Manual" else "automatic"})


def test_bestmatch_contract_example_shape_and_naming() -> None:
    result = CATALOGUE.bestmatch({"make": "bmw", "model": "serie 3", "year": "2021", "bodystyle": "sedan",
                                  "power": "190cv"})
    match = result["Match"]
    assert match["Marca"] == "BMW" and match["Modelo"] == "Serie 3" and match["Carroceria"] == "Sedán"
    assert match["Transmision"] == "Automática" and match["Propulsion"] == "diesel"
    assert set(match) == {"Propulsion", "Transmision", "Potencia", "Cilindrada", "Marca", "Modelo", "Nombre",
                          "Codename", "Carroceria", "Segmento", "_links"}
    assert result["FuelType"] == "diesel" and result["TransmisionType"] == "Automática"
    candidate = result["Candidates"][0]
    assert set(candidate) == {"Nombre", "Codename", "Potencia", "Cilindrada", "Propulsion", "Transmision",
                              "Carroceria", "VersionYear", "_links"}
    assert all(c["VersionYear"] == 2021 and c["Carroceria"] == "Sedán" for c in result["Candidates"])


def test_bestmatch_unmatched_trim_echoes_it_and_normalises_caller_values() -> None:
    result = CATALOGUE.bestmatch({"make": "BMW", "model": "3 Series", "trim": "pizza", "fuelType": "Petrol",
                                  "transmissionType": "M"})
    assert result["Match"] is None and result["Trim"] == "pizza"
    assert result["FuelType"] == "nafta" and result["TransmisionType"] == "Manual"
    assert 0 < len(result["Candidates"]) <= MAX_CANDIDATES
    without = CATALOGUE.bestmatch({"make": "BMW", "model": "3 Series", "trim": "pizza"})
    first = without["Candidates"][0]
    assert without["FuelType"] == first["Propulsion"] and without["TransmisionType"] == first["Transmision"]


def test_bestmatch_no_make_no_model_and_bad_parameters() -> None:
    assert CATALOGUE.bestmatch({"make": "Vauxhall", "model": "Corsa"}) == {
        "Make": None, "Model": None, "Trim": None, "FuelType": None, "TransmisionType": None, "Match": None,
        "Candidates": []}
    no_model = CATALOGUE.bestmatch({"make": "Nissan", "model": "Leaf", "trim": "Tekna"})
    assert no_model["Make"].startswith("/v3/marcas/") and no_model["Model"] is None and no_model["Trim"] is None
    with pytest.raises(BadQuery) as missing:
        CATALOGUE.bestmatch({"model": "Golf"})
    assert set(missing.value.errors) == {"make"}
    with pytest.raises(BadQuery) as bad:
        CATALOGUE.bestmatch({"make": "VW", "model": "Golf", "power": "lots", "year": "19"})
    assert set(bad.value.errors) == {"power", "year"}


def test_candidates_are_filtered_by_year_and_limited() -> None:
    result = CATALOGUE.bestmatch({"make": "Toyota", "model": "Corolla", "year": "1999"})
    assert result["Model"] is not None and result["Candidates"] == [] and result["Match"] is None
    every_year = CATALOGUE.bestmatch({"make": "Toyota", "model": "Corolla"})
    names = [c["Nombre"] for c in every_year["Candidates"]]
    assert len(names) == len(set(names))  # one entry per offer when no year is given


def test_carroceria_bestmatch_speaks_several_vocabularies() -> None:
    assert CATALOGUE.carroceria_bestmatch("coupe").href == "/v3/carrocerias/4"
    assert CATALOGUE.carroceria_bestmatch("Estate").nombre == "Rural"
    assert CATALOGUE.carroceria_bestmatch("Picape").nombre == "Pick-Up"
    assert CATALOGUE.carroceria_bestmatch("spaceship") is None

"""Catalogue specs (normalised best-match parameters, stable keys) and candidate ranking (AC-MATCH-1/3)."""

from __future__ import annotations

from decimal import Decimal

from dealer_pipeline.catalogue.ranking import rank_candidates
from dealer_pipeline.catalogue.resolve import classify
from dealer_pipeline.catalogue.spec import Vocabulary, spec_key, spec_params

UK = {"vehicle_id": "autotrader:a1", "make": "BMW", "model": "3 Series", "trim": "M Sport",
      "derivative": "320d  M Sport 4dr Step Auto", "model_year": 2019, "body_type": "Saloon",
      "transmission": "automatic", "engine_cc": 1995, "power_kw": Decimal("140.0"), "fuel_type": "diesel"}
BR = {"vehicle_id": "webmotors:1", "make": "HONDA", "model": "CIVIC", "derivative": "2.0 16V FLEXONE EXL 4P CVT",
      "model_year": 2020, "body_type": None, "transmission": "automatic", "engine_cc": None, "power_kw": None,
      "fuel_type": "flex"}


def test_ac_match_1_spec_params_in_the_catalogue_vocabulary() -> None:
    assert spec_params(UK) == {"make": "bmw", "model": "3 series", "trim": "320d m sport 4dr step auto",
                               "year": "2019", "bodystyle": "sedan", "transmissionType": "Automatico",
                               "displacement": "2.0", "power": "190cv", "fuelType": "diesel"}
    # Webmotors has no engine size or power: litres come from the version text, nothing is invented
    assert spec_params(BR) == {"make": "honda", "model": "civic", "trim": "2.0 16v flexone exl 4p cvt",
                               "year": "2020", "transmissionType": "Automatico", "displacement": "2.0",
                               "fuelType": "flex"}
    assert spec_params({**UK, "make": " "}) is None
    petrol = spec_params({**UK, "fuel_type": "petrol", "transmission": "manual", "body_type": "Estate"})
    assert petrol is not None
    assert (petrol["fuelType"], petrol["transmissionType"], petrol["bodystyle"]) == ("nafta", "Manual", "rural")
    unknown = spec_params({**UK, "fuel_type": "other", "transmission": "other", "body_type": "Hearse"})
    assert unknown is not None and not {"fuelType", "transmissionType", "bodystyle"} & set(unknown)
    custom = spec_params({**UK, "fuel_type": "petrol"}, Vocabulary.with_overrides(fuel={"petrol": "gasolina"}))
    assert custom is not None and custom["fuelType"] == "gasolina"


def test_ac_match_1_spec_key_is_stable_and_shared_by_identical_vehicles() -> None:
    a, b = spec_params(UK), spec_params({**UK, "vehicle_id": "autotrader:a2", "make": "bmw", "model": "3  SERIES"})
    assert a is not None and b is not None
    assert spec_key(a) == spec_key(b) == spec_key(dict(reversed(list(a.items()))))
    other = spec_params({**UK, "model_year": 2020})
    assert other is not None and spec_key(other) != spec_key(a)


def _candidate(href: str, name: str, power: str, litres: str, fuel: str = "diesel", gearbox: str = "Automática",
               body: str = "Sedán", year: int = 2019) -> dict:
    return {"Nombre": name, "Potencia": power, "Cilindrada": litres, "Propulsion": fuel, "Transmision": gearbox,
            "Carroceria": body, "VersionYear": year, "_links": {"self": {"href": href}}}


def test_ac_match_3_candidates_ranked_by_agreement() -> None:
    params = spec_params(UK)
    assert params is not None
    close = _candidate("/v3/versiones/2", "320d M Sport AT", "184 cv", "2.0L")        # 6 cv below
    other_engine = _candidate("/v3/versiones/1", "318i Sport AT", "136 cv", "1.5L", fuel="nafta")
    ranking = rank_candidates(params, [other_engine, close])
    assert [c.href for c in ranking.candidates] == ["/v3/versiones/2", "/v3/versiones/1"]
    top = ranking.candidates[0]
    assert top.agreement["fuel"] == top.agreement["displacement"] == top.agreement["name"] == 1.0
    assert 0.8 < top.agreement["power"] < 1.0
    assert ranking.accepted(0.8) is top and ranking.reason is None


def test_ac_match_3_a_near_tie_or_little_knowledge_is_not_accepted() -> None:
    params = spec_params(UK)
    assert params is not None
    twin_a = _candidate("/v3/versiones/7", "320d Executive AT", "190 cv", "2.0L")
    twin_b = _candidate("/v3/versiones/8", "320d Luxury AT", "190 cv", "2.0L")
    tie = rank_candidates(params, [twin_a, twin_b])
    assert tie.accepted(0.8) is None and "near tie" in (tie.reason or "")
    sparse = rank_candidates({"make": "bmw", "model": "3 series", "fuelType": "diesel"},
                             [_candidate("/v3/versiones/9", "Anything", "1 cv", "9.9L")])
    assert sparse.accepted(0.8) is None and "little known" in (sparse.reason or "")
    assert rank_candidates(params, [{"Nombre": "no link"}]).candidates == []


def test_ac_match_3_classify_best_match_answers() -> None:
    params = spec_params(UK)
    assert params is not None
    matched = classify(params, {"Make": "/v3/marcas/603", "Model": "/v3/modelos/10080", "Trim": "/v3/versiones/5",
                                "FuelType": "diesel", "TransmisionType": "Automática",
                                "Match": {"Carroceria": "Sedán"}, "Candidates": []}, threshold=0.8)
    assert (matched["status"], matched["version_href"], matched["transmission"]) == (
        "matched", "/v3/versiones/5", "Automática")
    no_model = classify(params, {"Make": "/v3/marcas/603", "Model": None, "Trim": None, "Match": None,
                                 "Candidates": []}, threshold=0.8)
    assert no_model["status"] == "unresolved" and "no such model" in no_model["response"]["_resolution"]["reason"]
    empty = classify(params, {"Make": "/v3/marcas/603", "Model": "/v3/modelos/1", "Trim": "x", "Match": None,
                              "Candidates": []}, threshold=0.8)
    assert empty["status"] == "unresolved" and empty["version_href"] is None
    answer = {"Make": "/v3/marcas/603", "Model": "/v3/modelos/1", "Trim": "320d m sport", "Match": None,
              "FuelType": "diesel", "TransmisionType": "Automática",
              "Candidates": [_candidate("/v3/versiones/2", "320d M Sport AT", "184 cv", "2.0L")]}
    ranked = classify(params, answer, threshold=0.8)
    assert ranked["status"] == "ranked" and ranked["version_href"] == "/v3/versiones/2"
    assert ranked["candidates"][0]["href"] == "/v3/versiones/2" and ranked["confidence"] >= Decimal("0.8")
    strict = classify(params, answer, threshold=0.999)
    assert strict["status"] == "unresolved" and strict["version_href"] is None and strict["candidates"]


def test_vehicles_of_one_spec_share_one_entry_and_dealers_add_to_one_map() -> None:
    """The catalogue step keeps only this map for a whole dealer group (one dealer's vehicles at a time):
    vehicles of one spec share its (key, params) instead of holding a copy each."""
    from dealer_pipeline.catalogue.resolve import specs_of

    first = [{"vehicle_id": "at:1", "make": "BMW", "model": "3 Series", "model_year": 2021},
             {"vehicle_id": "at:2", "make": "BMW", "model": "3 Series", "model_year": 2021},
             {"vehicle_id": "at:3", "make": None, "model": "3 Series"}]
    specs = specs_of(first)
    assert specs["at:1"] is specs["at:2"] and specs["at:3"] is None
    assert specs["at:1"][1] == {"make": "bmw", "model": "3 series", "year": "2021"}
    same = specs_of([{"vehicle_id": "wm:9", "make": "BMW", "model": "3 Series", "model_year": 2021}], into=specs)
    assert same is specs and set(specs) == {"at:1", "at:2", "at:3", "wm:9"}
    assert specs["wm:9"][0] == specs["at:1"][0]

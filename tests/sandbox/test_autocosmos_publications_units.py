"""The Autocosmos publication book in process: validation paths and the lifecycle rules.

The same rules are exercised over HTTP in `test_autocosmos_contract.py`; here each rule is
pinned without the network, including photo jobs that arrive late or out of order.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dealer_pipeline.sandbox.autocosmos import operators_of
from dealer_pipeline.sandbox.autocosmos_problems import ARCHIVED_TITLE, Problem
from dealer_pipeline.sandbox.autocosmos_publications import PublicationBook
from dealer_pipeline.sandbox.catalogue import build_catalogue

ADMIN = "Admin@Agencia.com.ar"
CATALOGUE = build_catalogue()
SERIE_3 = CATALOGUE.bestmatch({"make": "BMW", "model": "3 Series", "year": "2021", "power": "190"})


def body(**changes: Any) -> dict[str, Any]:
    base = {
        "ExternalId": "STK-000123", "RefStock": "AB123CD", "Activa": True,
        "OperadorResponsable": "vendedor1@agencia.com.ar",
        "Marca": SERIE_3["Make"], "Modelo": SERIE_3["Model"], "Version": SERIE_3["Trim"], "VersionYear": 2021,
        "Propulsion": "diesel", "Transmision": "Automática", "Kilometraje": 145000, "Color": "Gris Plata",
        "Descripcion": "Único dueño.", "Precio": {"Moneda": "ARS", "Monto": 28500000},
        "Fotos": ["https://cdn.example.com/1.jpg", "https://cdn.example.com/2.jpg"],
        "Locacion": {"Region": "AR-B", "Ciudad": "La Plata", "Direccion": "Calle 7 1234"},
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


@pytest.fixture
def book() -> PublicationBook:
    return PublicationBook(CATALOGUE, operators_of)


def errors_of(call, *args) -> dict[str, list[str]]:
    with pytest.raises(Problem) as caught:
        call(*args)
    assert caught.value.status == 400
    return caught.value.errors


def test_valid_body_creates_an_active_publication(book: PublicationBook) -> None:
    publication, job = book.create(ADMIN, body(Color="x" * 60))
    rendered = publication.render()
    assert rendered["Estado"] == "Activa" and rendered["Activa"] is True
    assert rendered["Color"] == "x" * 50
    assert rendered["_links"]["self"]["href"] == f"/v3/publicaciones/{ADMIN}/STK-000123"
    assert job.urls == tuple(body()["Fotos"]) and job.lifts_suspension


@pytest.mark.parametrize(
    "changes, paths",
    [
        ({"ExternalId": ...}, {"ExternalId"}),
        ({"ExternalId": "a"}, {"ExternalId"}),
        ({"ExternalId": "has space"}, {"ExternalId"}),
        ({"ExternalId": "x" * 256}, {"ExternalId"}),
        ({"Marca": ..., "Modelo": ..., "Version": ...}, {"Marca", "Modelo", "Version"}),
        ({"Marca": "/v3/marcas/999999"}, {"Marca"}),
        ({"Version": "/v3/versiones/999999999"}, {"Version"}),
        ({"Modelo": "/v3/modelos/10001"}, {"Modelo", "Version"}),
        ({"Version": "320d a medida"}, {"Carroceria"}),
        ({"Version": "320d a medida", "Carroceria": "nave espacial"}, {"Carroceria"}),
        ({"VersionYear": 1907}, {"VersionYear"}),
        ({"VersionYear": "2021"}, {"VersionYear"}),
        ({"Kilometraje": 999001}, {"Kilometraje"}),
        ({"Kilometraje": -1}, {"Kilometraje"}),
        ({"Color": ""}, {"Color"}),
        ({"Precio": ...}, {"Precio"}),
        ({"Precio": {"Moneda": "ARG", "Monto": 0}}, {"Precio.Moneda", "Precio.Monto"}),
        ({"Precio": {"Moneda": "ARS", "Importe": 10}}, {"Precio.Monto"}),
        ({"Fotos": ...}, {"Fotos"}),
        ({"Fotos": ["https://ok.example/1.jpg", "/relative.jpg", "ftp://x/y.jpg"]}, {"Fotos[1]", "Fotos[2]"}),
        ({"RefStock": "x" * 26}, {"RefStock"}),
        ({"Descripcion": "x" * 2001}, {"Descripcion"}),
        ({"OperadorResponsable": "otro@agencia.com.ar"}, {"OperadorResponsable"}),
        ({"Activa": "yes"}, {"Activa"}),
        ({"Locacion": "La Plata"}, {"Locacion"}),
    ],
)
def test_validation_errors_are_keyed_by_field_path(book: PublicationBook, changes, paths) -> None:
    assert set(errors_of(book.create, ADMIN, body(**changes))) == paths


def test_version_by_name_needs_a_known_carroceria(book: PublicationBook) -> None:
    publication, _ = book.create(ADMIN, body(Version="320d a medida", Carroceria="Saloon"))
    assert publication.render()["Carroceria"] == "Saloon"


def test_duplicate_external_id_is_409_case_insensitively(book: PublicationBook) -> None:
    book.create(ADMIN, body())
    with pytest.raises(Problem) as caught:
        book.create(ADMIN.lower(), body(ExternalId="stk-000123"))
    assert caught.value.status == 409 and caught.value.title == "Entidad duplicada"


def test_archive_is_final_and_the_external_id_is_never_reused(book: PublicationBook) -> None:
    book.create(ADMIN, body())
    book.archive(ADMIN, "stk-000123")
    assert book.get(ADMIN, "STK-000123").render()["Estado"] == "Archivada"
    for call, args in ((book.create, (ADMIN, body())), (book.replace, (ADMIN, "STK-000123", body())),
                       (book.patch, (ADMIN, "STK-000123", {"Color": "Rojo"})), (book.archive, (ADMIN, "STK-000123"))):
        with pytest.raises(Problem) as caught:
            call(*args)
        assert caught.value.status == 409 and caught.value.title == ARCHIVED_TITLE


def test_unknown_publication_is_404(book: PublicationBook) -> None:
    for call, args in ((book.get, (ADMIN, "nope")), (book.replace, (ADMIN, "nope", body())),
                       (book.patch, (ADMIN, "nope", {})), (book.archive, (ADMIN, "nope"))):
        with pytest.raises(Problem) as caught:
            call(*args)
        assert caught.value.status == 404


def test_put_external_id_must_match_the_path_and_may_be_omitted(book: PublicationBook) -> None:
    book.create(ADMIN, body())
    assert set(errors_of(book.replace, ADMIN, "STK-000123", body(ExternalId="OTHER"))) == {"ExternalId"}
    replaced, _ = book.replace(ADMIN, "stk-000123", body(ExternalId=..., Kilometraje=150000))
    assert replaced.render()["ExternalId"] == "STK-000123" and replaced.render()["Kilometraje"] == 150000


def test_merge_patch_changes_only_what_it_names(book: PublicationBook) -> None:
    book.create(ADMIN, body())
    patched, job = book.patch(ADMIN, "STK-000123", {"Precio": {"Moneda": "ARS", "Monto": 27900000},
                                                    "Descripcion": None})
    rendered = patched.render()
    assert rendered["Precio"] == {"Moneda": "ARS", "Monto": 27900000}
    assert "Descripcion" not in rendered and rendered["Kilometraje"] == 145000
    assert job is None  # no Fotos in the patch: nothing to download
    assert set(errors_of(book.patch, ADMIN, "STK-000123", {"Kilometraje": None})) == {"Kilometraje"}
    assert set(errors_of(book.patch, ADMIN, "STK-000123", {"ExternalId": "NEW-ID"})) == {"ExternalId"}
    assert book.get(ADMIN, "STK-000123").render()["Kilometraje"] == 145000  # refused patches change nothing


def test_suspend_and_reactivate_with_activa(book: PublicationBook) -> None:
    book.create(ADMIN, body())
    suspended, _ = book.replace(ADMIN, "STK-000123", body(Activa=False))
    assert suspended.render()["Estado"] == "Suspendida" and suspended.render()["Activa"] is False
    active, _ = book.replace(ADMIN, "STK-000123", body(Activa=True))
    assert active.render()["Estado"] == "Activa"


def test_photo_jobs_suspend_when_nothing_is_kept_and_only_put_lifts_it(book: PublicationBook) -> None:
    publication, job = book.create(ADMIN, body())
    assert book.finish_photos(job, [])
    assert publication.render()["Estado"] == "Suspendida" and publication.render()["Fotos"] == []
    # A PATCH bringing photos does not lift a photo suspension (only a PUT does).
    _, patch_job = book.patch(ADMIN, "STK-000123", {"Fotos": ["https://cdn.example.com/3.jpg"]})
    assert book.finish_photos(patch_job, ["https://cdn.example.com/3.jpg"])
    assert publication.render()["Estado"] == "Suspendida"
    _, put_job = book.replace(ADMIN, "STK-000123", body())
    assert book.finish_photos(put_job, ["https://cdn.example.com/2.jpg"])
    assert publication.render()["Estado"] == "Activa"
    assert publication.render()["Fotos"] == ["https://cdn.example.com/2.jpg"]


def test_a_superseded_photo_job_is_ignored(book: PublicationBook) -> None:
    publication, first = book.create(ADMIN, body())
    _, second = book.replace(ADMIN, "STK-000123", body(Fotos=["https://cdn.example.com/9.jpg"]))
    assert book.finish_photos(second, ["https://cdn.example.com/9.jpg"])
    assert not book.finish_photos(first, [])
    assert publication.render()["Estado"] == "Activa"


def test_list_filters_by_operator(book: PublicationBook) -> None:
    book.create(ADMIN, body())
    book.create(ADMIN, body(ExternalId="STK-2", OperadorResponsable=...))
    assert [p.external_id for p in book.list(ADMIN, "VENDEDOR1@agencia.com.ar")] == ["STK-000123"]
    assert [p.external_id for p in book.list(ADMIN, ADMIN.lower())] == ["STK-2"]
    assert len(book.list(ADMIN)) == 2


def test_validation_does_not_mutate_the_request(book: PublicationBook) -> None:
    sent = body(Color="y" * 70)
    kept = copy.deepcopy(sent)
    book.create(ADMIN, sent)
    assert sent == kept

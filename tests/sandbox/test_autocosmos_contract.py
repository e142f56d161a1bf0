"""Contract tests of the sandbox's Autocosmos v3 (api/autocosmos.md Part 2), over real HTTP.

A sandbox subprocess serves the module; requests are signed here with Python's `hmac`,
`hashlib` and `base64` directly (the signer is first checked against the contract's worked
vectors). Webhooks are caught by a small HTTP server in this process and their signatures
checked the same way. Photos come from the sandbox's own `/media` and, for 5xx behaviour,
from a local HTTP server that fails on purpose.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import threading
import time
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image

from dealer_pipeline.sandbox.runner import start_sandbox

APP_KEY, APP_SECRET = "sandbox-ac-app-key", "sandbox-ac-app-secret"
WEBHOOK_SECRET = "sandbox-ac-webhook-secret-0001"
PROBLEM = "application/problem+json"


# -- signing, done here independently of the sandbox ---------------------------------------------

def digest_of(body: bytes) -> str:
    return "sha-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()


def sign(secret: str, method: str, digest: str | None, date: str, acs: dict[str, str], path_query: str) -> str:
    lines = [method, digest or "", date]
    lines += [f"{k.lower()}:{v.strip()}" for k, v in sorted(acs.items(), key=lambda kv: kv[0].lower())]
    lines.append(path_query)
    mac = hmac.new(secret.encode(), "\n".join(lines).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def test_signing_test_signer_reproduces_both_worked_vectors() -> None:
    secret = "demo-app-secret-DO-NOT-USE"
    assert sign(secret, "GET", None, "Thu, 01 Jan 2026 12:00:00 GMT", {},
                "/v3/versiones/bestmatch?make=bmw&model=serie%203&year=2009&bodystyle=coupe&power=156cv"
                ) == "DKy/h9wLb4hENDNCKXSa0Hn7e0rL6OfjaVlN/aO6Gzc="
    body = b'{"Precio":{"Moneda":"ARS","Monto":27900000}}'
    assert digest_of(body) == "sha-256=DVbpEiagJYF8ZOW94ywzr81y4MzIB1gSHbijHkCsgjc="
    assert sign(secret, "PATCH", digest_of(body), "Thu, 01 Jan 2026 12:00:05 GMT",
                {"X-ACS-Request-Id": "7f0c2a9e"}, "/v3/publicaciones/admin@agencia.com.ar/STK-000123"
                ) == "aeTN3bVY9b9+lwGuhNvVtA0JJSZMbP534CBVrTUu7es="


class Client:
    """Signs every request fresh, like a well-behaved adapter; knobs to misbehave on purpose."""

    def __init__(self, base: str) -> None:
        self.base = base  # http://host:port/autocosmos
        self.http = requests.Session()

    def prepare(self, method: str, path: str, body: Any = None, *, content_type: str = "application/json",
                date: str | None = None, acs: dict[str, str] | None = None, key: str = APP_KEY,
                secret: str = APP_SECRET, sign_path: str | None = None) -> tuple[str, bytes | None, dict[str, str]]:
        url = self.base + path
        data = None if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
        date = date or formatdate(time.time(), usegmt=True)
        parts = urlsplit(url)
        path_query = sign_path or (parts.path + (f"?{parts.query}" if parts.query else ""))
        headers = {"Date": date, **(acs or {})}
        digest = None
        if data is not None:
            digest = digest_of(data)
            headers.update({"Digest": digest, "Content-Type": content_type})
        headers["Authorization"] = f"ACS-HMAC {key}:{sign(secret, method, digest, date, acs or {}, path_query)}"
        return url, data, headers

    def send(self, method: str, url: str, data: bytes | None, headers: dict[str, str]) -> requests.Response:
        return self.http.request(method, url, data=data, headers=headers, timeout=10)

    def __call__(self, method: str, path: str, body: Any = None, **options: Any) -> requests.Response:
        return self.send(method, *self.prepare(method, path, body, **options))


# -- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sb() -> Iterator[Any]:
    handle = start_sandbox(seed=11, dealers=3, vehicles=1)
    try:
        control(handle, "POST", "/_sandbox/config", {"extra": {"autocosmos_photo_retry_seconds": 0.05}})
        yield handle
    finally:
        handle.stop()


def control(handle: Any, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(method, handle.base_url + path, json=body, timeout=30)
    assert response.status_code < 500, response.text
    return response.json() if response.content else None


def settle(handle: Any) -> None:
    assert control(handle, "POST", "/_sandbox/settle?timeout=20")["settled"]


@pytest.fixture(scope="module")
def ac(sb: Any) -> Client:
    return Client(sb.base_url + "/autocosmos")


@pytest.fixture(scope="module")
def adminmail(sb: Any) -> str:
    agencies = [a for a in control(sb, "GET", "/_sandbox/world")["autocosmos_agencies"] if a["linked"]]
    assert agencies, "the world must link at least one agency"
    return agencies[0]["adminmail"]


def media(sb: Any, name: str) -> str:
    return f"{sb.base_url}/media/{name}"


def external_id() -> str:
    return f"STK-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def serie3(ac: Client) -> dict[str, Any]:
    found = ac("GET", "/v3/versiones/bestmatch?make=BMW&model=3%20Series&year=2021&trim=M%20Sport&fuelType=diesel")
    assert found.status_code == 200 and found.json()["Match"] is not None
    return found.json()


def publication(sb: Any, serie3: dict[str, Any], ext_id: str, **changes: Any) -> dict[str, Any]:
    body = {
        "ExternalId": ext_id, "RefStock": "AB123CD", "Activa": True,
        "Marca": serie3["Make"], "Modelo": serie3["Model"], "Version": serie3["Trim"], "VersionYear": 2021,
        "Propulsion": serie3["FuelType"], "Transmision": serie3["TransmisionType"], "Kilometraje": 45000,
        "Color": "Gris Plata", "Descripcion": "Único dueño.", "Precio": {"Moneda": "ARS", "Monto": 28500000},
        "Fotos": [media(sb, f"{ext_id}-a-1024x768.jpg"), media(sb, f"{ext_id}-b-800x600.webp")],
        "Locacion": {"Region": "AR-B", "Ciudad": "La Plata", "Direccion": "Calle 7 1234"},
    }
    body.update(changes)
    return body


def assert_problem(response: requests.Response, status: int, title: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["Title"] == title and body["Status"] == status
    assert body["Type"] == f"https://httpstatuses.com/{status}" and body["Extensions"] == {}
    assert body["Instance"].startswith("/v3/")
    return body


# -- 2.1 signing ---------------------------------------------------------------------------------

def test_signing_signed_requests_pass_with_and_without_body(ac: Client, adminmail: str) -> None:
    assert ac("GET", "/v3/marcas").status_code == 200
    listed = ac("GET", f"/v3/publicaciones/{adminmail}", acs={"X-ACS-Request-Id": "7f0c2a9e"})
    assert listed.status_code == 200 and "_entries" in listed.json()


def test_signing_path_may_be_signed_as_the_vendor_sees_it(ac: Client) -> None:
    assert ac("GET", "/v3/marcas?q=bmw", sign_path="/v3/marcas?q=bmw").status_code == 200
    assert ac("GET", "/v3/marcas?q=bmw", sign_path="/v3/marcas?q=audi").status_code == 401


@pytest.mark.parametrize("tamper", ["no-auth", "scheme", "unknown-key", "wrong-secret", "body", "no-digest",
                                    "no-date", "old-date", "future-date", "acs-header", "query"])
def test_signing_bad_signatures_are_401(ac: Client, adminmail: str, serie3, sb, tamper: str) -> None:
    path = f"/v3/publicaciones/{adminmail}"
    body = publication(sb, serie3, external_id())
    options: dict[str, Any] = {}
    if tamper == "unknown-key":
        options["key"] = "someone-else"
    if tamper == "wrong-secret":
        options["secret"] = "not-the-secret"
    if tamper == "old-date":
        options["date"] = formatdate(time.time() - 310, usegmt=True)
    if tamper == "future-date":
        options["date"] = formatdate(time.time() + 310, usegmt=True)
    if tamper == "acs-header":
        options["acs"] = {"X-ACS-Request-Id": "abc"}
    url, data, headers = ac.prepare("POST", path, body, **options)
    if tamper == "no-auth":
        del headers["Authorization"]
    elif tamper == "scheme":
        headers["Authorization"] = headers["Authorization"].replace("ACS-HMAC", "ACS-H")
    elif tamper == "body":
        data = data.replace(b"Gris", b"Rojo")
    elif tamper == "no-digest":
        del headers["Digest"]
    elif tamper == "no-date":
        del headers["Date"]
    elif tamper == "acs-header":
        headers["X-ACS-Request-Id"] = "abd"
    elif tamper == "query":
        url += "?operador=x"
    response = ac.send("POST", url, data, headers)
    assert_problem(response, 401, "No autorizado")
    assert ac("GET", f"/v3/publicaciones/{adminmail}/{body['ExternalId']}").status_code == 404


def test_signing_replay_within_the_same_second_is_401(ac: Client, adminmail: str, serie3, sb) -> None:
    ext_id = external_id()
    prepared = ac.prepare("POST", f"/v3/publicaciones/{adminmail}", publication(sb, serie3, ext_id))
    assert ac.send("POST", *prepared).status_code == 201
    replay = ac.send("POST", *prepared)
    assert_problem(replay, 401, "No autorizado")
    assert "repetida" in replay.json()["Detail"]

    patch = ac.prepare("PATCH", f"/v3/publicaciones/{adminmail}/{ext_id}",
                       {"Precio": {"Moneda": "ARS", "Monto": 27900000}}, content_type="application/merge-patch+json")
    assert ac.send("PATCH", *patch).status_code == 200
    assert_problem(ac.send("PATCH", *patch), 401, "No autorizado")

    # GET is idempotent: the same signed request may be repeated.
    read = ac.prepare("GET", f"/v3/publicaciones/{adminmail}/{ext_id}")
    assert ac.send("GET", *read).status_code == ac.send("GET", *read).status_code == 200

    # Re-signed with a later Date, the same POST passes the gateway (and meets the 409 rule).
    later = formatdate(time.time() + 1, usegmt=True)
    again = ac("POST", f"/v3/publicaciones/{adminmail}", publication(sb, serie3, ext_id), date=later)
    assert_problem(again, 409, "Entidad duplicada")


def test_signing_unsigned_unknown_path_is_401_before_404(ac: Client, sb) -> None:
    assert requests.get(sb.base_url + "/autocosmos/v3/nothing", timeout=10).status_code == 401
    assert_problem(ac("GET", "/v3/nothing"), 404, "Entidad no encontrada")


# -- 2.2 catalogue -------------------------------------------------------------------------------

def test_bestmatch_matched(ac: Client) -> None:
    response = ac("GET", "/v3/versiones/bestmatch?make=bmw&model=serie%203&year=2021&bodystyle=saloon&power=190cv")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    result = response.json()
    assert result["Make"].startswith("/v3/marcas/") and result["Model"].startswith("/v3/modelos/")
    assert result["Trim"] == result["Match"]["_links"]["self"]["href"]
    assert result["Match"]["Modelo"] == "Serie 3" and result["Match"]["Potencia"] == "190 cv"
    assert result["FuelType"] == result["Match"]["Propulsion"] == "diesel"
    assert result["TransmisionType"] == "Automática"
    assert result["Candidates"][0]["_links"] == result["Match"]["_links"]
    version = ac("GET", result["Trim"])
    assert version.status_code == 200 and version.json()["Nombre"] == result["Match"]["Nombre"]


def test_bestmatch_candidates_only(ac: Client) -> None:
    trim = "2.3 EcoBoost ST Hatchback 5dr Petrol Manual Euro 6 (s/s) (280 ps)"
    response = ac("GET", "/v3/versiones/bestmatch?" + requests.compat.urlencode(
        {"make": "Ford", "model": "Focus", "trim": trim, "year": "2020", "power": "280", "fuelType": "petrol"}))
    result = response.json()
    assert response.status_code == 200
    assert result["Model"] is not None and result["Match"] is None
    assert result["Trim"] == trim and result["FuelType"] == "nafta"
    assert 0 < len(result["Candidates"]) <= 20
    assert "ST Performance Pack" in [c["Nombre"] for c in result["Candidates"]]


def test_bestmatch_without_model_or_make(ac: Client) -> None:
    no_model = ac("GET", "/v3/versiones/bestmatch?make=Nissan&model=Leaf&trim=Tekna").json()
    assert no_model["Make"] is not None and no_model["Model"] is None
    assert no_model["Trim"] is None and no_model["Match"] is None and no_model["Candidates"] == []
    no_make = ac("GET", "/v3/versiones/bestmatch?make=Vauxhall&model=Corsa").json()
    assert no_make["Make"] is None and no_make["Candidates"] == []


def test_bestmatch_needs_make_and_model(ac: Client) -> None:
    body = assert_problem(ac("GET", "/v3/versiones/bestmatch?make=bmw"), 400,
                          "Validación de información esperada fallida")
    assert set(body["Errors"]) == {"model"}


def test_catalogue_lists_and_carroceria_bestmatch(ac: Client) -> None:
    coupe = ac("GET", "/v3/carrocerias/bestmatch?bodystyle=coupe")
    assert coupe.json() == {"Nombre": "Coupé", "Codename": "coupe", "_links": {"self": {"href": "/v3/carrocerias/4"}}}
    assert_problem(ac("GET", "/v3/carrocerias/bestmatch?bodystyle=nave"), 404, "Entidad no encontrada")
    marcas = ac("GET", "/v3/marcas?q=merc").json()["_entries"]
    assert [m["Nombre"] for m in marcas] == ["Mercedes-Benz"]
    marca_id = marcas[0]["_links"]["self"]["href"].rsplit("/", 1)[1]
    modelos = ac("GET", f"/v3/modelos?marca={marca_id}").json()["_entries"]
    assert "Clase A" in [m["Nombre"] for m in modelos]
    assert_problem(ac("GET", "/v3/versiones/1"), 404, "Entidad no encontrada")


# -- 2.3 publications ----------------------------------------------------------------------------

def test_publication_state_machine(ac: Client, adminmail: str, serie3, sb) -> None:
    ext_id = external_id()
    path = f"/v3/publicaciones/{adminmail}"
    created = ac("POST", path, publication(sb, serie3, ext_id))
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == f"/v3/publicaciones/{adminmail}/{ext_id}"
    assert created.json()["Estado"] == "Activa" and created.json()["Activa"] is True
    assert created.json()["_links"]["self"]["href"] == created.headers["Location"]

    duplicate = ac("POST", path, publication(sb, serie3, ext_id.lower()))
    assert_problem(duplicate, 409, "Entidad duplicada")

    one = f"{path}/{ext_id}"
    replaced = ac("PUT", one, publication(sb, serie3, ext_id, Kilometraje=46000, Color="Negro"))
    assert replaced.status_code == 200 and replaced.json()["Kilometraje"] == 46000

    patched = ac("PATCH", one, {"Precio": {"Moneda": "ARS", "Monto": 27900000}},
                 content_type="application/merge-patch+json")
    assert patched.status_code == 200
    assert patched.json()["Precio"] == {"Moneda": "ARS", "Monto": 27900000}
    assert patched.json()["Color"] == "Negro" and patched.json()["Kilometraje"] == 46000
    assert_problem(ac("PATCH", one, {"Kilometraje": 1}), 415, "Tipo de contenido no soportado")

    suspended = ac("PUT", one, publication(sb, serie3, ext_id, Activa=False))
    assert suspended.json()["Estado"] == "Suspendida" and suspended.json()["Activa"] is False
    reactivated = ac("PUT", one, publication(sb, serie3, ext_id, Activa=True))
    assert reactivated.json()["Estado"] == "Activa"

    assert ext_id in [p["ExternalId"] for p in ac("GET", path).json()["_entries"]]
    assert ac("DELETE", one).status_code == 204
    archived = ac("GET", one)
    assert archived.status_code == 200 and archived.json()["Estado"] == "Archivada"
    assert archived.json()["Activa"] is False
    for method, body, options in (("DELETE", None, {}), ("PUT", publication(sb, serie3, ext_id), {}),
                                  ("PATCH", {"Color": "Rojo"}, {"content_type": "application/merge-patch+json"})):
        assert_problem(ac(method, one, body, **options), 409, "Publicación archivada")
    recreate = ac("POST", path, publication(sb, serie3, ext_id.upper()))
    assert_problem(recreate, 409, "Publicación archivada")
    settle(sb)


def test_vendor_actions_suspend_archive_delete_and_edit_on_the_sandboxs_side(ac: Client, adminmail: str, serie3,
                                                                            sb) -> None:
    """What Autocosmos may do on its own (control route `vendor-action`), as the signed API then shows it."""
    path = f"/v3/publicaciones/{adminmail}"
    ids = {action: external_id() for action in ("photo_loss", "archive", "delete", "edit")}
    for ext_id in ids.values():
        assert ac("POST", path, publication(sb, serie3, ext_id)).status_code == 201
    settle(sb)

    def act(action: str, **extra: Any) -> Any:
        return control(sb, "POST", f"/_sandbox/autocosmos/publicaciones/{adminmail}/{ids[action]}/vendor-action",
                       {"action": action, **extra})

    assert act("photo_loss")["Estado"] == "Suspendida"
    lost = ac("GET", f"{path}/{ids['photo_loss']}").json()
    assert lost["Estado"] == "Suspendida" and lost["Fotos"] == []
    assert ac("PUT", f"{path}/{ids['photo_loss']}", publication(sb, serie3, ids["photo_loss"])).status_code == 200
    settle(sb)
    assert ac("GET", f"{path}/{ids['photo_loss']}").json()["Estado"] == "Activa", "a PUT with valid photos lifts it"

    assert act("archive")["Estado"] == "Archivada"
    assert_problem(ac("PUT", f"{path}/{ids['archive']}", publication(sb, serie3, ids["archive"])), 409,
                   "Publicación archivada")

    assert act("delete") == {"deleted": True}
    assert ac("GET", f"{path}/{ids['delete']}").status_code == 404
    assert ids["delete"] not in [p["ExternalId"] for p in ac("GET", path).json()["_entries"]]
    again = ac("POST", path, publication(sb, serie3, ids["delete"], Kilometraje=12345))  # not a replay of the first
    assert again.status_code == 201, "the ExternalId is free again"

    assert act("edit", fields={"Kilometraje": 99999, "ExternalId": "ignored"})["Kilometraje"] == 99999
    assert ac("GET", f"{path}/{ids['edit']}").json()["ExternalId"] == ids["edit"]
    unknown = requests.post(f"{sb.base_url}/_sandbox/autocosmos/publicaciones/{adminmail}/{ids['edit']}/vendor-action",
                            json={"action": "melt"}, timeout=30)
    assert unknown.status_code == 400 and "unknown vendor action" in unknown.json()["error"]
    settle(sb)


def test_a_publication_held_without_a_signed_create_answers_the_next_create_409(ac: Client, adminmail: str, serie3,
                                                                                 sb) -> None:
    """A publication Autocosmos holds that no signed call created (control route): the vendor's signed API
    shows it and refuses a create of its ExternalId with 409, in any case; no call log entry for it."""
    path, ext_id = f"/v3/publicaciones/{adminmail}", external_id()
    before = sb.last_seq()
    held = control(sb, "POST", f"/_sandbox/autocosmos/publicaciones/{adminmail}",
                   publication(sb, serie3, ext_id, Kilometraje=11111))
    assert held["ExternalId"] == ext_id and held["Kilometraje"] == 11111
    assert sb.calls(since=before) == [], "no signed call made it, so the vendor's call log has none"
    settle(sb)
    assert ac("GET", f"{path}/{ext_id}").json()["Estado"] == "Activa"
    assert_problem(ac("POST", path, publication(sb, serie3, ext_id.upper())), 409, "Entidad duplicada")
    assert ac("PUT", f"{path}/{ext_id}", publication(sb, serie3, ext_id)).status_code == 200
    again = requests.post(f"{sb.base_url}/_sandbox/autocosmos/publicaciones/{adminmail}",
                          json=publication(sb, serie3, ext_id), timeout=30)
    assert again.status_code == 409 and "Ya existe" in again.json()["error"]
    invalid = requests.post(f"{sb.base_url}/_sandbox/autocosmos/publicaciones/{adminmail}",
                            json={"ExternalId": external_id()}, timeout=30)
    assert invalid.status_code == 400
    unknown = requests.post(f"{sb.base_url}/_sandbox/autocosmos/publicaciones/nobody@nowhere.example",
                            json=publication(sb, serie3, external_id()), timeout=30)
    assert unknown.status_code == 404
    settle(sb)


def test_publication_unknown_publication_and_unlinked_agency(ac: Client, sb, serie3) -> None:
    assert_problem(ac("GET", "/v3/publicaciones/stock@castlemotorcompany0.co.uk.example/X1"), 403,
                   "Operación prohibida")
    agency = control(sb, "POST", "/_sandbox/autocosmos/agencies",
                     {"adminmail": f"{uuid.uuid4().hex[:8]}@pendiente.com.ar", "name": "Pendiente SA",
                      "linked": False})
    assert_problem(ac("POST", f"/v3/publicaciones/{agency['adminmail']}", publication(sb, serie3, external_id())),
                   403, "Operación prohibida")
    linked = [a for a in control(sb, "GET", "/_sandbox/world")["autocosmos_agencies"] if a["linked"]][0]
    for method in ("GET", "PUT", "DELETE"):
        body = publication(sb, serie3, "NOPE-1") if method == "PUT" else None
        assert_problem(ac(method, f"/v3/publicaciones/{linked['adminmail']}/NOPE-1", body), 404,
                       "Entidad no encontrada")


def test_publication_validation_errors_are_keyed_by_field(ac: Client, adminmail: str, serie3, sb) -> None:
    bad = publication(sb, serie3, "x", VersionYear=1800, Kilometraje=-5, Color="",
                      Precio={"Moneda": "ZZZ", "Monto": 0}, Fotos=["/relative.jpg"])
    del bad["Marca"]
    body = assert_problem(ac("POST", f"/v3/publicaciones/{adminmail}", bad), 400,
                          "Validación de información esperada fallida")
    assert set(body["Errors"]) == {"ExternalId", "Marca", "VersionYear", "Kilometraje", "Color", "Precio.Moneda",
                                   "Precio.Monto", "Fotos[0]"}
    not_json = ac("POST", f"/v3/publicaciones/{adminmail}", b"{not json")
    assert_problem(not_json, 400, "Validación de información esperada fallida")


# -- 2.4 photos ----------------------------------------------------------------------------------

def test_photos_photo_processing_suspends_and_a_put_reactivates(ac: Client, adminmail: str, serie3, sb) -> None:
    ext_id = external_id()
    one = f"/v3/publicaciones/{adminmail}/{ext_id}"
    unusable = [media(sb, f"{ext_id}-small-320x240.jpg"), media(sb, f"missing-{ext_id}.jpg"),
                media(sb, f"{ext_id}-narrow-639x480.png")]
    created = ac("POST", f"/v3/publicaciones/{adminmail}", publication(sb, serie3, ext_id, Fotos=unusable))
    assert created.status_code == 201 and created.json()["Estado"] == "Activa"  # processing comes after the answer
    settle(sb)
    after = ac("GET", one).json()
    assert after["Estado"] == "Suspendida" and after["Activa"] is False and after["Fotos"] == []

    # Reactivating without a valid photo keeps it suspended; a PUT with one valid photo lifts it.
    still = ac("PUT", one, publication(sb, serie3, ext_id, Fotos=unusable[:1]))
    assert still.status_code == 200
    settle(sb)
    assert ac("GET", one).json()["Estado"] == "Suspendida"
    good = [media(sb, f"{ext_id}-big-1280x960.jpg"), unusable[0], media(sb, f"{ext_id}-ok-640x360.webp")]
    assert ac("PUT", one, publication(sb, serie3, ext_id, Fotos=good)).status_code == 200
    settle(sb)
    final = ac("GET", one).json()
    assert final["Estado"] == "Activa" and final["Fotos"] == [good[0], good[2]]


def test_photos_empty_photo_list_suspends(ac: Client, adminmail: str, serie3, sb) -> None:
    ext_id = external_id()
    assert ac("POST", f"/v3/publicaciones/{adminmail}", publication(sb, serie3, ext_id, Fotos=[])).status_code == 201
    settle(sb)
    assert ac("GET", f"/v3/publicaciones/{adminmail}/{ext_id}").json()["Estado"] == "Suspendida"


class _Recorder(BaseHTTPRequestHandler):
    """Answers from a per-path script of statuses; records every request."""

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._answer()

    def do_POST(self) -> None:  # noqa: N802
        self._answer()

    def _answer(self) -> None:
        server: Any = self.server
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        server.seen.append((self.command, self.path, dict(self.headers.items()), body))
        script = server.scripts.get(self.path.split("?")[0], [200])
        status = script.pop(0) if len(script) > 1 else script[0]
        payload = server.image if status == 200 and self.command == "GET" else b"{}"
        self.send_response(status)
        self.send_header("Content-Type", "image/jpeg" if self.command == "GET" else "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def recorder() -> Iterator[Any]:
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.seen, server.scripts = [], {}
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (10, 120, 90)).save(buffer, format="JPEG")
    server.image = buffer.getvalue()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_photo_5xx_is_retried_twice_then_dropped(ac: Client, adminmail: str, serie3, sb, recorder) -> None:
    ext_id = external_id()
    recorder.scripts[f"/{ext_id}/flaky.jpg"] = [503, 502, 200]
    recorder.scripts[f"/{ext_id}/down.jpg"] = [503, 503, 503, 200]
    recorder.scripts[f"/{ext_id}/gone.jpg"] = [410]
    urls = [f"{recorder.url}/{ext_id}/{name}.jpg" for name in ("flaky", "down", "gone")]
    assert ac("POST", f"/v3/publicaciones/{adminmail}", publication(sb, serie3, ext_id, Fotos=urls)).status_code == 201
    settle(sb)
    assert ac("GET", f"/v3/publicaciones/{adminmail}/{ext_id}").json()["Fotos"] == [urls[0]]
    hits = [path for _, path, _, _ in recorder.seen if path.startswith(f"/{ext_id}/")]
    assert hits.count(f"/{ext_id}/flaky.jpg") == 3
    assert hits.count(f"/{ext_id}/down.jpg") == 3
    assert hits.count(f"/{ext_id}/gone.jpg") == 1
    outcomes = {o["url"]: o for o in control(sb, "GET", "/_sandbox/autocosmos/photos") if o["external_id"] == ext_id}
    assert outcomes[urls[1]]["reason"] == "HTTP 503 after 3 attempts" and outcomes[urls[2]]["reason"] == "HTTP 410"


# -- 2.5 webhooks --------------------------------------------------------------------------------

def test_webhook_invitation_accepted_is_delivered_signed(ac: Client, sb, serie3, recorder) -> None:
    control(sb, "POST", "/_sandbox/config", {"receiver_url": recorder.url})
    adminmail = f"{uuid.uuid4().hex[:8]}@nueva.com.ar"
    control(sb, "POST", "/_sandbox/autocosmos/agencies", {"adminmail": adminmail, "name": "Nueva SA", "linked": False})
    assert ac("GET", f"/v3/publicaciones/{adminmail}").status_code == 403

    before = len(recorder.seen)
    answer = control(sb, "POST", "/_sandbox/autocosmos/invitations/accept", {"adminmail": adminmail, "duplicates": 1})
    assert [a["status"] for a in answer["attempts"]] == [200, 200]
    received = [r for r in recorder.seen[before:] if r[1] == "/webhooks/autocosmos"]
    assert len(received) == 2
    method, _, headers, body = received[0]
    headers = {k.lower(): v for k, v in headers.items()}
    assert method == "POST" and headers["content-type"] == "application/json"
    hook_id, timestamp, topic = (headers["notification-hook-id"], headers["notification-timestamp"],
                                 headers["notification-topic"])
    assert uuid.UUID(hook_id) and topic == "invitacionagencia_aceptada"
    assert abs(int(timestamp) - time.time()) < 60
    expected = base64.b64encode(hmac.new(WEBHOOK_SECRET.encode(), f"{hook_id}\n{timestamp}\n{topic}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(headers["notification-signature"], expected)
    payload = json.loads(body)
    assert payload["AdminMail"] == adminmail and payload["Agencia"] == "Nueva SA"
    assert payload["AceptadaEn"].endswith("Z")
    assert {k.lower(): v for k, v in received[1][2].items()}["notification-hook-id"] == hook_id  # redelivery
    assert ac("GET", f"/v3/publicaciones/{adminmail}").status_code == 200  # linked now


def test_webhook_worked_vector_against_the_sandbox_signer(sb) -> None:
    """The sandbox's signature for the contract's vector, read without delivering, matches the contract."""
    control(sb, "POST", "/_sandbox/config", {"credentials": {"autocosmos_webhook_secret":
                                                             "example-webhook-secret-0123456789"}})
    try:
        adminmail = f"{uuid.uuid4().hex[:8]}@vector.com.ar"
        control(sb, "POST", "/_sandbox/autocosmos/agencies", {"adminmail": adminmail, "linked": False})
        answer = control(sb, "POST", "/_sandbox/autocosmos/invitations/accept",
                         {"adminmail": adminmail, "deliver": False, "timestamp": 1767225600})
        headers = answer["notification"]["headers"]
        hook_id = headers["Notification-Hook-ID"]
        expected = base64.b64encode(hmac.new(b"example-webhook-secret-0123456789",
                                             f"{hook_id}\n1767225600\ninvitacionagencia_aceptada".encode(),
                                             hashlib.sha256).digest()).decode()
        assert headers["Notification-Signature"] == expected
        assert base64.b64encode(hmac.new(b"example-webhook-secret-0123456789",
                                         b"3f2a9c1e-5b7d-4e21-9a0f-6c8d2b4e1a70\n1767225600\ninvitacionagencia_aceptada",
                                         hashlib.sha256).digest()).decode() == "bw2CXwclSHCbQLtZkNC/0R7f43uI+cINh1PH4Ug/21w="
    finally:
        control(sb, "POST", "/_sandbox/config", {"credentials": {"autocosmos_webhook_secret": WEBHOOK_SECRET}})


# -- 2.6 enquiries -------------------------------------------------------------------------------

def test_enquiries_since_a_date(ac: Client, adminmail: str, serie3, sb) -> None:
    ext_id = external_id()
    assert ac("POST", f"/v3/publicaciones/{adminmail}", publication(sb, serie3, ext_id)).status_code == 201
    old = control(sb, "POST", "/_sandbox/autocosmos/consultas",
                  {"adminmail": adminmail, "external_id": ext_id, "fecha": "2026-01-02T15:04:05Z"})
    new = control(sb, "POST", "/_sandbox/autocosmos/consultas",
                  {"adminmail": adminmail, "external_id": ext_id, "fecha": "2026-03-01T00:00:00Z", "nombre": "Ana"})
    everything = ac("GET", f"/v3/consultas/{adminmail}").json()["_entries"]
    assert [e["Id"] for e in everything if e["ExternalId"] == ext_id] == [old["Id"], new["Id"]]
    since = ac("GET", f"/v3/consultas/{adminmail}?desde=2026-03-01T00:00:00Z").json()["_entries"]
    assert [e["Id"] for e in since if e["ExternalId"] == ext_id] == [new["Id"]]
    assert set(since[-1]) == {"Id", "ExternalId", "Nombre", "Email", "Telefono", "Mensaje", "Fecha"}
    assert_problem(ac("GET", f"/v3/consultas/{adminmail}?desde=ayer"), 400, "Validación de información esperada fallida")
    settle(sb)


# -- call log and faults -------------------------------------------------------------------------

def test_signing_calls_are_logged_and_faults_answer_as_problems(ac: Client, sb) -> None:
    since = max([c["seq"] for c in sb.calls()] or [0])
    requests.post(sb.base_url + "/_sandbox/faults", json={"vendor": "autocosmos", "path": "/v3/marcas",
                                                          "status": 503, "times": 1}, timeout=10).raise_for_status()
    faulted = ac("GET", "/v3/marcas")
    assert faulted.status_code == 503 and faulted.headers["content-type"] == PROBLEM
    assert faulted.json()["Status"] == 503 and faulted.json()["Instance"] == "/v3/marcas"
    assert ac("GET", "/v3/marcas").status_code == 200
    logged = [c for c in sb.calls(vendor="autocosmos") if c["seq"] > since and c["path"] == "/v3/marcas"]
    assert [c["status"] for c in logged] == [503, 200]

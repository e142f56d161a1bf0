"""The sandbox's Webmotors API Marketplace against api/webmotors.md Part 2, over real HTTP."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any, Callable, Iterator

import pytest
import requests

from dealer_pipeline.sandbox.runner import SandboxHandle, start_sandbox
from tests.sandbox.receiver_stub import ReceiverStub

CLIENT = ("sandbox-wm-client", "sandbox-wm-secret")
MSG_401 = ("Não autorizado. Causas prováveis: token de integração inválido; integração com o classificado "
           "desativada no Cockpit (Estoque ou CRM); nenhum usuário ativo com perfil \"Integrador de API\" no Cockpit.")
BODY_401 = {"status": 401, "message": MSG_401}


@pytest.fixture(scope="module")
def wm(stub: ReceiverStub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    with start_sandbox(dealers=3, vehicles=30, receiver_url=stub.url,
                       workdir=tmp_path_factory.mktemp("webmotors")) as handle:
        yield handle


def dealer(sandbox: SandboxHandle, index: int = 0) -> dict[str, Any]:
    return sandbox.world()["webmotors"][index]


def grant(sandbox: SandboxHandle, username: str, password: str, *, client: tuple[str, str] = CLIENT,
          body: Any = None) -> requests.Response:
    payload = body if body is not None else {"grant_type": "password", "username": username, "password": password}
    return requests.post(f"{sandbox.url('webmotors')}/oauth/v1/access-token", json=payload, auth=client, timeout=10)


def token_for(sandbox: SandboxHandle, index: int = 0) -> str:
    d = dealer(sandbox, index)
    answer = grant(sandbox, d["username"], d["password"])
    assert answer.status_code == 201, answer.text
    return answer.json()["access_token"]


def api(sandbox: SandboxHandle, method: str, path: str, token: str | None, **kwargs: Any) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers |= {"client_id": CLIENT[0], "access_token": token}
    return requests.request(method, f"{sandbox.url('webmotors')}{path}", headers=headers, timeout=10, **kwargs)


@pytest.fixture
def access(wm: SandboxHandle) -> Iterator[Callable[..., None]]:
    changed: list[str] = []

    def set_access(cnpj: str, **flags: bool) -> None:
        changed.append(cnpj)
        wm.control("POST", f"/webmotors/dealers/{cnpj}/access", flags)

    yield set_access
    for cnpj in changed:
        wm.control("POST", f"/webmotors/dealers/{cnpj}/access",
                   {"user_active": True, "stock_integration": True, "crm_integration": True})


# -- 2.1 token --------------------------------------------------------------------------------------------
def test_password_grant_returns_201_with_expires_in(wm: SandboxHandle) -> None:
    d = dealer(wm)
    answer = grant(wm, d["username"], d["password"])
    assert answer.status_code == 201
    assert set(answer.json()) == {"access_token", "expires_in"} and answer.json()["expires_in"] == 3600
    header = answer.request.headers["Authorization"]
    assert header == "Basic " + base64.b64encode(b"sandbox-wm-client:sandbox-wm-secret").decode()


@pytest.mark.parametrize("client", [("sandbox-wm-client", "wrong"), ("other-client", "sandbox-wm-secret")])
def test_bad_basic_credentials_are_401_naming_the_three_causes(wm: SandboxHandle, client: tuple[str, str]) -> None:
    d = dealer(wm)
    answer = grant(wm, d["username"], d["password"], client=client)
    assert answer.status_code == 401
    assert answer.json() == BODY_401
    assert answer.content.decode("utf-8") == json.dumps(BODY_401, ensure_ascii=False, separators=(",", ":"))


def test_missing_basic_header_is_401(wm: SandboxHandle) -> None:
    d = dealer(wm)
    answer = requests.post(f"{wm.url('webmotors')}/oauth/v1/access-token", timeout=10,
                           json={"grant_type": "password", "username": d["username"], "password": d["password"]})
    assert answer.status_code == 401 and answer.json() == BODY_401


@pytest.mark.parametrize("change,field", [
    ({"password": "wrong"}, "username"), ({"username": "nobody@example.com"}, "username"),
    ({"grant_type": "client_credentials"}, "grant_type"), ({"password": None}, "password"),
])
def test_bad_grant_bodies_are_400_with_errors(wm: SandboxHandle, change: dict, field: str) -> None:
    d = dealer(wm)
    body = {"grant_type": "password", "username": d["username"], "password": d["password"], **change}
    answer = grant(wm, "", "", body=body)
    assert answer.status_code == 400
    payload = answer.json()
    assert payload["status"] == 400 and payload["message"]
    assert field in {e["field"] for e in payload["errors"]}


def test_malformed_json_on_the_token_call_is_400(wm: SandboxHandle) -> None:
    answer = requests.post(f"{wm.url('webmotors')}/oauth/v1/access-token", data=b"{not json", auth=CLIENT,
                           headers={"Content-Type": "application/json"}, timeout=10)
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "body"


@pytest.mark.parametrize("flags", [{"user_active": False}, {"stock_integration": False, "crm_integration": False}])
def test_inactive_user_or_deactivated_integration_is_401(wm: SandboxHandle, access: Callable[..., None],
                                                         flags: dict) -> None:
    d = dealer(wm, 1)
    token = token_for(wm, 1)
    access(d["cnpj"], **flags)
    answer = grant(wm, d["username"], d["password"])
    assert answer.status_code == 401 and answer.json() == BODY_401
    listed = api(wm, "GET", "/site/v1/estoque", token)
    assert listed.status_code == 401 and listed.json() == BODY_401


def test_api_calls_need_client_id_and_a_valid_token(wm: SandboxHandle) -> None:
    token = token_for(wm)
    assert api(wm, "GET", "/site/v1/estoque", token).status_code == 200
    for headers in ({"access_token": token}, {"client_id": CLIENT[0]}, {"client_id": CLIENT[0], "access_token": "x"},
                    {"client_id": "other", "access_token": token}, {"Authorization": f"Bearer {token}"}):
        answer = requests.get(f"{wm.url('webmotors')}/site/v1/estoque", headers=headers, timeout=10)
        assert answer.status_code == 401 and answer.json() == BODY_401, headers


def test_tokens_expire(fresh_sandbox: Callable[..., SandboxHandle]) -> None:
    sandbox = fresh_sandbox(dealers=1, vehicles=2, token_ttl_seconds=1)
    token = token_for(sandbox)
    assert api(sandbox, "GET", "/site/v1/estoque", token).status_code == 200
    time.sleep(1.1)
    answer = api(sandbox, "GET", "/site/v1/estoque", token)
    assert answer.status_code == 401 and answer.json() == BODY_401


# -- 2.2 stock ---------------------------------------------------------------------------------------------
def test_stock_is_scoped_to_the_token_dealer_and_ordered_by_id(wm: SandboxHandle) -> None:
    lists = []
    for index in (0, 2):
        body = api(wm, "GET", "/site/v1/estoque", token_for(wm, index), params={"p": 1, "qty": 100}).json()
        assert set(body) == {"total", "hits"} and body["total"] == len(body["hits"]) == 30
        ids = [hit["id"] for hit in body["hits"]]
        assert ids == sorted(ids)
        lists.append(set(ids))
    assert not lists[0] & lists[1]


def test_stock_pagination_edges(wm: SandboxHandle) -> None:
    token = token_for(wm)
    every = [h["id"] for h in api(wm, "GET", "/site/v1/estoque", token, params={"p": 1, "qty": 100}).json()["hits"]]
    pages = [api(wm, "GET", "/site/v1/estoque", token, params={"p": p, "qty": 10}).json() for p in (1, 2, 3, 4)]
    assert [len(page["hits"]) for page in pages] == [10, 10, 10, 0] and all(p["total"] == 30 for p in pages)
    assert [h["id"] for page in pages for h in page["hits"]] == every
    sevens = [len(api(wm, "GET", "/site/v1/estoque", token, params={"p": p, "qty": 7}).json()["hits"])
              for p in (4, 5, 6)]
    assert sevens == [7, 2, 0]


@pytest.mark.parametrize("params,field", [({"p": 1, "qty": 0}, "qty"), ({"p": 1, "qty": 101}, "qty"),
                                          ({"p": 0, "qty": 10}, "p"), ({"p": "um", "qty": 10}, "p")])
def test_stock_parameters_out_of_range_are_400(wm: SandboxHandle, params: dict, field: str) -> None:
    answer = api(wm, "GET", "/site/v1/estoque", token_for(wm), params=params)
    assert answer.status_code == 400
    body = answer.json()
    assert body["status"] == 400 and body["errors"][0]["field"] == field


def test_stock_hits_follow_the_contract(wm: SandboxHandle) -> None:
    hits = [hit for index in range(3)
            for hit in api(wm, "GET", "/site/v1/estoque", token_for(wm, index), params={"qty": 100}).json()["hits"]]
    assert hits
    for hit in hits:
        assert set(hit) == {"id", "price", "photos", "details", "vehicle", "status", "updated_at"}
        assert isinstance(hit["id"], int)
        assert re.match(r"^\d+\.\d{2}$", hit["price"])
        assert all(p.startswith(f"{wm.base_url}/media/") for p in hit["photos"])
        vehicle = hit["vehicle"]
        assert set(vehicle) == {"brand", "model", "version", "year_manufacture", "year_model", "km", "color",
                                "plate_final", "acessories", "fuel", "transmission", "doors"}
        assert vehicle["brand"]["name"].isupper() and vehicle["version"]["name"] == vehicle["version"]["name"].upper()
        assert vehicle["fuel"]["name"] in ("Flex", "Gasolina", "Etanol", "Diesel", "Elétrico", "Híbrido", "GNV")
        assert vehicle["transmission"]["name"] in ("Manual", "Automática", "Automatizada", "CVT")
        assert isinstance(vehicle["doors"], int) and isinstance(vehicle["acessories"]["name"], list)
        assert hit["status"] in ("Ativo", "Vendido", "Inativo")
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", hit["updated_at"])
    fuels = {hit["vehicle"]["fuel"]["name"] for hit in hits}
    assert "Flex" in fuels
    assert sum(hit["status"] == "Ativo" for hit in hits) > len(hits) / 2


def test_stock_changes_show_in_the_list(wm: SandboxHandle) -> None:
    token = token_for(wm, 2)
    first = api(wm, "GET", "/site/v1/estoque", token, params={"qty": 1}).json()["hits"][0]
    changed = wm.change("webmotors", first["id"], price=45990, status="Vendido", km=1234)["hit"]
    assert changed["price"] == "45990.00" and changed["updated_at"] >= first["updated_at"]
    again = api(wm, "GET", "/site/v1/estoque", token, params={"qty": 1}).json()["hits"][0]
    assert again == changed and again["status"] == "Vendido" and again["vehicle"]["km"] == 1234
    created = wm.control("POST", f"/webmotors/dealers/{dealer(wm, 2)['cnpj']}/stock", {"price": 99900})
    listed = api(wm, "GET", "/site/v1/estoque", token, params={"qty": 100}).json()
    assert listed["total"] == 31 and listed["hits"][-1]["id"] == created["id"]
    wm.control("POST", f"/webmotors/stock/{created['id']}/delete", {"remove": True})
    assert api(wm, "GET", "/site/v1/estoque", token, params={"qty": 100}).json()["total"] == 30


# -- 2.3 publication status report --------------------------------------------------------------------------
def test_status_report_rules(wm: SandboxHandle) -> None:
    token = token_for(wm)
    ad_id = api(wm, "GET", "/site/v1/estoque", token, params={"qty": 1}).json()["hits"][0]["id"]
    other = api(wm, "GET", "/site/v1/estoque", token_for(wm, 2), params={"qty": 1}).json()["hits"][0]["id"]
    path = f"/marketplace/v1/anuncios/{ad_id}/status"
    published = {"status": "Publicado", "url": f"https://classificado.example.com/anuncio/{ad_id}", "mensagem": None}
    for _ in range(2):
        answer = api(wm, "PUT", path, token, json=published)
        assert answer.status_code == 204 and answer.content == b""
    failed = {"status": "Erro", "url": None, "mensagem": "Foto principal ausente"}
    assert api(wm, "PUT", path, token, json=failed).status_code == 204
    cases = [
        ({"status": "Publicada", "url": "https://x"}, 400, "status"),
        ({"status": "Publicado", "url": None, "mensagem": None}, 422, "url"),
        ({"status": "Erro", "url": None, "mensagem": "  "}, 422, "mensagem"),
        ({"status": "Erro", "url": None}, 422, "mensagem"),
    ]
    for body, status, field in cases:
        answer = api(wm, "PUT", path, token, json=body)
        assert answer.status_code == status, body
        assert answer.json()["status"] == status and answer.json()["errors"][0]["field"] == field
    malformed = api(wm, "PUT", path, token, data=b"{", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400
    for unknown in (99999999, other, "abc"):
        answer = api(wm, "PUT", f"/marketplace/v1/anuncios/{unknown}/status", token, json=published)
        assert answer.status_code == 404 and answer.json()["status"] == 404
    reports = wm.control("GET", "/webmotors/status-reports", params={"id": ad_id})
    assert [r["status"] for r in reports] == ["Publicado", "Publicado", "Erro"]


# -- 2.4 lead notice, 2.5 lead detail ----------------------------------------------------------------------
def test_lead_notice_carries_the_callback_token_and_ids(wm: SandboxHandle, fresh_stub: ReceiverStub) -> None:
    d = dealer(wm)
    created = wm.control("POST", "/webmotors/leads", {"cnpj": d["cnpj"], "tipo": 2})
    assert [x["status"] for x in created["delivered"]] == [200]
    (received,) = fresh_stub.wait_for(1)
    assert received.method == "POST"
    assert received.path == "/webhooks/webmotors/leads?token=sandbox-wm-leads-token"
    assert received.headers["content-type"] == "application/json"
    notice = json.loads(received.body)
    assert notice == {"IdLead": created["IdLead"], "CodigoCliente": d["codigo_cliente"],
                      "Cnpj": d["cnpj_formatted"], "IdTipoLead": "2"}
    assert all(isinstance(value, str) for value in notice.values())
    assert re.match(r"^\d\d\.\d{3}\.\d{3}/\d{4}-\d\d$", notice["Cnpj"])
    assert "signature" not in " ".join(received.headers).lower()


def test_lead_notice_is_resent_up_to_three_times_on_non_2xx(wm: SandboxHandle, fresh_stub: ReceiverStub) -> None:
    fresh_stub.default_status = 500
    wm.configure(webmotors_lead_retry_interval=0.1)
    try:
        created = wm.control("POST", "/webmotors/leads", {"cnpj": dealer(wm)["cnpj"], "wait": True})
        assert [x["status"] for x in created["delivered"]] == [500, 500, 500, 500]
        assert len(fresh_stub.wait_for(4)) == 4
        with fresh_stub.lock:
            fresh_stub.received.clear()
        fresh_stub.default_status = 200
        fresh_stub.statuses.extend([503])
        second = wm.control("POST", "/webmotors/leads", {"cnpj": dealer(wm)["cnpj"]})
        assert [x["status"] for x in second["delivered"]] == [503]
        wm.settle()
        assert len(fresh_stub.wait_for(2)) == 2
        wm.settle()
        assert len(fresh_stub.received) == 2  # no re-send after a 2xx
        attempts = [x for x in wm.deliveries(vendor="webmotors") if x["event"] == f"lead {second['IdLead']}"]
        assert [(x["attempt"], x["status"]) for x in attempts] == [(1, 503), (2, 200)]
        assert all("token=***" in x["url"] for x in attempts)
    finally:
        fresh_stub.default_status = 200
        wm.configure(webmotors_lead_retry_interval=1800)


def test_lead_detail_with_the_dealer_token(wm: SandboxHandle, fresh_stub: ReceiverStub) -> None:
    created = wm.control("POST", "/webmotors/leads", {"cnpj": dealer(wm)["cnpj"], "tipo": 1})
    token = token_for(wm)
    answer = api(wm, "GET", f"/lead/v1/leads/{created['IdLead']}", token, params={"id_tipo_lead": 1})
    assert answer.status_code == 200
    detail = answer.json()
    assert set(detail) == {"id", "status", "tipoLeadDesc", "mensagem", "cliente", "loja", "anuncio", "vendedor"}
    assert set(detail["cliente"]) == {"nome", "email", "telefone"} and set(detail["anuncio"]) == {"id", "marca",
                                                                                                   "modelo", "placa"}
    assert detail["id"] == int(created["IdLead"])
    assert api(wm, "GET", f"/lead/v1/leads/{created['IdLead']}", token_for(wm, 2),
               params={"id_tipo_lead": 1}).status_code == 404
    assert api(wm, "GET", "/lead/v1/leads/1", token, params={"id_tipo_lead": 1}).status_code == 404
    assert api(wm, "GET", f"/lead/v1/leads/{created['IdLead']}", token, params={"id_tipo_lead": 2}).status_code == 404
    assert api(wm, "GET", f"/lead/v1/leads/{created['IdLead']}", token).status_code == 400


def test_no_lead_notice_without_crm_integration(wm: SandboxHandle, fresh_stub: ReceiverStub,
                                                access: Callable[..., None]) -> None:
    d = dealer(wm, 1)
    access(d["cnpj"], crm_integration=False)
    created = wm.control("POST", "/webmotors/leads", {"cnpj": d["cnpj"]})
    assert created["delivered"] == [] and "CRM" in created["note"]
    wm.settle()
    assert fresh_stub.received == []


# -- 2.6 CRM lead insertion ---------------------------------------------------------------------------------
def test_crm_lead_insertion_rules(wm: SandboxHandle, access: Callable[..., None]) -> None:
    d = dealer(wm)
    token = token_for(wm)
    ad_id = api(wm, "GET", "/site/v1/estoque", token, params={"qty": 1}).json()["hits"][0]["id"]
    lead = {"cnpj": d["cnpj_formatted"], "anuncio_id": ad_id, "nome": "Maria Souza", "email": "maria@example.com",
            "telefone": "11988887777", "mensagem": "Tenho interesse.", "origem": "Classificado Exemplo"}
    created = api(wm, "POST", "/crm/v1/leads", token, json=lead)
    assert created.status_code == 201 and isinstance(created.json()["id"], int) and set(created.json()) == {"id"}
    without_ad = {k: v for k, v in lead.items() if k != "anuncio_id"}
    assert api(wm, "POST", "/crm/v1/leads", token, json=without_ad).status_code == 201
    bad = [({**lead, "nome": ""}, 400, "nome"), ({k: v for k, v in lead.items() if k != "origem"}, 400, "origem"),
           ({**lead, "email": None, "telefone": None}, 400, "email"), ({**lead, "anuncio_id": "x"}, 400, "anuncio_id"),
           ({**lead, "cnpj": "123"}, 400, "cnpj"), ({**lead, "cnpj": dealer(wm, 2)["cnpj"]}, 422, "cnpj"),
           ({**lead, "anuncio_id": 1}, 422, "anuncio_id")]
    for body, status, field in bad:
        answer = api(wm, "POST", "/crm/v1/leads", token, json=body)
        assert answer.status_code == status, (body, answer.text)
        assert field in {e["field"] for e in answer.json()["errors"]}
    access(d["cnpj"], crm_integration=False)
    denied = api(wm, "POST", "/crm/v1/leads", token, json=lead)
    assert denied.status_code == 401 and denied.json() == BODY_401
    assert len(wm.control("GET", "/webmotors/crm-leads")) >= 2


def test_request_bodies_over_one_mebibyte_are_413(wm: SandboxHandle) -> None:
    token = token_for(wm)
    huge = {"cnpj": dealer(wm)["cnpj"], "nome": "x", "origem": "y", "email": "a@b", "mensagem": "z" * (1024 * 1024)}
    answer = api(wm, "POST", "/crm/v1/leads", token, json=huge)
    assert answer.status_code == 413 and answer.json()["status"] == 413


def test_unknown_paths_are_404_with_the_error_shape(wm: SandboxHandle) -> None:
    answer = api(wm, "GET", "/leads/v1/123", token_for(wm))
    assert answer.status_code == 404 and set(answer.json()) == {"status", "message"}


def test_app_not_released_for_an_api_is_403(wm: SandboxHandle) -> None:
    token = token_for(wm)
    wm.configure(extra={"webmotors_unreleased_apis": ["/crm/"]})
    try:
        denied = api(wm, "POST", "/crm/v1/leads", token, json={})
        assert denied.status_code == 403 and set(denied.json()) == {"status", "message"}
        assert api(wm, "GET", "/site/v1/estoque", token).status_code == 200
    finally:
        wm.configure(extra={"webmotors_unreleased_apis": []})

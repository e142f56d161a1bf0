"""Webmotors API Marketplace, as api/webmotors.md Part 2 binds it: the password-grant token
(Basic client credentials, per-dealer scope), `/site/v1/estoque`, the publication status report,
lead detail, CRM lead insertion and `{status, message[, errors]}` error bodies; and, under
`/_sandbox/webmotors`, endpoints that create leads (delivering the lead notice with the callback
`token`, re-sent on non-2xx) and change stock.

Checks run in this order: on the token call body size (413), client credentials (401), body (400),
user (400/401); on API calls token and dealer state (401), app release (403), body size (413),
parameters and body (400), resource ownership (404), business rules (422).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import hashlib
import hmac
import json
import uuid
from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dealer_pipeline.sandbox.control import json_object
from dealer_pipeline.sandbox.faults import FaultRule
from dealer_pipeline.sandbox.media import image_id as make_image_id
from dealer_pipeline.sandbox.runtime import IssuedToken, SandboxRuntime
from dealer_pipeline.sandbox.world import BrDealer, SandboxWorld

VENDOR = "webmotors"
MAX_BODY = 1024 * 1024
MAX_QTY = 100
DEFAULT_QTY = 10
STATUSES = ("Ativo", "Vendido", "Inativo")
REPORT_STATUSES = ("Publicado", "Erro")
LEAD_TYPES = {1: "Ligação", 2: "Proposta", 3: "Proposta 0 km", 4: "Proposta moto", 11: "WhatsApp",
              12: "WhatsApp (veículo)"}
MESSAGES = {
    400: "Requisição inválida",
    401: ("Não autorizado. Causas prováveis: token de integração inválido; integração com o classificado "
          "desativada no Cockpit (Estoque ou CRM); nenhum usuário ativo com perfil \"Integrador de API\" no Cockpit."),
    403: "Aplicação não liberada para esta API",
    404: "Recurso não encontrado",
    413: "Requisição maior que o permitido",
    422: "Regra de negócio violada",
    429: "Limite de requisições excedido",
    500: "Erro inesperado",
}


def error_body(status: int, message: str | None = None, errors: list[dict[str, str]] | None = None) -> bytes:
    """`{"status", "message"[, "errors"]}` (2.8); 400 and 422 always carry `errors`."""
    body: dict[str, Any] = {"status": status, "message": message or MESSAGES.get(status, "Erro")}
    if errors is not None or status in (400, 422):
        body["errors"] = errors or []
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _error(status: int, message: str | None = None, errors: list[dict[str, str]] | None = None) -> Response:
    return Response(error_body(status, message, errors), status_code=status,
                    media_type="application/json; charset=utf-8")


def _field_error(status: int, field: str, message: str) -> Response:
    return _error(status, None, [{"field": field, "message": message}])


def render_fault(status: int, rule: FaultRule | None, facts: Mapping[str, Any]) -> tuple[bytes, str]:
    if rule is not None and rule.body is not None:
        body = rule.body if isinstance(rule.body, str) else json.dumps(rule.body, ensure_ascii=False,
                                                                       separators=(",", ":"))
        return body.encode(), "application/json; charset=utf-8"
    return error_body(status), "application/json; charset=utf-8"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class WebmotorsState:
    """Leads, CRM insertions and status reports the sandbox has seen or made."""

    def __init__(self) -> None:
        self.leads: dict[str, dict[str, Any]] = {}
        self.next_lead = 424700
        self.crm_leads: list[dict[str, Any]] = []
        self.next_crm = 781200
        self.status_reports: list[dict[str, Any]] = []


class WebmotorsApi:
    def __init__(self, world: SandboxWorld, runtime: SandboxRuntime, state: WebmotorsState) -> None:
        self.world = world
        self.runtime = runtime
        self.state = state

    # -- helpers ---------------------------------------------------------------------------
    async def _body(self, request: Request) -> bytes | Response:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY:
            return _error(413)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                return _error(413)
            chunks.append(chunk)
        return b"".join(chunks)

    async def _json(self, request: Request) -> Any | Response:
        raw = await self._body(request)
        if isinstance(raw, Response):
            return raw
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _field_error(400, "body", f"JSON malformado: {exc}")

    def _released(self, path: str) -> Response | None:
        for prefix in self.runtime.config.extra.get("webmotors_unreleased_apis", []):
            if path.startswith(prefix):
                return _error(403)
        return None

    def _token(self, request: Request) -> IssuedToken | None:
        client_id = request.headers.get("client_id")
        token = self.runtime.tokens.valid(VENDOR, request.headers.get("access_token"))
        if token is None or not client_id or not hmac.compare_digest(client_id, token.subject["client_id"]):
            return None
        if client_id != self.runtime.config.credentials["webmotors_client_id"]:
            return None
        return token

    def _dealer(self, request: Request, *, need: str) -> BrDealer | Response:
        """The dealer the token belongs to, if its user and the `need`ed integration are active."""
        token = self._token(request)
        if token is None:
            return _error(401)
        dealer = self.world.br_dealer(token.subject["cnpj"])
        if dealer is None or not dealer.user_active or not getattr(dealer, need):
            return _error(401)
        denied = self._released(request.url.path.removeprefix("/webmotors"))
        return denied or dealer

    # -- token -----------------------------------------------------------------------------
    async def token(self, request: Request) -> Response:
        raw = await self._body(request)
        if isinstance(raw, Response):
            return raw
        if not self._client_ok(request.headers.get("authorization", "")):
            return _error(401)
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _field_error(400, "body", f"JSON malformado: {exc}")
        if not isinstance(payload, dict):
            return _field_error(400, "body", "o corpo deve ser um objeto JSON")
        errors = []
        if payload.get("grant_type") != "password":
            errors.append({"field": "grant_type", "message": "grant_type deve ser \"password\""})
        for field in ("username", "password"):
            if not isinstance(payload.get(field), str) or not payload[field]:
                errors.append({"field": field, "message": "campo obrigatório"})
        if errors:
            return _error(400, None, errors)
        dealer = self.world.br_dealer_by_username(payload["username"])
        if dealer is None or not hmac.compare_digest(payload["password"], dealer.password):
            return _error(400, "Usuário ou senha inválidos",
                          [{"field": "username", "message": "usuário ou senha inválidos"}])
        if not dealer.user_active or not (dealer.stock_integration or dealer.crm_integration):
            return _error(401)
        client_id = self.runtime.config.credentials["webmotors_client_id"]
        ttl = self.runtime.config.ttl(VENDOR)
        issued = self.runtime.tokens.issue(VENDOR, {"client_id": client_id, "cnpj": dealer.cnpj,
                                                    "username": dealer.username}, ttl, value=str(uuid.uuid4()))
        return JSONResponse({"access_token": issued.token, "expires_in": int(ttl)}, status_code=201)

    def _client_ok(self, authorization: str) -> bool:
        if authorization[:6].lower() != "basic ":
            return False
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        client_id, sep, secret = decoded.partition(":")
        credentials = self.runtime.config.credentials
        return bool(sep) and hmac.compare_digest(client_id, credentials["webmotors_client_id"]) and \
            hmac.compare_digest(secret, credentials["webmotors_client_secret"])

    # -- stock -----------------------------------------------------------------------------
    async def stock(self, request: Request) -> Response:
        dealer = self._dealer(request, need="stock_integration")
        if isinstance(dealer, Response):
            return dealer
        values = {}
        for name, default, low, high in (("p", 1, 1, None), ("qty", DEFAULT_QTY, 1, MAX_QTY)):
            raw = request.query_params.get(name)
            if raw is None:
                values[name] = default
                continue
            try:
                value = int(raw)
            except ValueError:
                return _field_error(400, name, f"{name} deve ser um número inteiro")
            if value < low or (high is not None and value > high):
                return _field_error(400, name, f"{name} fora do intervalo permitido"
                                               f" ({low}-{high})" if high else f"{name} deve ser >= {low}")
            values[name] = value
        stock = self.world.br_stock(dealer.cnpj)
        assert stock is not None
        page, qty = values["p"], values["qty"]
        hits = stock.slice((page - 1) * qty, qty)
        body = b'{"total":' + str(len(stock)).encode() + b',"hits":[' + b",".join(hits) + b"]}"
        return Response(body, media_type="application/json; charset=utf-8")

    # -- publication status ----------------------------------------------------------------
    async def status_report(self, request: Request) -> Response:
        dealer = self._dealer(request, need="stock_integration")
        if isinstance(dealer, Response):
            return dealer
        payload = await self._json(request)
        if isinstance(payload, Response):
            return payload
        if not isinstance(payload, dict):
            return _field_error(400, "body", "o corpo deve ser um objeto JSON")
        status = payload.get("status")
        if status not in REPORT_STATUSES:
            return _field_error(400, "status", "status deve ser \"Publicado\" ou \"Erro\"")
        for field in ("url", "mensagem"):
            if payload.get(field) is not None and not isinstance(payload[field], str):
                return _field_error(400, field, f"{field} deve ser texto ou null")
        try:
            ad_id = int(request.path_params["ad_id"])
        except ValueError:
            return _error(404, "Anúncio não encontrado")
        found = self.world.find_br_hit(ad_id)
        if found is None or found[0].cnpj != dealer.cnpj:
            return _error(404, "Anúncio não encontrado")
        if status == "Publicado" and not payload.get("url"):
            return _field_error(422, "url", "url é obrigatória quando o status é \"Publicado\"")
        if status == "Erro" and not (payload.get("mensagem") or "").strip():
            return _field_error(422, "mensagem", "mensagem é obrigatória quando o status é \"Erro\"")
        self.state.status_reports.append({"id": ad_id, "cnpj": dealer.cnpj, "status": status,
                                          "url": payload.get("url"), "mensagem": payload.get("mensagem"),
                                          "at": _now()})
        return Response(status_code=204)

    # -- leads -----------------------------------------------------------------------------
    async def lead_detail(self, request: Request) -> Response:
        dealer = self._dealer(request, need="crm_integration")
        if isinstance(dealer, Response):
            return dealer
        raw_type = request.query_params.get("id_tipo_lead")
        if raw_type is None:
            return _field_error(400, "id_tipo_lead", "id_tipo_lead é obrigatório")
        try:
            lead_type = int(raw_type)
        except ValueError:
            return _field_error(400, "id_tipo_lead", "id_tipo_lead deve ser um número inteiro")
        lead = self.state.leads.get(request.path_params["lead_id"])
        if lead is None or lead["cnpj"] != dealer.cnpj or lead["type"] != lead_type:
            return _error(404, "Lead não encontrado")
        return JSONResponse(lead["detail"])

    async def crm_insert(self, request: Request) -> Response:
        dealer = self._dealer(request, need="crm_integration")
        if isinstance(dealer, Response):
            return dealer
        payload = await self._json(request)
        if isinstance(payload, Response):
            return payload
        if not isinstance(payload, dict):
            return _field_error(400, "body", "o corpo deve ser um objeto JSON")
        errors = []
        for field in ("cnpj", "nome", "origem"):
            if not isinstance(payload.get(field), str) or not payload[field].strip():
                errors.append({"field": field, "message": "campo obrigatório (texto)"})
        for field in ("email", "telefone", "mensagem"):
            if payload.get(field) is not None and not isinstance(payload[field], str):
                errors.append({"field": field, "message": "deve ser texto"})
        if not (payload.get("email") or payload.get("telefone")):
            errors.append({"field": "email", "message": "informe email ou telefone"})
        ad_id = payload.get("anuncio_id")
        if ad_id is not None and (not isinstance(ad_id, int) or isinstance(ad_id, bool)):
            errors.append({"field": "anuncio_id", "message": "deve ser um número inteiro"})
        raw_cnpj = payload.get("cnpj") if isinstance(payload.get("cnpj"), str) else ""
        cnpj = "".join(c for c in raw_cnpj if c.isdigit())
        if raw_cnpj.strip() and (len(cnpj) != 14 or set(raw_cnpj) - set("0123456789./- ")):
            errors.append({"field": "cnpj", "message": "cnpj deve ter 14 dígitos (pontuação permitida)"})
        if errors:
            return _error(400, None, errors)
        if cnpj != dealer.cnpj:
            return _field_error(422, "cnpj", "cnpj não pertence à loja do token")
        if ad_id is not None:
            found = self.world.find_br_hit(ad_id)
            if found is None or found[0].cnpj != dealer.cnpj:
                return _field_error(422, "anuncio_id", "anúncio desconhecido")
        self.state.next_crm += 1
        lead_id = self.state.next_crm
        self.state.crm_leads.append({"id": lead_id, **payload, "received_at": _now()})
        return JSONResponse({"id": lead_id}, status_code=201)

    async def not_found(self, request: Request) -> Response:
        return _error(404)


def build_vendor_app(world: SandboxWorld, runtime: SandboxRuntime) -> Starlette:
    state = runtime.state.setdefault(VENDOR, WebmotorsState())
    api = WebmotorsApi(world, runtime, state)
    runtime.error_renderers[VENDOR] = render_fault

    def resolve(request: Mapping[str, Any]) -> set[str]:
        token = runtime.tokens.lookup(VENDOR, request["headers"].get("access_token"))
        if token is None:
            return set()
        return {token.subject["cnpj"], f"webmotors:{token.subject['cnpj']}"}

    runtime.dealer_resolvers[VENDOR] = resolve
    return Starlette(routes=[
        Route("/oauth/v1/access-token", api.token, methods=["POST"]),
        Route("/site/v1/estoque", api.stock, methods=["GET"]),
        Route("/marketplace/v1/anuncios/{ad_id}/status", api.status_report, methods=["PUT"]),
        Route("/lead/v1/leads/{lead_id}", api.lead_detail, methods=["GET"]),
        Route("/crm/v1/leads", api.crm_insert, methods=["POST"]),
        Route("/{rest:path}", api.not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ])


# -- control: leads and stock changes -----------------------------------------------------------
class ControlError(ValueError):
    pass


CLIENTS = (("Maria Souza", "maria.souza@example.com", "(11) 98888-7777"),
           ("João Pereira", "joao.pereira@example.com", "(21) 97777-6666"),
           ("Ana Lima", "ana.lima@example.com", "(31) 96666-5555"),
           ("Carlos Oliveira", "carlos.oliveira@example.com", "(41) 95555-4444"))
STOCK_CHANGE_KEYS = {"price", "km", "status", "photos", "details", "color", "acessories", "set"}


def _ok(result: Mapping[str, Any]) -> bool:
    status = result.get("status")
    return isinstance(status, int) and 200 <= status < 300


def apply_stock_change(hit: dict[str, Any], change: Mapping[str, Any], media_base: str) -> None:
    unknown = set(change) - STOCK_CHANGE_KEYS
    if unknown:
        raise ControlError(f"unknown change fields {sorted(unknown)}; known: {sorted(STOCK_CHANGE_KEYS)}")
    vehicle = hit["vehicle"]
    if "price" in change:
        price = change["price"]
        hit["price"] = price if isinstance(price, str) else f"{float(price):.2f}"
    if "km" in change:
        vehicle["km"] = int(change["km"])
    if "status" in change:
        hit["status"] = change["status"]  # unknown values allowed: adapters must flag, not reject
    if "photos" in change:
        photos = change["photos"]
        if isinstance(photos, int):
            seed = f"{hit['id']}:{hit.get('updated_at')}"
            photos = [f"{media_base}/media/"
                      f"{make_image_id(hashlib.sha256(f'{seed}:{n}'.encode()).hexdigest()[:30], 'normal', n)}.jpg"
                      for n in range(photos)]
        hit["photos"] = list(photos)
    if "details" in change:
        hit["details"] = change["details"]
    if "color" in change:
        vehicle["color"] = {"name": change["color"]}
    if "acessories" in change:
        vehicle["acessories"] = {"name": list(change["acessories"])}
    for dotted, value in (change.get("set") or {}).items():
        target = hit
        parts = dotted.split(".")
        for part in parts[:-1]:
            if not isinstance(target.get(part), dict):
                raise ControlError(f"set: {dotted!r} does not name a field of the hit")
            target = target[part]
        target[parts[-1]] = value
    hit["updated_at"] = _now()


def build_control_app(world: SandboxWorld, runtime: SandboxRuntime) -> Starlette:
    state: WebmotorsState = runtime.state.setdefault(VENDOR, WebmotorsState())

    async def payload_of(request: Request) -> dict[str, Any]:
        return await json_object(request, ControlError)

    def dealer_of(payload: dict[str, Any]) -> BrDealer:
        key = payload.pop("cnpj", None) or payload.pop("dealer", None) or payload.pop("dealer_id", None)
        if key is None:
            raise ControlError("give the dealer as cnpj or dealer_id")
        dealer = world.br_dealer(str(key).removeprefix("webmotors:"))
        if dealer is None:
            raise LookupError(f"no Webmotors dealer {key}")
        return dealer

    async def deliver_notice(lead_id: str, body: bytes, *, wait: bool) -> list[dict[str, Any]]:
        base = runtime.config.notification_url(VENDOR)
        assert base is not None
        token = runtime.config.credentials["webmotors_leads_token"]
        url = f"{base}{'&' if '?' in base else '?'}token={quote(token, safe='')}"
        headers = {"Content-Type": "application/json"}
        first = await runtime.deliver(VENDOR, "POST", url, headers, body, event=f"lead {lead_id}")
        results = [first]

        async def resend() -> list[dict[str, Any]]:
            more = []
            for attempt in range(2, runtime.config.webmotors_lead_retries + 2):
                await asyncio.sleep(runtime.config.webmotors_lead_retry_interval)
                result = await runtime.deliver(VENDOR, "POST", url, headers, body, event=f"lead {lead_id}",
                                               attempt=attempt)
                more.append(result)
                if _ok(result):
                    break
            return more

        if not _ok(first) and runtime.config.webmotors_lead_retries:
            if wait:
                results += await resend()
            else:
                runtime.spawn(resend())
        return results

    async def create_lead(request: Request) -> Response:
        payload = await payload_of(request)
        dealer = dealer_of(payload)
        deliver = payload.pop("deliver", True)
        wait = payload.pop("wait", False)
        lead_type = int(payload.pop("tipo", payload.pop("IdTipoLead", 2)))
        if lead_type not in LEAD_TYPES:
            raise ControlError(f"tipo must be one of {sorted(LEAD_TYPES)}")
        stock = world.br_stock(dealer.cnpj)
        assert stock is not None
        ad_id = payload.pop("anuncio_id", None)
        if ad_id is None:
            hits = [json.loads(blob) for blob in stock.slice(0, 50)]
            hit = next((h for h in hits if h["status"] == "Ativo"), hits[0] if hits else None)
        else:
            hit = stock.get(int(ad_id))
            if hit is None:
                raise LookupError(f"no ad {ad_id} for dealer {dealer.cnpj}")
        state.next_lead += 1
        lead_id = str(state.next_lead)
        name, email, phone = CLIENTS[state.next_lead % len(CLIENTS)]
        cliente = {"nome": name, "email": email, "telefone": phone, **(payload.pop("cliente", None) or {})}
        mensagem = payload.pop("mensagem", "Tenho interesse no veículo. Aceita troca?")
        if payload:
            raise ControlError(f"unknown lead fields {sorted(payload)}")
        detail = {
            "id": int(lead_id), "status": "Não respondido", "tipoLeadDesc": LEAD_TYPES[lead_type],
            "mensagem": mensagem, "cliente": cliente, "loja": {"id": dealer.index + 1, "nomeFantasia": dealer.name},
            "anuncio": {"id": hit["id"], "marca": hit["vehicle"]["brand"]["name"].title(),
                        "modelo": hit["vehicle"]["model"]["name"].title(),
                        "placa": f"ABC1D2{hit['vehicle'].get('plate_final') or '0'}"} if hit else None,
            "vendedor": {"id": 5, "nome": "Vendedor"},
        }
        state.leads[lead_id] = {"id": lead_id, "cnpj": dealer.cnpj, "type": lead_type, "detail": detail}
        notice = {"IdLead": lead_id, "CodigoCliente": dealer.codigo_cliente, "Cnpj": dealer.cnpj_formatted,
                  "IdTipoLead": str(lead_type)}
        body = json.dumps(notice, ensure_ascii=False, separators=(",", ":")).encode()
        result: dict[str, Any] = {"IdLead": lead_id, "notice": notice, "detail": detail}
        base = runtime.config.notification_url(VENDOR)
        if not (dealer.user_active and dealer.crm_integration):
            result.update(delivered=[], note="dealer has no active Integrador de API user or CRM integration off")
        elif not deliver:
            token = runtime.config.credentials["webmotors_leads_token"]
            url = f"{base}{'&' if base and '?' in base else '?'}token={quote(token, safe='')}" if base else None
            result.update(delivered=[], requests=[{"method": "POST", "url": url,
                                                   "headers": {"Content-Type": "application/json"},
                                                   "body": body.decode()}])
        elif base is None:
            result.update(delivered=[], note="no receiver registered (start with --receiver or set receiver_url)")
        else:
            result["delivered"] = await deliver_notice(lead_id, body, wait=bool(wait))
        return JSONResponse(result, status_code=201)

    async def change_stock(request: Request) -> Response:
        ad_id = int(request.path_params["ad_id"])
        found = world.find_br_hit(ad_id)
        if found is None:
            raise LookupError(f"no ad {ad_id}")
        dealer, _ = found
        stock = world.pin_br(dealer.cnpj)
        hit = stock.get(ad_id)
        assert hit is not None
        updated = copy.deepcopy(hit)
        apply_stock_change(updated, await payload_of(request), world.media_base)
        stock.put(updated)
        return JSONResponse({"id": ad_id, "hit": updated})

    async def delete_stock(request: Request) -> Response:
        ad_id = int(request.path_params["ad_id"])
        found = world.find_br_hit(ad_id)
        if found is None:
            raise LookupError(f"no ad {ad_id}")
        payload = await payload_of(request)
        stock = world.pin_br(found[0].cnpj)
        if payload.get("remove", True):
            stock.remove(ad_id)
            return JSONResponse({"id": ad_id, "removed": True})
        hit = stock.get(ad_id)
        assert hit is not None
        apply_stock_change(hit, {"status": payload.get("status", "Inativo")}, world.media_base)
        stock.put(hit)
        return JSONResponse({"id": ad_id, "removed": False, "hit": hit})

    async def new_stock(request: Request) -> Response:
        dealer = world.br_dealer(request.path_params["cnpj"].removeprefix("webmotors:"))
        if dealer is None:
            raise LookupError(f"no Webmotors dealer {request.path_params['cnpj']}")
        hit = world.new_br_hit(dealer.cnpj)
        apply_stock_change(hit, {"status": "Ativo", **await payload_of(request)}, world.media_base)
        world.pin_br(dealer.cnpj).put(hit)
        return JSONResponse({"id": hit["id"], "hit": hit}, status_code=201)

    async def access(request: Request) -> Response:
        dealer = world.br_dealer(request.path_params["cnpj"].removeprefix("webmotors:"))
        if dealer is None:
            raise LookupError(f"no Webmotors dealer {request.path_params['cnpj']}")
        payload = await payload_of(request)
        allowed = {"user_active", "stock_integration", "crm_integration"}
        if set(payload) - allowed:
            raise ControlError(f"unknown fields {sorted(set(payload) - allowed)}")
        for key, value in payload.items():
            if not isinstance(value, bool):
                raise ControlError(f"{key} must be true or false")
            setattr(dealer, key, value)
        return JSONResponse({key: getattr(dealer, key) for key in sorted(allowed)} | {"cnpj": dealer.cnpj})

    async def listing(request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind == "leads":
            return JSONResponse([{"IdLead": lead["id"], "cnpj": lead["cnpj"], "IdTipoLead": lead["type"],
                                  "detail": lead["detail"]} for lead in state.leads.values()])
        if kind == "crm-leads":
            return JSONResponse(state.crm_leads)
        if kind == "status-reports":
            wanted = request.query_params.get("id")
            return JSONResponse([r for r in state.status_reports if wanted is None or str(r["id"]) == wanted])
        return JSONResponse({"error": f"unknown listing {kind}"}, status_code=404)

    async def read_stock(request: Request) -> Response:
        found = world.find_br_hit(int(request.path_params["ad_id"]))
        if found is None:
            raise LookupError(f"no ad {request.path_params['ad_id']}")
        return JSONResponse(found[1])

    def route(path: str, handler: Any, methods: list[str]) -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except (ControlError, ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            except LookupError as exc:
                return JSONResponse({"error": str(exc).strip("'\"")}, status_code=404)
        return Route(path, endpoint, methods=methods)

    return Starlette(routes=[
        route("/leads", create_lead, ["POST"]),
        route("/stock/{ad_id:int}", read_stock, ["GET"]),
        route("/stock/{ad_id:int}/change", change_stock, ["POST"]),
        route("/stock/{ad_id:int}/delete", delete_stock, ["POST"]),
        route("/dealers/{cnpj}/stock", new_stock, ["POST"]),
        route("/dealers/{cnpj}/access", access, ["POST"]),
        route("/{kind}", listing, ["GET"]),
    ])

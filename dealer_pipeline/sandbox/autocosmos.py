"""The Autocosmos v3 vendor of the sandbox (api/autocosmos.md Part 2), mounted at `/autocosmos`.

Every request is checked for a valid ACS-HMAC signature before routing (as the vendor's
gateway does, so even an unknown path answers 401 when unsigned); a POST or PATCH whose
signed parts were already seen is a replay and gets 401. Then: the catalogue (versiones,
marcas, modelos, carrocerías), publications per agency with the lifecycle of
`autocosmos_publications`, photo processing after the answer, and enquiries.
Control routes for tests live under `/_sandbox/autocosmos/` (see `build_control_app`).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from dealer_pipeline.sandbox.autocosmos_enquiries import EnquiryBook, format_instant, parse_instant
from dealer_pipeline.sandbox.autocosmos_problems import PROBLEM_MEDIA_TYPE, Problem, problem_body, problem_response
from dealer_pipeline.sandbox.autocosmos_publications import PhotoJob, Publication, PublicationBook
from dealer_pipeline.sandbox.autocosmos_signing import NON_IDEMPOTENT, ReplayGuard, SignatureError, verify
from dealer_pipeline.sandbox.autocosmos_webhooks import TOPIC_INVITATION_ACCEPTED, build_notification
from dealer_pipeline.sandbox.autocosmos_validation import parse_href
from dealer_pipeline.sandbox.catalogue import BadQuery, Catalogue, Marca, build_catalogue, normalise
from dealer_pipeline.sandbox.photos import (
    CONCURRENT_DOWNLOADS,
    VENDOR_RETRY_INTERVAL_SECONDS,
    PhotoOutcome,
    process_photos,
)
from dealer_pipeline.sandbox.runtime import SandboxRuntime, json_bytes
from dealer_pipeline.sandbox.world import AutocosmosAgency, SandboxWorld

VENDOR = "autocosmos"
PREFIX = "/autocosmos"
MERGE_PATCH = "application/merge-patch+json"
#: `runtime.config.extra` key of the 5xx photo retry interval (vendor value: 15 minutes).
PHOTO_RETRY_SETTING = "autocosmos_photo_retry_seconds"
#: Operators of every agency besides its admin: `vendedor1@<domain>`, `vendedor2@<domain>`.
OPERATOR_MAILBOXES = ("vendedor1", "vendedor2")
ANSWER_WAIT_SECONDS = 5.0


def operators_of(adminmail: str) -> frozenset[str]:
    """The agency's operators (lower case): the admin and two salespeople on its domain."""
    domain = adminmail.rpartition("@")[2].lower()
    return frozenset({adminmail.lower(), *(f"{box}@{domain}" for box in OPERATOR_MAILBOXES)})


class AutocosmosState:
    """Everything the Autocosmos vendor remembers in one sandbox process."""

    def __init__(self, world: SandboxWorld, runtime: SandboxRuntime) -> None:
        self.world = world
        self.runtime = runtime
        self.catalogue: Catalogue = build_catalogue()
        self.publications = PublicationBook(self.catalogue, operators_of)
        self.enquiries = EnquiryBook()
        self.replays = ReplayGuard()
        self.photo_outcomes: deque[dict[str, Any]] = deque(maxlen=5000)
        self._download_slots = asyncio.Semaphore(CONCURRENT_DOWNLOADS)

    def credentials(self) -> dict[str, str]:
        config = self.runtime.config
        return {config.credential("autocosmos_app_key"): config.credential("autocosmos_app_secret")}

    def agency(self, adminmail: str) -> AutocosmosAgency:
        """The linked agency, else 403 (unknown e-mails look the same as unlinked ones)."""
        agency = self.world.autocosmos_agency(adminmail)
        if agency is None or not agency.linked:
            raise Problem(403, f"La agencia {adminmail} no está vinculada a la aplicación.")
        return agency

    def photo_retry_interval(self) -> float:
        return float(self.runtime.config.extra.get(PHOTO_RETRY_SETTING, VENDOR_RETRY_INTERVAL_SECONDS))

    def schedule_photos(self, job: PhotoJob) -> BackgroundTask:
        """Download the job's photos once the answer is sent.

        The task is registered with `runtime` right away (so `/_sandbox/settle` cannot miss
        it) but waits for the returned background task, which runs after the response.
        """
        answered = asyncio.Event()

        async def work() -> None:
            try:
                await asyncio.wait_for(answered.wait(), ANSWER_WAIT_SECONDS)
            except asyncio.TimeoutError:
                pass  # the client went away before the answer was sent; process anyway
            await self.runtime.start()
            assert self.runtime.http is not None
            outcomes = await process_photos(self.runtime.http, job.urls, retry_interval=self.photo_retry_interval(),
                                            slots=self._download_slots)
            kept = [o.url for o in outcomes if o.kept]
            applied = self.publications.finish_photos(job, kept)
            self._record(job, outcomes, applied)

        self.runtime.spawn(work())

        async def release() -> None:
            answered.set()

        return BackgroundTask(release)

    def _record(self, job: PhotoJob, outcomes: list[PhotoOutcome], applied: bool) -> None:
        for outcome in outcomes:
            self.photo_outcomes.append({
                "adminmail": job.adminmail, "external_id": job.external_id, "generation": job.generation,
                "url": outcome.url, "kept": outcome.kept, "reason": outcome.reason, "attempts": outcome.attempts,
                "applied": applied,
            })


def _state(request: Request) -> AutocosmosState:
    return request.app.state.autocosmos


def _vendor_path(scope: Scope) -> str:
    """The vendor-relative path (`/v3/...`), as the vendor reports it in `Instance`."""
    return scope["path"].removeprefix(scope.get("root_path", ""))


def _instance(request: Request) -> str:
    return _vendor_path(request.scope)


def _json(content: Any, status: int = 200, headers: Mapping[str, str] | None = None,
          background: BackgroundTask | None = None) -> Response:
    return Response(json_bytes(content), status_code=status, media_type="application/json",
                    headers=dict(headers or {}), background=background)


async def _body_json(request: Request, *, media_types: tuple[str, ...]) -> Any:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in media_types:
        raise Problem(415, f"Content-Type debe ser {' o '.join(media_types)}; se recibió {media_type or 'ninguno'}.")
    raw = await request.body()
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Problem(400, "El cuerpo no es JSON válido.", errors={"$": [f"JSON inválido: {exc}"]}) from None


# -- catalogue ---------------------------------------------------------------------------------

async def versiones_bestmatch(request: Request) -> Response:
    try:
        return _json(_state(request).catalogue.bestmatch(request.query_params))
    except BadQuery as exc:
        raise Problem(400, "Parámetros de búsqueda inválidos.", errors=exc.errors) from None


async def version_detail(request: Request) -> Response:
    catalogue = _state(request).catalogue
    version = catalogue.versiones.get(request.path_params["id"])
    if version is None:
        raise Problem(404, f"No existe la versión {request.path_params['id']}.")
    return _json(catalogue.render_version(version))


async def marcas(request: Request) -> Response:
    catalogue = _state(request).catalogue
    q = request.query_params.get("q", "").strip()
    wanted = normalise(q)
    entries = [catalogue.render_marca(m) for m in catalogue.marcas.values()
               if not wanted or any(wanted in name for name in m.names)]
    self_href = "/v3/marcas" + (f"?{urlencode({'q': q})}" if q else "")
    return _json({"_links": {"self": {"href": self_href}}, "_entries": entries})


async def marca_detail(request: Request) -> Response:
    catalogue = _state(request).catalogue
    marca = catalogue.marcas.get(request.path_params["id"])
    if marca is None:
        raise Problem(404, f"No existe la marca {request.path_params['id']}.")
    return _json(catalogue.render_marca(marca))


def _required_param(request: Request, name: str) -> str:
    value = request.query_params.get(name, "").strip()
    if not value:
        raise Problem(400, f"Falta el parámetro {name}.", errors={name: ["El parámetro es obligatorio."]})
    return value


async def marcas_bestmatch(request: Request) -> Response:
    catalogue = _state(request).catalogue
    marca = catalogue.marca_bestmatch(_required_param(request, "make"))
    if marca is None:
        raise Problem(404, "Ninguna marca coincide.")
    return _json(catalogue.render_marca(marca))


def _marca_param(catalogue: Catalogue, raw: str) -> Marca | None:
    """`marca` given as an id, an href or a name."""
    href = parse_href(raw)
    if href is not None and href.kind == "marcas":
        return catalogue.marcas.get(href.id)
    if raw.isdigit():
        return catalogue.marcas.get(int(raw))
    return catalogue.marca_bestmatch(raw)


async def modelos(request: Request) -> Response:
    catalogue = _state(request).catalogue
    raw = _required_param(request, "marca")
    marca = _marca_param(catalogue, raw)
    entries = [] if marca is None else [catalogue.render_modelo(m) for m in catalogue.modelos_of(marca.id)]
    return _json({"_links": {"self": {"href": f"/v3/modelos?{urlencode({'marca': raw})}"}}, "_entries": entries})


async def modelo_detail(request: Request) -> Response:
    catalogue = _state(request).catalogue
    modelo = catalogue.modelos.get(request.path_params["id"])
    if modelo is None:
        raise Problem(404, f"No existe el modelo {request.path_params['id']}.")
    return _json(catalogue.render_modelo(modelo))


async def modelos_bestmatch(request: Request) -> Response:
    catalogue = _state(request).catalogue
    make, model = _required_param(request, "make"), _required_param(request, "model")
    marca = catalogue.marca_bestmatch(make)
    modelo = catalogue.modelo_bestmatch(marca, model) if marca else None
    if modelo is None:
        raise Problem(404, "Ningún modelo coincide.")
    return _json(catalogue.render_modelo(modelo))


async def carrocerias(request: Request) -> Response:
    catalogue = _state(request).catalogue
    return _json({"_links": {"self": {"href": "/v3/carrocerias"}},
                  "_entries": [c.render() for c in catalogue.carrocerias.values()]})


async def carrocerias_bestmatch(request: Request) -> Response:
    catalogue = _state(request).catalogue
    carroceria = catalogue.carroceria_bestmatch(_required_param(request, "bodystyle"))
    if carroceria is None:
        raise Problem(404, "Ninguna carrocería coincide.")
    return _json(carroceria.render())


# -- publications ------------------------------------------------------------------------------

def _publication_response(state: AutocosmosState, publication: Publication, status: int,
                          job: PhotoJob | None, headers: Mapping[str, str] | None = None) -> Response:
    background = state.schedule_photos(job) if job is not None else None
    return _json(publication.render(), status, headers, background)


async def create_publication(request: Request) -> Response:
    state = _state(request)
    agency = state.agency(request.path_params["adminmail"])
    body = await _body_json(request, media_types=("application/json",))
    publication, job = state.publications.create(agency.adminmail, body)
    return _publication_response(state, publication, 201, job, {"Location": publication.href()})


async def list_publications(request: Request) -> Response:
    state = _state(request)
    agency = state.agency(request.path_params["adminmail"])
    operador = request.query_params.get("operador")
    entries = [p.render() for p in state.publications.list(agency.adminmail, operador)]
    href = f"/v3/publicaciones/{agency.adminmail}" + (f"?{urlencode({'operador': operador})}" if operador else "")
    return _json({"_links": {"self": {"href": href}}, "_entries": entries})


async def publication(request: Request) -> Response:
    state = _state(request)
    agency = state.agency(request.path_params["adminmail"])
    external_id = request.path_params["externalid"]
    book = state.publications
    if request.method == "GET":
        return _json(book.get(agency.adminmail, external_id).render())
    if request.method == "DELETE":
        book.archive(agency.adminmail, external_id)
        return Response(status_code=204)
    book.get(agency.adminmail, external_id)  # 404 before looking at the body
    if request.method == "PUT":
        body = await _body_json(request, media_types=("application/json",))
        found, job = book.replace(agency.adminmail, external_id, body)
        return _publication_response(state, found, 200, job)
    patch = await _body_json(request, media_types=(MERGE_PATCH,))
    found, patch_job = book.patch(agency.adminmail, external_id, patch)
    return _publication_response(state, found, 200, patch_job)


async def consultas(request: Request) -> Response:
    state = _state(request)
    agency = state.agency(request.path_params["adminmail"])
    desde_raw = request.query_params.get("desde")
    desde = None
    if desde_raw is not None:
        try:
            desde = parse_instant(desde_raw)
        except ValueError:
            raise Problem(400, "desde no es una fecha ISO 8601 válida.",
                          errors={"desde": ["Use una fecha ISO 8601 con zona, p. ej. 2026-01-01T00:00:00Z."]}) from None
    return _json({"_entries": [e.render() for e in state.enquiries.since(agency.adminmail, desde)]})


# -- the signed gateway ------------------------------------------------------------------------

class SignedGateway:
    """ASGI wrapper: ACS-HMAC check and replay guard in front of every Autocosmos route."""

    def __init__(self, app: ASGIApp, state: AutocosmosState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        full = (raw_path + (b"?" + query if query else b"")).decode("latin-1")
        root = scope.get("root_path", "").encode()
        relative = full[len(root):] if root and raw_path.startswith(root) else full
        instance = _vendor_path(scope)
        headers = Headers(scope=scope)
        acs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]
               if k.decode("latin-1").lower().startswith("x-acs-")]
        method = scope["method"].upper()
        try:
            signed = verify(method=method, path_and_query=[full, relative], headers=headers, acs_headers=acs,
                            body=bytes(body), credentials=self.state.credentials())
            if method in NON_IDEMPOTENT and not self.state.replays.first_time(signed.replay_key):
                raise SignatureError("Solicitud repetida: el mismo POST/PATCH firmado ya fue recibido "
                                     "(firme de nuevo con otra fecha).")
        except SignatureError as exc:
            await problem_response(Problem(401, str(exc)), instance)(scope, receive, send)
            return

        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _problem_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc, _instance(request))


def _http_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return problem_response(Problem(405, f"{request.method} no se admite en {_instance(request)}."),
                                _instance(request))
    return problem_response(Problem(404, f"No existe el recurso {_instance(request)}."), _instance(request))


def _render_fault(status: int, rule: Any, facts: Mapping[str, Any]) -> tuple[bytes, str]:
    """Scripted faults answer in ProblemDetails like real errors (or with the rule's own body)."""
    if rule is not None and rule.body is not None:
        custom = rule.body if isinstance(rule.body, str) else json.dumps(rule.body, ensure_ascii=False)
        return custom.encode(), "application/json"
    instance = str(facts.get("path", "")).removeprefix(PREFIX)
    errors = {} if status == 400 else None
    body = problem_body(Problem(status, "Falla simulada.", errors=errors), instance)
    return json_bytes(body), PROBLEM_MEDIA_TYPE


def _dealers_of_request(facts: Mapping[str, Any]) -> set[str]:
    """Faults can target one agency: by adminmail, or by the dealer id that owns it."""
    path = str(facts.get("path", ""))
    parts = path.split("/")
    if len(parts) >= 4 and parts[1] == "v3" and parts[2] in ("publicaciones", "consultas"):
        return {parts[3].lower()} | _owner(facts, parts[3])
    return set()


def _owner(facts: Mapping[str, Any], adminmail: str) -> set[str]:
    world = facts.get("world")
    agency = world.autocosmos_agency(adminmail) if world is not None else None
    return {agency.dealer_id} if agency is not None else set()


def build_vendor_app(world: SandboxWorld, runtime: SandboxRuntime) -> ASGIApp:
    """The Autocosmos v3 API; mount at `/autocosmos`."""
    state = AutocosmosState(world, runtime)
    runtime.state[VENDOR] = state
    runtime.error_renderers[VENDOR] = _render_fault
    runtime.dealer_resolvers[VENDOR] = lambda facts: _dealers_of_request({**facts, "world": world})
    routes: list[BaseRoute] = [
        Route("/v3/versiones/bestmatch", versiones_bestmatch, methods=["GET"]),
        Route("/v3/versiones/{id:int}", version_detail, methods=["GET"]),
        Route("/v3/marcas", marcas, methods=["GET"]),
        Route("/v3/marcas/bestmatch", marcas_bestmatch, methods=["GET"]),
        Route("/v3/marcas/{id:int}", marca_detail, methods=["GET"]),
        Route("/v3/modelos", modelos, methods=["GET"]),
        Route("/v3/modelos/bestmatch", modelos_bestmatch, methods=["GET"]),
        Route("/v3/modelos/{id:int}", modelo_detail, methods=["GET"]),
        Route("/v3/carrocerias", carrocerias, methods=["GET"]),
        Route("/v3/carrocerias/bestmatch", carrocerias_bestmatch, methods=["GET"]),
        Route("/v3/publicaciones/{adminmail}", create_publication, methods=["POST"]),
        Route("/v3/publicaciones/{adminmail}", list_publications, methods=["GET"]),
        Route("/v3/publicaciones/{adminmail}/{externalid}", publication, methods=["GET", "PUT", "PATCH", "DELETE"]),
        Route("/v3/consultas/{adminmail}", consultas, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={Problem: _problem_handler, HTTPException: _http_handler})
    app.state.autocosmos = state
    return SignedGateway(app, state)


# -- control routes (/_sandbox/autocosmos/...) -----------------------------------------------------

def _control_json(content: Any, status: int = 200) -> Response:
    return _json(content, status)


async def _control_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise HTTPException(400, "body must be a JSON object")
    return body


def build_control_app(world: SandboxWorld, runtime: SandboxRuntime) -> Starlette:
    """Test-facing routes, mounted at `/_sandbox/autocosmos` (documented in
    docs/sandbox-autocosmos-autochat.md): agencies and invitations (which deliver the signed
    `invitacionagencia_aceptada` webhook), enquiries, moderation, vendor actions (photo loss, archive,
    delete), photo outcomes, publications without signing (listed, or held without a signed create),
    and the catalogue's fixture fates."""

    def state() -> AutocosmosState:
        return runtime.state[VENDOR]

    async def agencies(request: Request) -> Response:
        if request.method == "POST":
            body = await _control_body(request)
            adminmail = body.get("adminmail")
            if not isinstance(adminmail, str) or "@" not in adminmail:
                raise HTTPException(400, "adminmail (an e-mail) is required")
            agency = world.autocosmos_agency(adminmail)
            if agency is None:
                agency = AutocosmosAgency(adminmail, str(body.get("name") or adminmail), str(body.get("dealer_id") or ""),
                                          linked=bool(body.get("linked", False)))
                world.autocosmos_agencies[adminmail.lower()] = agency
            else:
                for key in ("name", "dealer_id", "linked"):
                    if key in body:
                        setattr(agency, key, body[key])
            return _control_json(agency.__dict__, 201)
        return _control_json([a.__dict__ for a in world.autocosmos_agencies.values()])

    async def accept_invitation(request: Request) -> Response:
        body = await _control_body(request)
        adminmail = body.get("adminmail")
        agency = world.autocosmos_agency(adminmail) if isinstance(adminmail, str) else None
        if agency is None:
            raise HTTPException(404, f"no agency {adminmail!r}; create it with POST /_sandbox/autocosmos/agencies")
        agency.linked = True
        url = runtime.config.notification_url(VENDOR)
        payload = {"AdminMail": agency.adminmail, "Agencia": agency.name,
                   "AceptadaEn": body.get("accepted_at") or utc_now_text()}
        notification = build_notification(
            url or "", runtime.config.credential("autocosmos_webhook_secret"), TOPIC_INVITATION_ACCEPTED, payload,
            timestamp=body.get("timestamp"),
        )
        answer: dict[str, Any] = {"agency": agency.__dict__, "notification": notification.describe(), "attempts": []}
        if not body.get("deliver", True):
            return _control_json(answer)
        if url is None:
            answer["error"] = "no receiver registered (sandbox --receiver or /_sandbox/config receiver_url)"
            return _control_json(answer, 409)
        retries, duplicates = int(body.get("retries", 0)), int(body.get("duplicates", 0))
        interval = float(body.get("retry_interval", 1.0))
        attempt = 0
        for attempt in range(1, retries + 2):
            if attempt > 1:
                await asyncio.sleep(interval)
            record = await runtime.deliver(VENDOR, "POST", url, notification.headers, notification.body,
                                           event=TOPIC_INVITATION_ACCEPTED, attempt=attempt)
            answer["attempts"].append(record)
            if isinstance(record.get("status"), int) and 200 <= record["status"] < 300:
                break
        for extra in range(duplicates):
            answer["attempts"].append(await runtime.deliver(
                VENDOR, "POST", url, notification.headers, notification.body, event=TOPIC_INVITATION_ACCEPTED,
                attempt=attempt + extra + 1))
        return _control_json(answer)

    async def create_enquiry(request: Request) -> Response:
        body = await _control_body(request)
        adminmail, external_id = body.get("adminmail"), body.get("external_id")
        if not isinstance(adminmail, str) or not isinstance(external_id, str):
            raise HTTPException(400, "adminmail and external_id are required")
        try:
            found = state().publications.get(adminmail, external_id)
        except Problem as exc:
            raise HTTPException(404, exc.detail) from None
        try:
            fecha = parse_instant(body["fecha"]) if body.get("fecha") else None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        enquiry = state().enquiries.add(
            found.adminmail, found.external_id, nombre=str(body.get("nombre", "Juan Pérez")),
            email=str(body.get("email", "juan@example.com")), telefono=str(body.get("telefono", "+54 9 221 555 0101")),
            mensaje=str(body.get("mensaje", "¿Sigue disponible?")), fecha=fecha,
        )
        return _control_json(enquiry.render(), 201)

    async def moderation(request: Request) -> Response:
        body = await _control_body(request)
        if not isinstance(body.get("suspended"), bool):
            raise HTTPException(400, 'body must be {"suspended": true|false}')
        try:
            found = state().publications.moderate(request.path_params["adminmail"], request.path_params["externalid"],
                                                  body["suspended"])
        except Problem as exc:
            raise HTTPException(exc.status, exc.detail) from None
        return _control_json(found.render())

    async def vendor_action(request: Request) -> Response:
        body = await _control_body(request)
        try:
            found = state().publications.vendor_action(request.path_params["adminmail"],
                                                       request.path_params["externalid"], str(body.get("action")),
                                                       body.get("fields") if isinstance(body.get("fields"), dict)
                                                       else None)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        except Problem as exc:
            raise HTTPException(exc.status, exc.detail) from None
        return _control_json(found.render() if found is not None else {"deleted": True})

    async def publications(request: Request) -> Response:
        if request.method == "POST":
            return await held_publication(request)
        entries = state().publications.list(request.path_params["adminmail"])
        return _control_json([{**p.render(), "_sandbox": {
            "photos_sent": p.photos_sent, "photos_kept": p.photos_kept, "photo_suspended": p.photo_suspended,
            "moderation_suspended": p.moderation_suspended, "requested_activa": p.fields.get("Activa", True),
        }} for p in entries])

    async def held_publication(request: Request) -> Response:
        """A publication Autocosmos holds that no signed call of this sandbox created (a create whose
        answer was lost, one made in the agency's dashboard): validated and photo-processed like a create."""
        adminmail = request.path_params["adminmail"]
        agency = world.autocosmos_agency(adminmail)
        if agency is None:
            raise HTTPException(404, f"no agency {adminmail!r}; create it with POST /_sandbox/autocosmos/agencies")
        try:
            publication, job = state().publications.create(agency.adminmail, await _control_body(request))
        except Problem as exc:
            raise HTTPException(exc.status, exc.detail) from None
        return _json(publication.render(), 201, None, state().schedule_photos(job))

    async def photos(request: Request) -> Response:
        return _control_json(list(state().photo_outcomes))

    async def fates(request: Request) -> Response:
        return _control_json(state().catalogue.fates)

    async def control_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _control_json({"error": exc.detail}, exc.status_code)

    return Starlette(routes=[
        Route("/agencies", agencies, methods=["GET", "POST"]),
        Route("/invitations/accept", accept_invitation, methods=["POST"]),
        Route("/consultas", create_enquiry, methods=["POST"]),
        Route("/publicaciones/{adminmail}", publications, methods=["GET", "POST"]),
        Route("/publicaciones/{adminmail}/{externalid}/moderation", moderation, methods=["POST"]),
        Route("/publicaciones/{adminmail}/{externalid}/vendor-action", vendor_action, methods=["POST"]),
        Route("/photos", photos, methods=["GET"]),
        Route("/catalogue/fates", fates, methods=["GET"]),
    ], exception_handlers={HTTPException: control_error})


def utc_now_text() -> str:
    return format_instant(datetime.now(timezone.utc))

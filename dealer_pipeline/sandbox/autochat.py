"""The Autochat vendor of the sandbox (api/autochat.md Part 2), mounted at `/autochat`.

`/autochat/oauth/token` plays the Auth0 token endpoint (the token URL is separate from the
API at the real vendor; here both share the mount). `/autochat/api/...` needs a live bearer
token. Cars are validated against the documented schema, options against the active
environment profile's list, and dealerships come from the sandbox world (integration on
or off). Control routes for tests live under `/_sandbox/autochat/` (see `build_control_app`).
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dealer_pipeline.sandbox.autochat_auth import DEFAULT_TTL_SECONDS, TokenIssuer
from dealer_pipeline.sandbox.autochat_cars import CarError, CarStore, validate_car
from dealer_pipeline.sandbox.autochat_options import DEFAULT_PROFILE, OptionCatalogue
from dealer_pipeline.sandbox.runtime import SandboxRuntime, json_bytes
from dealer_pipeline.sandbox.world import SandboxWorld

VENDOR = "autochat"
UNAUTHORIZED = {"message": "unauthorized"}
INTEGRATION_OFF = {"message": "stock integration is not enabled for this dealership"}


class AutochatState:
    """Everything the Autochat vendor remembers in one sandbox process."""

    def __init__(self, world: SandboxWorld, runtime: SandboxRuntime) -> None:
        self.world = world
        self.runtime = runtime
        config = runtime.config
        self.tokens = TokenIssuer(
            runtime.tokens, VENDOR,
            credentials=lambda: {config.credential("autochat_client_id"): config.credential("autochat_client_secret")},
            ttl_seconds=lambda: config.token_ttl.get(VENDOR, DEFAULT_TTL_SECONDS),
        )
        self.options = OptionCatalogue(DEFAULT_PROFILE)
        self.cars = CarStore()

    def dealership_known(self, dealership_id: str) -> bool:
        return self.world.autochat_dealership(dealership_id) is not None

    def integration_enabled(self, dealership_id: str) -> bool:
        dealership = self.world.autochat_dealership(dealership_id)
        return dealership is not None and dealership.integration_enabled

    def checked_body(self, body: Any) -> dict[str, Any]:
        """Validate a create/replace body, then the dealership's integration switch (400 before 403)."""
        errors = validate_car(body, dealership_known=self.dealership_known, unknown_options=self.options.unknown)
        if errors:
            raise CarError(400, {"errors": errors})
        if not self.integration_enabled(body["dealershipId"]):
            raise CarError(403, dict(INTEGRATION_OFF))
        return body


def _state(request: Request) -> AutochatState:
    return request.app.state.autochat


def _json(content: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json_bytes(content), status_code=status, media_type="application/json",
                    headers=dict(headers or {}))


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        return _NOT_JSON


_NOT_JSON = object()


def _client(request: Request) -> str:
    client = _state(request).tokens.client_for(request.headers.get("authorization"))
    if client is None:
        raise CarError(401, dict(UNAUTHORIZED))
    return client


async def token(request: Request) -> Response:
    body = await _json_body(request)
    answer = _state(request).tokens.request(None if body is _NOT_JSON else body)
    return _json(answer.body, answer.status, answer.headers)


async def options(request: Request) -> Response:
    _client(request)
    return _json(_state(request).options.entries())


async def create_car(request: Request) -> Response:
    client = _client(request)
    state = _state(request)
    body = await _json_body(request)
    if body is _NOT_JSON:
        raise CarError(400, {"errors": {"body": ["must be valid JSON"]}})
    return _json(state.cars.create(client, state.checked_body(body)), 201)


async def car(request: Request) -> Response:
    client = _client(request)
    state = _state(request)
    internal_id = request.path_params["internal_id"]
    if request.method == "DELETE":
        state.cars.delete(client, internal_id)
        return Response(status_code=204)
    body = await _json_body(request)
    if body is _NOT_JSON:
        raise CarError(400, {"errors": {"body": ["must be valid JSON"]}})
    if isinstance(body, dict) and isinstance(body.get("internalId"), str) and body["internalId"] != internal_id:
        raise CarError(400, {"errors": {"internalId": [f"does not match the path ({internal_id})"]}})
    return _json(state.cars.replace(client, internal_id, state.checked_body(body)))


def _car_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CarError)
    return _json(exc.body, exc.status)


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return _json({"message": "method not allowed"}, 405)
    return _json({"message": "not found"}, 404)


def _dealers_of_request(state: AutochatState, facts: Mapping[str, Any]) -> set[str]:
    """Faults can target one dealership (id or dealer id) for calls on one of its cars."""
    path = str(facts.get("path", ""))
    if not path.startswith("/api/cars/"):
        return set()
    client = state.runtime.config.credential("autochat_client_id")
    try:
        dealership_id = state.cars.get(client, path.removeprefix("/api/cars/"))["dealershipId"]
    except CarError:
        return set()
    dealership = state.world.autochat_dealership(dealership_id)
    return {dealership_id} | ({dealership.dealer_id} if dealership else set())


def build_vendor_app(world: SandboxWorld, runtime: SandboxRuntime) -> Starlette:
    """The Autochat API and its token endpoint; mount at `/autochat`."""
    state = AutochatState(world, runtime)
    runtime.state[VENDOR] = state
    runtime.dealer_resolvers[VENDOR] = lambda facts: _dealers_of_request(state, facts)
    routes: list[BaseRoute] = [
        Route("/oauth/token", token, methods=["POST"]),
        Route("/api/options", options, methods=["GET"]),
        Route("/api/cars", create_car, methods=["POST"]),
        Route("/api/cars/{internal_id:path}", car, methods=["PUT", "DELETE"]),
    ]
    app = Starlette(routes=routes, exception_handlers={CarError: _car_error, HTTPException: _http_error})
    app.state.autochat = state
    return app


# -- control routes (/_sandbox/autochat/...) -------------------------------------------------------

def build_control_app(world: SandboxWorld, runtime: SandboxRuntime) -> Starlette:
    """Test-facing routes, mounted at `/_sandbox/autochat`: read cars, token statistics, option lists, dealership switches.

    `GET  /_sandbox/autochat/cars[?dealershipId=]` and `/_sandbox/autochat/cars/{internalId}`;
    `GET  /_sandbox/autochat/stats` (token requests counted, limit);
    `POST /_sandbox/autochat/config` `{"token_limit_per_hour": n|null, "options_profile": "staging",
    "options": {"<profile>": [names]}}`;
    `POST /_sandbox/autochat/dealerships/{id}` `{"integration_enabled": bool}`.
    """

    def state() -> AutochatState:
        return runtime.state[VENDOR]

    async def cars(request: Request) -> Response:
        wanted = request.query_params.get("dealershipId")
        found = [c for c in state().cars.all() if wanted in (None, c.get("dealershipId"))]
        return _json(found)

    async def one_car(request: Request) -> Response:
        internal_id = request.path_params["internal_id"]
        found = [c for c in state().cars.all() if c.get("internalId") == internal_id]
        return _json(found[0]) if found else _json({"message": "car not found"}, 404)

    async def stats(request: Request) -> Response:
        return _json({**state().tokens.stats(), "options_profile": state().options.profile,
                      "cars": len(state().cars.all())})

    async def configure(request: Request) -> Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            return _json({"error": "a JSON object is required"}, 400)
        current = state()
        unknown = set(body) - {"token_limit_per_hour", "options_profile", "options"}
        if unknown:
            return _json({"error": f"unknown settings {sorted(unknown)}"}, 400)
        if "token_limit_per_hour" in body:
            limit = body["token_limit_per_hour"]
            if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
                return _json({"error": "token_limit_per_hour must be a whole number >= 0 or null"}, 400)
            current.tokens.limit_per_hour = limit
        for profile, names in (body.get("options") or {}).items():
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                return _json({"error": f"options.{profile} must be a list of names"}, 400)
            current.options.set_list(profile, names)
        if "options_profile" in body:
            try:
                current.options.use(str(body["options_profile"]))
            except ValueError as exc:
                return _json({"error": str(exc)}, 400)
        return await stats(request)

    async def dealership(request: Request) -> Response:
        found = world.autochat_dealership(request.path_params["dealership_id"])
        if found is None:
            return _json({"message": "unknown dealership"}, 404)
        body = await _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("integration_enabled"), bool):
            return _json({"error": "body must be {\"integration_enabled\": true|false}"}, 400)
        found.integration_enabled = body["integration_enabled"]
        return _json(found.__dict__)

    return Starlette(routes=[
        Route("/cars", cars, methods=["GET"]),
        Route("/cars/{internal_id:path}", one_car, methods=["GET"]),
        Route("/stats", stats, methods=["GET"]),
        Route("/config", configure, methods=["POST"]),
        Route("/dealerships/{dealership_id}", dealership, methods=["POST"]),
    ])

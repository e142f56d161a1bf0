"""`build_app(world, config)`: the one ASGI app of the sandbox.

Vendors are mounted at `/autotrader`, `/webmotors`, `/autocosmos`, `/autochat`; each vendor
module `dealer_pipeline.sandbox.<vendor>` exposes
`build_vendor_app(world: SandboxWorld, runtime: SandboxRuntime) -> Starlette | Router` and may
expose `build_control_app(world, runtime)`, mounted at `/_sandbox/<vendor>` for its change and
inspection endpoints. A vendor module that does not exist yet is skipped (its prefix answers
404). `/media` serves images; `/_sandbox/...` are the control routes (health, call log,
faults, configuration, world, deliveries, settle).
"""

from __future__ import annotations

import contextlib
import importlib
import json
from typing import Any, AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from dealer_pipeline.sandbox.faults import FaultError
from dealer_pipeline.sandbox.media import build_media_app
from dealer_pipeline.sandbox.middleware import SandboxMiddleware
from dealer_pipeline.sandbox.runtime import ConfigError, SandboxConfig, SandboxRuntime
from dealer_pipeline.sandbox.world import SandboxWorld

VENDORS = ("autotrader", "webmotors", "autocosmos", "autochat")


def _load_vendor(vendor: str) -> Any | None:
    name = f"dealer_pipeline.sandbox.{vendor}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"body is not JSON: {exc}") from None


def _bad(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _int_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    return int(value) if value not in (None, "") else None


def _control_routes(world: SandboxWorld, runtime: SandboxRuntime, mounted: list[str]) -> list[Route]:
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "vendors": mounted, "seed": world.seed, "dealers": world.dealers,
                             "vehicles": world.vehicles, "pending_background_tasks": runtime.pending,
                             "last_call_seq": runtime.calls.last_seq})

    async def calls(request: Request) -> Response:
        try:
            since = _int_param(request, "since")
        except ValueError:
            return _bad("since must be a whole number")
        records = runtime.calls.records(vendor=request.query_params.get("vendor"), since=since)
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        return Response(body, media_type="application/x-ndjson")

    async def calls_clear(request: Request) -> Response:
        return JSONResponse({"cleared": runtime.calls.clear(), "last_seq": runtime.calls.last_seq})

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse([rule.public() for rule in runtime.faults.rules()])
        if request.method == "DELETE":
            return JSONResponse({"cleared": runtime.faults.clear()})
        try:
            payload = await _json_body(request)
            rules = payload if isinstance(payload, list) else [payload]
            added = [runtime.faults.add(rule) for rule in rules]
        except (ValueError, FaultError) as exc:
            return _bad(str(exc))
        return JSONResponse([rule.public() for rule in added] if isinstance(payload, list) else added[0].public(),
                            status_code=201)

    async def config(request: Request) -> Response:
        if request.method == "POST":
            try:
                runtime.config.update(await _json_body(request))
            except (ValueError, ConfigError) as exc:
                return _bad(str(exc))
        return JSONResponse(runtime.config.public())

    async def world_summary(request: Request) -> Response:
        return JSONResponse(world.summary())

    async def fingerprint(request: Request) -> Response:
        """Hash of the world this seed generates (fixed media base, before any change)."""
        fresh = SandboxWorld(world.seed, world.dealers, world.vehicles, media_base="http://sandbox",
                             special_dealers=world.special_dealers)
        return JSONResponse({"seed": world.seed, "fingerprint": fresh.fingerprint()})

    async def deliveries(request: Request) -> Response:
        try:
            since = _int_param(request, "since")
        except ValueError:
            return _bad("since must be a whole number")
        return JSONResponse(runtime.deliveries.records(vendor=request.query_params.get("vendor"), since=since))

    async def deliveries_clear(request: Request) -> Response:
        runtime.deliveries.clear()
        return JSONResponse({"cleared": True})

    async def tokens(request: Request) -> Response:
        return JSONResponse({"issued": runtime.tokens.issued_count()})

    async def settle(request: Request) -> Response:
        try:
            timeout = float(request.query_params.get("timeout", "30"))
        except ValueError:
            return _bad("timeout must be a number")
        settled = await runtime.settle(timeout)
        return JSONResponse({"settled": settled, "pending": runtime.pending}, status_code=200 if settled else 504)

    return [
        Route("/_sandbox/health", health),
        Route("/_sandbox/calls", calls),
        Route("/_sandbox/calls/clear", calls_clear, methods=["POST"]),
        Route("/_sandbox/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/config", config, methods=["GET", "POST"]),
        Route("/_sandbox/world", world_summary),
        Route("/_sandbox/world/fingerprint", fingerprint),
        Route("/_sandbox/deliveries", deliveries),
        Route("/_sandbox/deliveries/clear", deliveries_clear, methods=["POST"]),
        Route("/_sandbox/tokens", tokens),
        Route("/_sandbox/settle", settle, methods=["GET", "POST"]),
    ]


def build_app(world: SandboxWorld, config: SandboxConfig | None = None) -> Starlette:
    """The sandbox: every available vendor, `/media` and the control routes, behind the middleware."""
    runtime = SandboxRuntime(config or SandboxConfig(public_url=world.media_base))
    routes: list[Any] = []
    vendor_mounts: list[Mount] = []
    mounted: list[str] = []
    for vendor in VENDORS:
        module = _load_vendor(vendor)
        if module is None:
            continue
        mounted.append(vendor)
        vendor_mounts.append(Mount(f"/{vendor}", app=module.build_vendor_app(world, runtime)))
        build_control = getattr(module, "build_control_app", None)
        if build_control is not None:
            routes.append(Mount(f"/_sandbox/{vendor}", app=build_control(world, runtime)))
    routes = [*_control_routes(world, runtime, mounted), *routes, *vendor_mounts,
              Mount("/media", app=build_media_app())]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(SandboxMiddleware, runtime=runtime)])
    app.state.world = world
    app.state.runtime = runtime
    return app

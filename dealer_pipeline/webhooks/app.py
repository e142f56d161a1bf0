"""The receiver's ASGI app (Starlette): routes of interface.md, bounded bodies, worker threads.

The event loop only reads the body (counting bytes as they stream in, so an oversized
request is refused without being held in memory) and hands the delivery to a bounded pool
of worker threads that verify, parse and store it. The answer is sent only after the store
commit, so a 2xx always means "kept".
"""

from __future__ import annotations

import contextlib
import logging
from typing import AsyncIterator

import anyio
import anyio.to_thread
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dealer_pipeline.settings import Settings, get_settings
from dealer_pipeline.store.types import utcnow
from dealer_pipeline.webhooks import keys, storage
from dealer_pipeline.webhooks.intake import Answer, Delivery, Intake

log = logging.getLogger(__name__)

#: Worker threads per process; the engine's pool matches so no thread waits for a connection.
WORKER_THREADS = 32


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


async def _read_capped(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise _TooLarge(int(declared))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise _TooLarge(size)
        chunks.append(chunk)
    return b"".join(chunks)


def _response(answer: Answer) -> Response:
    if answer.body is None:
        return Response(status_code=answer.status)
    return JSONResponse(answer.body, status_code=answer.status)


def create_app(settings: Settings | None = None, engine: sa.Engine | None = None) -> Starlette:
    """The receiver for `settings` (default: the environment); `engine` overrides the store."""
    settings = settings or get_settings()
    limiter = anyio.CapacityLimiter(WORKER_THREADS)
    state: dict[str, object] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        own = engine is None
        state["engine"] = engine or storage.receiver_engine(settings.database_url, pool_size=WORKER_THREADS // 2)
        state["intake"] = Intake(state["engine"], settings)  # type: ignore[arg-type]
        try:
            yield
        finally:
            if own:
                state["engine"].dispose()  # type: ignore[attr-defined]

    async def _run(fn, *args):  # type: ignore[no-untyped-def]
        return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)

    def _receiver(source: str):  # type: ignore[no-untyped-def]
        async def endpoint(request: Request) -> Response:
            intake: Intake = state["intake"]  # type: ignore[assignment]
            received_at = utcnow()
            headers = {k.lower(): v for k, v in request.headers.items()}
            query = dict(request.query_params)
            remote = request.client.host if request.client else None
            try:
                raw = await _read_capped(request, settings.webhook_max_bytes)
            except _TooLarge as too_large:
                delivery = Delivery(source, headers, query, b"", received_at, remote)
                reason = f"body over {settings.webhook_max_bytes} bytes"
                try:
                    await _run(lambda: intake.reject(delivery, 413, reason, body_bytes=too_large.size))
                except sa.exc.SQLAlchemyError:
                    log.exception("could not record a rejected %s webhook", source)
                return Response(status_code=413)
            delivery = Delivery(source, headers, query, raw, received_at, remote)
            try:
                answer = await _run(intake.handle, delivery)
            except sa.exc.SQLAlchemyError as exc:
                # Not stored, so not acknowledged: the vendor's retry will bring it again.
                log.error("store unavailable for a %s webhook: %s", source, type(exc).__name__)
                return JSONResponse({"status": "unavailable"}, status_code=503)
            return _response(answer)

        return endpoint

    async def healthz(_request: Request) -> Response:
        reachable = await _run(storage.store_is_reachable, state["engine"])
        if reachable:
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "store unreachable"}, status_code=503)

    routes = [
        Route("/webhooks/autotrader", _receiver(keys.AUTOTRADER), methods=["PUT", "POST"]),
        Route("/webhooks/autocosmos", _receiver(keys.AUTOCOSMOS), methods=["POST"]),
        Route("/webhooks/webmotors/leads", _receiver(keys.WEBMOTORS), methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)

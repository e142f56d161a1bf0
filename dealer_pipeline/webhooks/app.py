"""The receiver's ASGI app (Starlette): routes of interface.md, bounded bodies, group commit.

The event loop reads the body (counting bytes as they stream in, so an oversized request is
refused without being held in memory), verifies and parses it (in a worker thread when it
is large), and hands the row to the `EventWriter`, whose threads commit rows in groups. The
answer is sent only after the commit that holds the event, so a 2xx always means "kept".
"""

from __future__ import annotations

import asyncio
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

#: Worker threads for large bodies and rejection writes, per process.
WORKER_THREADS = 16
#: Bodies up to this size are verified and parsed on the event loop (tens of microseconds).
INLINE_BYTES = 64 * 1024
#: Threads committing groups of events; more than one keeps a commit in flight while the
#: next group forms. The engine's pool covers them plus health checks and rejections.
WRITER_THREADS = 2


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
        store = engine or storage.receiver_engine(settings.database_url, pool_size=WRITER_THREADS + 2)
        writer = storage.EventWriter(store, threads=WRITER_THREADS)
        state["engine"] = store
        state["writer"] = writer
        state["intake"] = Intake(store, settings, writer=writer)
        try:
            yield
        finally:
            writer.close()
            if own:
                store.dispose()

    async def _run(fn, *args):  # type: ignore[no-untyped-def]
        return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)

    def _receiver(source: str):  # type: ignore[no-untyped-def]
        async def endpoint(request: Request) -> Response:
            intake: Intake = state["intake"]  # type: ignore[assignment]
            writer: storage.EventWriter = state["writer"]  # type: ignore[assignment]
            received_at = utcnow()
            headers = {k.lower(): v for k, v in request.headers.items()}
            query = dict(request.query_params)
            remote = request.client.host if request.client else None
            try:
                raw = await _read_capped(request, settings.webhook_max_bytes)
            except _TooLarge as too_large:
                delivery = Delivery(source, headers, query, b"", received_at, remote)
                reason = f"body over {settings.webhook_max_bytes} bytes"
                size = too_large.size
                try:
                    await _run(lambda: intake.reject(delivery, 413, reason, body_bytes=size))
                except sa.exc.SQLAlchemyError:
                    log.exception("could not record a rejected %s webhook", source)
                return Response(status_code=413)
            delivery = Delivery(source, headers, query, raw, received_at, remote)
            decision = intake.decide(delivery) if len(raw) <= INLINE_BYTES else await _run(intake.decide, delivery)
            if decision.row is None:
                status = decision.reject_status or 403
                try:
                    await _run(intake.reject, delivery, status, decision.reject_reason or "rejected")
                except sa.exc.SQLAlchemyError:  # the answer stays 403: the request is not authentic
                    log.error("could not record a rejected %s webhook", source)
                return Response(status_code=status)
            try:
                stored = await asyncio.wrap_future(writer.submit(decision.row))
            except Exception as exc:  # noqa: BLE001 - the store failed: nothing acknowledged
                # Not stored, so not acknowledged: the vendor's retry will bring it again.
                log.error("store unavailable for a %s webhook: %s", source, type(exc).__name__)
                return JSONResponse({"status": "unavailable"}, status_code=503)
            return _response(intake.answered(delivery, decision, stored))

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

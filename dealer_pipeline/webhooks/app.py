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
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
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


def _declared_length(request: Request) -> int | None:
    """Content-Length when it is plain ASCII digits (httptools has checked the framing)."""
    declared = request.headers.get("content-length", "").strip()
    return int(declared[:20]) if declared.isascii() and declared.isdigit() else None


async def _read_capped(request: Request, cap: int) -> bytes:
    declared = _declared_length(request)
    if declared is not None and declared > cap:
        raise _TooLarge(declared)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise _TooLarge(size)
        chunks.append(chunk)
    return b"".join(chunks)


def _headers_and_query(request: Request) -> tuple[dict[str, str], dict[str, str], frozenset[str]]:
    """Headers (lower-cased names) and query parameters, and the names given more than once."""
    headers: dict[str, str] = {}
    repeated: set[str] = set()
    for raw_name, raw_value in request.headers.raw:
        name = raw_name.decode("latin-1").lower()
        if name in headers:
            repeated.add(name)
            headers[name] += ", " + raw_value.decode("latin-1")
        else:
            headers[name] = raw_value.decode("latin-1")
    query: dict[str, str] = {}
    for name, value in parse_qsl(request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True):
        if name in query:
            repeated.add("?" + name)
        query.setdefault(name, value)
    return headers, query, frozenset(repeated)


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

    async def _record(intake: Intake, delivery: Delivery, status: int, reason: str, *,
                      body_bytes: int | None = None) -> None:
        """Record a refusal; the answer does not depend on it (the request is refused either way)."""
        try:
            await _run(lambda: intake.reject(delivery, status, reason, body_bytes=body_bytes))
        except Exception as exc:  # noqa: BLE001 - a forensic row lost must not turn a 403 into a 500
            log.error("could not record a rejected %s webhook: %s", delivery.source, type(exc).__name__)

    def _receiver(source: str):  # type: ignore[no-untyped-def]
        async def endpoint(request: Request) -> Response:
            intake: Intake = state["intake"]  # type: ignore[assignment]
            writer: storage.EventWriter = state["writer"]  # type: ignore[assignment]
            received_at = utcnow()
            headers, query, repeated = _headers_and_query(request)
            remote = request.client.host if request.client else None
            try:
                raw = await _read_capped(request, settings.webhook_max_bytes)
            except ClientDisconnect:
                log.info("a %s webhook's client went away before its body ended; nothing stored", source)
                return Response(status_code=400)
            except _TooLarge as too_large:
                delivery = Delivery(source, headers, query, b"", received_at, remote, repeated)
                reason = f"body over {settings.webhook_max_bytes} bytes"
                await _record(intake, delivery, 413, reason, body_bytes=too_large.size)
                # The rest of the body is still on its way: close rather than wait out the body deadline.
                return Response(status_code=413, headers={"connection": "close"})
            delivery = Delivery(source, headers, query, raw, received_at, remote, repeated)
            decision = intake.decide(delivery) if len(raw) <= INLINE_BYTES else await _run(intake.decide, delivery)
            if decision.row is None:
                status = decision.reject_status or 403
                await _record(intake, delivery, status, decision.reject_reason or "rejected")
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

"""Connection-level limits for the receiver: header bytes and count, read deadlines.

uvicorn's httptools protocol buffers a header line of any length and waits for a slow client
forever; a few hundred clients sending half a request could hold the receiver's memory and
sockets. This subclass feeds the parser no more than `max_header_bytes` before the end of
the headers (431 beyond, so a 32 MiB header never reaches memory), refuses more than
`max_headers` header lines (431), closes a request whose headers have not arrived within
`header_timeout` or whose body has not within `body_timeout` (408), and lets no more than
`max_large_bodies` requests over `small_body` bytes arrive at once (503). Idle keep-alive
connections are uvicorn's `timeout_keep_alive`; the number of open connections is its
`limit_concurrency` (503 beyond it).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

log = logging.getLogger(__name__)
LIMITS_ATTRIBUTE = "receiver_limits"
# uvicorn reports a parser callback's exception as "Invalid HTTP request received."; a refusal
# raised on purpose is logged by `_refuse` instead, so the connection's logger is muted for it.
_MUTED = logging.getLogger(f"{__name__}.muted")
_MUTED.addFilter(lambda _record: False)
_MUTED.propagate = False


@dataclass(frozen=True)
class Limits:
    """What one connection may cost; the defaults are the receiver's production values."""

    max_header_bytes: int = 16 * 1024
    max_headers: int = 64
    header_timeout: float = 10.0
    body_timeout: float = 15.0
    max_connections: int = 1024
    keep_alive_timeout: float = 5.0
    #: Requests over `small_body` bytes (or chunked) whose body is still arriving, per process:
    #: what slow clients can make the receiver buffer is about this many times the body cap.
    max_large_bodies: int = 32
    small_body: int = 64 * 1024


class _Refused(Exception):
    pass


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` with the `Limits` found on uvicorn's config (`configure`)."""

    large_bodies_arriving = 0  # per process (one event loop): see `Limits.max_large_bodies`

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.limits: Limits = getattr(self.config, LIMITS_ATTRIBUTE, Limits())
        self._in_headers = True
        self._header_bytes = 0
        self._header_count = 0
        self._refusal: tuple[int, str] | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._large_body = False
        self._arm(self.limits.header_timeout, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._release_large_body()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        while data and not self.transport.is_closing():
            if not self._in_headers:
                super().data_received(data)
                return
            if self._deadline is None:
                self._arm(self.limits.header_timeout, "headers")
            room = self.limits.max_header_bytes - self._header_bytes
            if room <= 0:
                self._refuse(431, "Request header fields too large.")
                return
            piece, data = data[:room], data[room:]
            self._header_bytes += len(piece)
            super().data_received(piece)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._header_count = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._refuse_in_parser(431, "Too many request header fields.")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._header_bytes = 0
        if self._is_large():
            if GuardedHttpToolsProtocol.large_bodies_arriving >= self.limits.max_large_bodies:
                self._refuse_in_parser(503, "Too many large requests in progress.")
            GuardedHttpToolsProtocol.large_bodies_arriving += 1
            self._large_body = True
        self._arm(self.limits.body_timeout, "body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._release_large_body()
        super().on_message_complete()

    def _refuse_in_parser(self, status: int, msg: str) -> None:
        """Stop the parser from a callback; uvicorn then calls `send_400_response`, which refuses."""
        self._refusal = (status, msg)
        self.logger = _MUTED
        raise _Refused()

    def _is_large(self) -> bool:
        declared = next((value for name, value in self.headers if name == b"content-length"), None)
        if declared is None:
            return any(name == b"transfer-encoding" for name, _ in self.headers)
        return not declared.strip().isdigit() or int(declared.strip()[:20]) > self.limits.small_body

    def _release_large_body(self) -> None:
        if self._large_body:
            self._large_body = False
            GuardedHttpToolsProtocol.large_bodies_arriving -= 1

    def on_response_complete(self) -> None:
        self._in_headers = True
        super().on_response_complete()

    def send_400_response(self, msg: str) -> None:
        if self._refusal is not None:
            self._refuse(*self._refusal)
        else:
            super().send_400_response(msg)

    def _arm(self, seconds: float, phase: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, phase)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, phase: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if phase == "headers" and self.cycle is not None and not self.cycle.response_complete:
            return  # between a request and its answer: the app holds the connection, not the client
        log.info("closed a connection from %s: its request %s did not arrive in time", _peer(self.client), phase)
        self._refuse(408, "Request timeout.")

    def _refuse(self, status: int, msg: str) -> None:
        """Answer `status` and close, unless the app has started answering this request."""
        if status != 408:
            log.info("refused a request from %s: %s", _peer(self.client), msg)
        started = self.cycle is not None and self.cycle.response_started and not self.cycle.response_complete
        if not started:
            body = msg.encode("ascii")
            self.transport.write(b"".join([
                STATUS_LINE[status],
                b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n\r\n",
                body,
            ]))
        self.transport.close()


def _peer(client: tuple[str, int] | None) -> str:
    return client[0] if client else "an unknown peer"


def configure(config: Config, limits: Limits) -> None:
    """Serve `config` with the guarded protocol and `limits` (picklable: worker processes get them)."""
    config.http = f"{__name__}:GuardedHttpToolsProtocol"
    config.limit_concurrency = limits.max_connections
    config.timeout_keep_alive = limits.keep_alive_timeout  # type: ignore[assignment]
    setattr(config, LIMITS_ATTRIBUTE, limits)

"""Serving the sandbox app with uvicorn, plus the one thing uvicorn cannot do by itself:
reset a connection on purpose.

The `reset` fault must look like a vendor edge dropping the connection: no status line, a TCP
RST. ASGI has no message for that, so `SandboxHttpProtocol` (uvicorn's httptools protocol)
puts an `abort` callable into each request scope's extensions; it sets SO_LINGER to zero and
aborts the transport, which makes the kernel send RST instead of FIN.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from dealer_pipeline.sandbox.middleware import ABORT_EXTENSION


class SandboxHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with an abort-with-reset extension in every scope."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = {ABORT_EXTENSION: self._abort_with_reset}  # type: ignore[typeddict-unknown-key]

    def _abort_with_reset(self) -> None:
        sock: Any = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        if self.cycle is not None:
            self.cycle.disconnected = True  # no 500 afterwards: the client is gone
        self.transport.abort()


def serve(app: Any, *, host: str, port: int, log_level: str = "warning") -> None:
    """Run until interrupted (SIGINT/SIGTERM), single process, uvloop."""
    config = uvicorn.Config(app, host=host, port=port, http=SandboxHttpProtocol, loop="uvloop",
                            lifespan="on", access_log=False, log_level=log_level, timeout_keep_alive=30)
    uvicorn.Server(config).run()

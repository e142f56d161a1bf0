"""Serving the receiver with uvicorn (uvloop + httptools; several worker processes if asked).

uvicorn's access log is off: the Webmotors callback carries its secret in the query string,
and an access log line would write it out. The app logs rejections itself, without it.

    python -m dealer_pipeline.webhooks.server --port 8080 [--workers 2]
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys

import uvicorn
from uvicorn.supervisors import Multiprocess

from dealer_pipeline.settings import SettingsError, get_settings, is_loopback_host, sandbox_webhook_secrets
from dealer_pipeline.webhooks import guard

APP_FACTORY = "dealer_pipeline.webhooks.app:create_app"


def _bound_address(fd: int) -> str:
    with socket.socket(fileno=os.dup(fd)) as probe:
        return probe.getsockname()[0]


def _refuse_public_sandbox_secrets(address: str) -> None:
    """The sandbox's webhook secrets are public: a receiver reachable from elsewhere must not take them."""
    if not is_loopback_host(address) and (public := sandbox_webhook_secrets(get_settings())):
        raise SettingsError(f"the receiver would listen on {address}, beyond this machine, while "
                            f"{', '.join(public)} still hold the sandbox's public values: set them")


def serve(
    *, host: str = "127.0.0.1", port: int = 8080, workers: int = 1, fd: int | None = None, log_level: str = "info",
    limits: guard.Limits = guard.Limits(),
) -> None:
    """Run the receiver until interrupted; `fd` serves an already bound socket (no port race).

    `limits` bound what one client can hold: header bytes and count, read deadlines, open
    connections per worker process (docs/webhooks.md, "Limits")."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _refuse_public_sandbox_secrets(host if fd is None else _bound_address(fd))
    config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level=log_level,
        server_header=False,
        backlog=4096,
        timeout_graceful_shutdown=10,
    )
    guard.configure(config, limits)
    # uvicorn's own `fd=` treats the descriptor as a Unix socket, which turns TCP_NODELAY off
    # (40 ms per request from delayed ACKs); a socket object built from it keeps its family.
    sock = socket.socket(fileno=fd) if fd is not None else config.bind_socket()
    server = uvicorn.Server(config)
    try:
        if workers > 1:
            Multiprocess(config, sockets=[sock]).run()
        else:
            server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    if workers == 1 and not server.started:
        sys.exit(3)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the webhook receiver.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--fd", type=int, default=None)
    parser.add_argument("--log-level", default="info")
    defaults = guard.Limits()
    parser.add_argument("--header-timeout", type=float, default=defaults.header_timeout)
    parser.add_argument("--body-timeout", type=float, default=defaults.body_timeout)
    parser.add_argument("--max-connections", type=int, default=defaults.max_connections)
    args = parser.parse_args(argv)
    limits = guard.Limits(header_timeout=args.header_timeout, body_timeout=args.body_timeout,
                          max_connections=args.max_connections)
    try:
        serve(host=args.host, port=args.port, workers=args.workers, fd=args.fd, log_level=args.log_level,
              limits=limits)
    except SettingsError as exc:
        sys.exit(f"configuration: {exc}")


if __name__ == "__main__":
    main()

"""`dealer-pipeline webhooks serve`: the webhook receiver."""

from __future__ import annotations

import click

from dealer_pipeline.webhooks.guard import Limits

_LIMITS = Limits()


@click.group()
def webhooks() -> None:
    """The webhook receiver (Autotrader, Autocosmos, Webmotors notifications)."""


@webhooks.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="TCP port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Worker processes (one event loop each).")
@click.option("--fd", default=None, type=int, hidden=True, help="Serve an already bound socket.")
@click.option("--header-timeout", default=_LIMITS.header_timeout, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds a request may take to send its headers (408 after).")
@click.option("--body-timeout", default=_LIMITS.body_timeout, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds a request may take to send its body once its headers arrived (408 after).")
@click.option("--max-connections", default=_LIMITS.max_connections, show_default=True, type=click.IntRange(min=1),
              help="Open connections per worker process (503 beyond).")
def serve(host: str, port: int, workers: int, fd: int | None, header_timeout: float, body_timeout: float,
          max_connections: int) -> None:
    """Verify signed notifications and store them before answering."""
    from dealer_pipeline.settings import get_settings
    from dealer_pipeline.webhooks.server import serve as run

    get_settings()  # a bad variable fails here, named, before the server starts
    limits = Limits(header_timeout=header_timeout, body_timeout=body_timeout, max_connections=max_connections)
    run(host=host, port=port, workers=workers, fd=fd, limits=limits)

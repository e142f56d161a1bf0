"""`dealer-pipeline webhooks serve`: the webhook receiver."""

from __future__ import annotations

import click


@click.group()
def webhooks() -> None:
    """The webhook receiver (Autotrader, Autocosmos, Webmotors notifications)."""


@webhooks.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="TCP port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Worker processes (one event loop each).")
@click.option("--fd", default=None, type=int, hidden=True, help="Serve an already bound socket.")
def serve(host: str, port: int, workers: int, fd: int | None) -> None:
    """Verify signed notifications and store them before answering."""
    from dealer_pipeline.settings import get_settings
    from dealer_pipeline.webhooks.server import serve as run

    get_settings()  # a bad variable fails here, named, before the server starts
    run(host=host, port=port, workers=workers, fd=fd)

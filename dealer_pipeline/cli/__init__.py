"""The `dealer-pipeline` command line."""

from __future__ import annotations

import logging
import sys

import click

from dealer_pipeline.paths import ensure_dagster_home
from dealer_pipeline.settings import SettingsError


class _Main(click.Group):
    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            raise click.ClickException(f"configuration: {exc}") from None


@click.group(cls=_Main)
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def cli(verbose: bool) -> None:
    """Dealer stock from Autotrader Connect and Webmotors into one canonical table."""
    ensure_dagster_home()
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for chatty in ("alembic", "great_expectations", "httpx"):
        logging.getLogger(chatty).setLevel(logging.DEBUG if verbose else logging.WARNING)


def _register() -> None:
    from dealer_pipeline.cli import db, demo
    from dealer_pipeline.cli import events, webhooks
    from dealer_pipeline.cli import sandbox
    from dealer_pipeline.cli import sync
    from dealer_pipeline.cli import blocks
    from dealer_pipeline.cli import publish
    from dealer_pipeline.cli import certify

    cli.add_command(db.db)
    cli.add_command(demo.demo)
    cli.add_command(events.events)
    cli.add_command(webhooks.webhooks)
    cli.add_command(sandbox.sandbox)
    cli.add_command(sync.sync)
    cli.add_command(blocks.blocks)
    cli.add_command(publish.catalogue)
    cli.add_command(certify.certify)


_register()


def main() -> None:
    cli(prog_name="dealer-pipeline")

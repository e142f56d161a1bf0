"""`dealer-pipeline demo`: the whole pipeline on the embedded defaults, end to end."""

from __future__ import annotations

import click

from dealer_pipeline.store import migrate
from dealer_pipeline.store.engine import get_engine


@click.command()
def demo() -> None:
    """Migrate the embedded store, load the Dagster definitions and run what the pipeline has."""
    engine = get_engine()
    migrate.upgrade(engine)
    click.echo(f"store: {engine.url.render_as_string(hide_password=True)} at revision {migrate.current_revision(engine)}")
    from dealer_pipeline.definitions import defs

    assets = sorted(key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys())
    click.echo(f"definitions: {len(assets)} assets loaded")
    click.echo("pipeline stages available so far: store only (sources, sandbox and publishing not built yet)")

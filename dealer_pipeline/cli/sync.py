"""`dealer-pipeline sync`: materialize the asset graph for some dealers through the instance."""

from __future__ import annotations

import click

from dealer_pipeline.store import migrate
from dealer_pipeline.store.engine import get_engine


@click.command()
@click.option("--source", "sources", type=click.Choice(["autotrader", "webmotors"]), multiple=True,
              help="Only this source (repeatable). Default: both.")
@click.option("--dealer", "dealers", multiple=True, metavar="ID",
              help="Only this dealer, e.g. autotrader:10012345 (repeatable). Default: all.")
@click.option("--no-publish", is_flag=True, help="Stop after the canonical table and its checks.")
def sync(sources: tuple[str, ...], dealers: tuple[str, ...], no_publish: bool) -> None:
    """Sync dealers' stock into the canonical table as Dagster runs (visible in the UI)."""
    import dagster as dg

    from dealer_pipeline.defs.sync import sync as run_sync

    migrate.upgrade(get_engine())
    instance = dg.DagsterInstance.get()

    def show(outcome) -> None:  # type: ignore[no-untyped-def]
        mark = "ok    " if outcome.success else "FAILED"
        detail = f": {outcome.error}" if outcome.error else ""
        click.echo(f"{mark} {outcome.label} (run {outcome.run_id[:8]}){detail}")

    report = run_sync(instance, sources=sources or ("autotrader", "webmotors"), dealers=dealers or None,
                      publish=not no_publish, on_run=show)
    for source in report.unavailable:
        click.echo(f"skipped {source}: its assets are not part of the definitions")
    for dealer in report.unknown_dealers:
        click.echo(f"unknown dealer {dealer}: not among the source's partitions (is it on the integration?)")
    click.echo(f"{len(report.runs)} runs, {len(report.failed)} failed")
    if report.failed or report.unknown_dealers:
        raise SystemExit(1)

"""`dealer-pipeline sync`: materialize the asset graph for some dealers through the instance."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import click

from dealer_pipeline.store import migrate
from dealer_pipeline.store.engine import get_engine


def _status_line(snapshot: Any) -> str:
    """Dealers through each stage, vehicles, calls, calls/s, elapsed and the estimate of time left."""
    stages = "  ".join(f"{name} {done}/{planned}" for name, (done, planned) in snapshot.stages.items())
    rate = snapshot.calls / snapshot.elapsed if snapshot.elapsed > 0 else 0.0
    left = snapshot.remaining_seconds()
    eta = f"~{_clock(left)} left" if left is not None else "estimating"
    return (f"dealers {stages or '(listing)'} | vehicles {snapshot.vehicles:,} | calls {snapshot.calls:,} "
            f"({rate:,.0f}/s) | {_clock(snapshot.elapsed)} elapsed, {eta}")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else f"{minutes}:{secs:02d}"


@contextmanager
def _live_progress(console: Any, board: Any) -> Iterator[None]:
    """A status line that rewrites itself twice a second on a terminal; a plain line every 10 s in a
    log or a pipe; the last one when the work is done."""
    from rich.live import Live
    from rich.text import Text

    stop = threading.Event()
    with ExitStack() as stack:
        live = (stack.enter_context(Live(Text(_status_line(board.snapshot())), console=console, auto_refresh=False,
                                         redirect_stdout=False, redirect_stderr=False))
                if console.is_terminal else None)

        def paint() -> None:
            while not stop.wait(0.5 if live is not None else 10.0):
                if live is not None:
                    live.update(Text(_status_line(board.snapshot())), refresh=True)
                else:
                    console.print(_status_line(board.snapshot()), markup=False)

        painter = threading.Thread(target=paint, daemon=True, name="sync-progress")
        painter.start()
        try:
            yield
        finally:
            stop.set()
            painter.join()
            if live is not None:
                live.update(Text(_status_line(board.snapshot())), refresh=True)
    if live is None:
        console.print(_status_line(board.snapshot()), markup=False)


@click.command()
@click.option("--source", "sources", type=click.Choice(["autotrader", "webmotors"]), multiple=True,
              help="Only this source (repeatable). Default: both.")
@click.option("--dealer", "dealers", multiple=True, metavar="ID",
              help="Only this dealer, e.g. autotrader:10012345 (repeatable). Default: all.")
@click.option("--no-publish", is_flag=True, help="Stop after the canonical table and its checks.")
@click.option("--verbose", is_flag=True, help="Print Dagster's event log (DEBUG) and notices on the terminal.")
@click.pass_context
def sync(ctx: click.Context, sources: tuple[str, ...], dealers: tuple[str, ...], no_publish: bool,
         verbose: bool) -> None:
    """Sync dealers' stock into the canonical table as Dagster runs (visible in the UI)."""
    from dealer_pipeline.cli import quiet  # imports Dagster: only when a command needs it

    verbose = verbose or bool(ctx.find_root().params.get("verbose"))
    quiet.quiet_warnings(verbose)
    import dagster as dg
    from rich.console import Console

    from dealer_pipeline import progress
    from dealer_pipeline.runner.sync import sync as run_sync

    migrate.upgrade(get_engine())
    instance = dg.DagsterInstance.get()
    # A long-lived process writing many events: pooled storage connections, as the webserver has,
    # instead of a new PostgreSQL connection per event.
    instance.optimize_for_webserver(statement_timeout=0, pool_recycle=1800, max_overflow=4)
    console = Console(highlight=False, soft_wrap=True)

    def show(outcome) -> None:  # type: ignore[no-untyped-def]
        mark = "ok    " if outcome.success else "FAILED"
        detail = f": {outcome.error}" if outcome.error and not outcome.failed_dealers else ""
        console.print(f"{mark} {outcome.label} (run {outcome.run_id[:8]}){detail}", markup=False)
        for dealer, why in outcome.failed_dealers.items():
            console.print(f"FAILED {dealer}: {why}", markup=False)

    progress.board.reset()
    with _live_progress(console, progress.board):
        report = run_sync(instance, sources=sources or ("autotrader", "webmotors"), dealers=dealers or None,
                          publish=not no_publish, on_run=show, verbose=verbose)
    for source in report.unavailable:
        click.echo(f"skipped {source}: its assets are not part of the definitions")
    for dealer in report.unknown_dealers:
        click.echo(f"unknown dealer {dealer}: not among the source's partitions (is it on the integration?)")
    vendors = (sources or ("autotrader", "webmotors")) + (() if no_publish else ("autocosmos", "autochat"))
    for line in still_blocked(vendors, set(dealers) or None):
        click.echo(line)
    snapshot = progress.board.snapshot()
    failed_dealers = sorted({d for run in report.failed for d in (run.failed_dealers or run.dealers)})
    click.echo(f"{len(report.runs)} runs, {len(report.failed)} failed; {snapshot.vehicles:,} vehicles, "
               f"{snapshot.calls:,} vendor calls in {_clock(snapshot.elapsed)}"
               + (f"; dealers failed: {', '.join(failed_dealers)}" if failed_dealers else ""))
    if report.failed or report.unknown_dealers:  # new problems only: a known block skips its dealer
        raise SystemExit(1)


def still_blocked(vendors: tuple[str, ...], dealers: set[str] | None) -> list[str]:
    """One line per open block of these vendors that stops these dealers (all when None) or every dealer:
    known problems waiting for a person, which the runs skipped rather than failed."""
    from dealer_pipeline.http.blocks import list_blocks

    lines = []
    for block in list_blocks(get_engine()):
        if block.vendor not in vendors or (dealers is not None and block.dealer_id not in dealers | {None}):
            continue
        who = block.dealer_id or f"every {block.vendor} dealer"
        scope = f"{block.vendor} {block.service or 'all services'}" + (" (one request)" if block.request_only else "")
        lines.append(f"still blocked: {who}: block {block.id} ({block.reason}, {scope}) since "
                     f"{block.created_at:%Y-%m-%d %H:%M} UTC: {block.action or 'see dealer-pipeline blocks list'}")
    return lines

"""`dealer-pipeline events process`: apply pending webhook events now (the sensor's code path)."""

from __future__ import annotations

import json

import click


@click.group()
def events() -> None:
    """Webhook events stored by the receiver."""


@events.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def process(as_json: bool) -> None:
    """Apply every pending event, oldest first; each is marked applied, ignored or failed."""
    from dealer_pipeline.events import apply_all_pending, followups
    from dealer_pipeline.store.engine import get_engine

    engine = get_engine()
    summary = apply_all_pending(engine)
    after = followups.run(engine, summary.followups)
    result = summary.as_dict() | {"refetch_calls": after.refetch_calls, "lead_details_fetched":
                                  after.lead_details_fetched, "followup_error": after.error}
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
        return
    click.echo(f"events: {summary.processed} processed: {summary.applied} applied, {summary.ignored} ignored, "
               f"{summary.failed} failed, {summary.retry_later} left pending to retry")
    for kind, count in sorted(summary.by_type.items()):
        click.echo(f"  {kind}: {count}")
    for error in summary.errors:
        click.echo(f"  failed: {error}")
    if summary.refetch_requested:
        click.echo(f"enrichments: {summary.refetch_requested} vehicles changed derivativeId or features, "
                   f"{after.refetch_calls} calls made")
    if summary.lead_details_wanted:
        click.echo(f"leads: {summary.lead_details_wanted} new, {after.lead_details_fetched} details fetched")
    if after.error:
        click.echo(f"follow-up calls stopped: {after.error}")


@events.command()
@click.option("--id", "event_ids", type=int, multiple=True, help="This failed event (repeatable).")
@click.option("--all-failed", is_flag=True, help="Every failed event (of --source, when given).")
@click.option("--source", type=click.Choice(["autotrader", "autocosmos", "webmotors"]), default=None,
              help="Only events of this source.")
@click.pass_context
def retry(ctx: click.Context, event_ids: tuple[int, ...], all_failed: bool, source: str | None) -> None:
    """Put failed events back in the queue (after fixing their cause) and apply pending events now."""
    from dealer_pipeline.events.replay import requeue_failed
    from dealer_pipeline.store.engine import get_engine

    if bool(event_ids) == all_failed:
        raise click.UsageError("give the events to retry: --id N (repeatable) or --all-failed")
    ids = requeue_failed(get_engine(), event_ids=list(event_ids) or None, source=source)
    missing = sorted(set(event_ids) - set(ids))
    if missing:
        click.echo(f"not failed (left as they are): {', '.join(map(str, missing))}")
    click.echo(f"requeued {len(ids)} failed events" + (f": {', '.join(map(str, ids))}" if ids else ""))
    if ids:
        ctx.invoke(process, as_json=False)

"""`dealer-pipeline blocks`: what stopped vendor calls and needs a person (`api_blocks`)."""

from __future__ import annotations

import click

from dealer_pipeline.http.blocks import list_blocks, resolve_block
from dealer_pipeline.store.engine import get_engine


@click.group()
def blocks() -> None:
    """List and resolve blocks (403 A/B, 400) that keep calls from being sent."""


@blocks.command("list")
@click.option("--vendor", default=None, help="Only this vendor (e.g. autotrader).")
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved blocks.")
def list_command(vendor: str | None, include_resolved: bool) -> None:
    """Unresolved blocks, oldest first: id, vendor, dealer, service, reason, CF-RAY, action."""
    found = list_blocks(get_engine(), vendor=vendor, include_resolved=include_resolved)
    if not found:
        click.echo("no blocks" if include_resolved else "no unresolved blocks")
        return
    for block in found:
        state = f"resolved {block.resolved_at:%Y-%m-%d %H:%M}Z" if block.resolved_at else "OPEN"
        click.echo(
            f"#{block.id} {state} {block.vendor} dealer={block.dealer_id or '*'} service={block.service or '*'} "
            f"reason={block.reason} cf_ray={block.cf_ray or '-'} since {block.created_at:%Y-%m-%d %H:%M}Z"
        )
        if block.request_only:
            click.echo(f"    request: {block.method} {block.path}")
        click.echo(f"    vendor said: {block.message or '-'}")
        click.echo(f"    action: {block.action or '-'}")
        if block.resolved_note:
            click.echo(f"    resolution: {block.resolved_note}")


@blocks.command("resolve")
@click.argument("block_id", type=int)
@click.option("--note", required=True, help="What was done (kept with the block).")
def resolve_command(block_id: int, note: str) -> None:
    """Lift block BLOCK_ID: calls it stopped are sent again (within a second, by every process)."""
    try:
        block = resolve_block(get_engine(), block_id, note=note)
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"resolved block #{block.id} ({block.vendor} {block.reason} dealer={block.dealer_id or '*'})")

"""`dealer-pipeline catalogue review`: the Autocosmos catalogue review queue (`v_catalog_review`)."""

from __future__ import annotations

import click

from dealer_pipeline.catalogue.review import ReviewError, resolve_by_hand, review_queue, send_back
from dealer_pipeline.store.engine import get_engine


@click.group()
def catalogue() -> None:
    """The Autocosmos catalogue: specs no version matched wait here for a person."""


@catalogue.group()
def review() -> None:
    """List, resolve or send back specs in the review queue."""


@review.command("list")
@click.option("--limit", type=int, default=100, show_default=True)
def list_command(limit: int) -> None:
    """Specs waiting for review, those most vehicles wait on first."""
    with get_engine().connect() as conn:
        rows = review_queue(conn, limit=limit)
    if not rows:
        click.echo("the review queue is empty")
        return
    for row in rows:
        what = " ".join(str(row[k]) for k in ("make", "model", "year") if row.get(k))
        confidence = "-" if row["confidence"] is None else f"{float(row['confidence']):.3f}"
        click.echo(f"{row['spec_key']} {row['status']} vehicles={row['vehicles']} confidence={confidence} {what}")
        click.echo(f"    trim: {row.get('trim') or '-'}; fuel: {row.get('fuel_type') or '-'}; "
                   f"transmission: {row.get('transmission_type') or '-'}; "
                   f"model: {row.get('model_href') or 'not found'}")
        if row.get("top_candidate_href"):
            click.echo(f"    top candidate: {row['top_candidate_href']} {row.get('top_candidate_name') or ''}")
        if row.get("review_note"):
            click.echo(f"    note: {row['review_note']}")


@review.command("resolve")
@click.argument("spec_key")
@click.option("--version", "version_href", required=True, help="Version href, e.g. /v3/versiones/149478.")
@click.option("--make", "make_href", default=None, help="Marca href, when the catalogue found none.")
@click.option("--model", "model_href", default=None, help="Modelo href, when the catalogue found none.")
@click.option("--note", default=None, help="Why (kept with the spec).")
def resolve_command(spec_key: str, version_href: str, make_href: str | None, model_href: str | None,
                    note: str | None) -> None:
    """Publish vehicles of SPEC_KEY as the version VERSION_HREF from the next run on."""
    try:
        done = resolve_by_hand(get_engine(), spec_key, version_href, make_href=make_href, model_href=model_href,
                               note=note)
    except ReviewError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{spec_key}: matched by hand to {done['version_href']} ({done['make_href']}, {done['model_href']})")


@review.command("retry")
@click.argument("spec_key")
@click.option("--note", default=None, help="Why it is asked again (e.g. vehicle data corrected).")
def retry_command(spec_key: str, note: str | None) -> None:
    """Send SPEC_KEY back: the next catalogue run asks versiones/bestmatch about it again (once)."""
    try:
        send_back(get_engine(), spec_key, note=note)
    except ReviewError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{spec_key}: sent back; asked again on the next catalogue run")

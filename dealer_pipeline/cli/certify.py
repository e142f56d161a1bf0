"""`dealer-pipeline certify`: the certification evidence per go-live check ID, from the call log and the store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from dealer_pipeline.paths import dagster_home

VERDICT_WIDTH = 14


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO-8601 time: {value!r}", param_hint="--since") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _secrets() -> list[str]:
    """Every credential this process knows, to be kept out of the report."""
    from dealer_pipeline.dealers_file import DealersFileError, load_dealers
    from dealer_pipeline.settings import Secret, get_settings

    settings = get_settings()
    found = [v.reveal() for v in vars(settings).values() if isinstance(v, Secret)]
    try:
        found += [d.webmotors.password.reveal() for d in load_dealers().dealers if d.webmotors is not None]
    except (DealersFileError, OSError):
        pass
    from sqlalchemy import make_url

    password = make_url(settings.database_url).password
    if password:
        found.append(str(password))
    return found


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for certification.md and evidence.json (default: $DAGSTER_HOME/certification).")
@click.option("--sandbox-url", default=None, metavar="URL",
              help="Also read the vendor-side call log at URL/_sandbox/calls and judge call-log checks by it.")
@click.option("--since", default=None, metavar="TIME",
              help="Judge only activity from this ISO-8601 time on (e.g. the certification window).")
def certify(out_dir: Path | None, sandbox_url: str | None, since: str | None) -> None:
    """Write the evidence of every go-live check: verdict (passed / failed / not exercised), calls and rows.

    Reads the store named by DEALER_PIPELINE_DATABASE_URL without changing it. Exits 1 when a check failed.
    """
    from dealer_pipeline.certification import CertificationError, Verdict, open_store, report
    from dealer_pipeline.certification import certify as run
    from dealer_pipeline.settings import get_settings

    target = out_dir or dagster_home() / "certification"
    window = _since(since)
    try:
        engine = open_store(get_settings().database_url)
        try:
            cert = run(engine, since=window, sandbox_url=sandbox_url)
        finally:
            engine.dispose()
    except CertificationError as exc:
        raise click.ClickException(str(exc)) from None
    md_path, json_path, hidden = report.write(cert, target, _secrets())
    for item in cert.evidence:
        line = f"{item.id:<18} {item.verdict.value:<{VERDICT_WIDTH}} {item.summary}"
        click.echo(line[:160], color=False)
        if item.ours is not None and item.ours.verdict is not item.verdict:
            beside = f"{'':<18} {'':<{VERDICT_WIDTH}} api_calls alone: {item.ours.verdict.value}: {item.ours.summary}"
            click.echo(beside[:160], color=False)
    click.echo(f"\n{cert.count(Verdict.PASSED)} passed, {cert.count(Verdict.FAILED)} failed, "
               f"{cert.count(Verdict.NOT_EXERCISED)} not exercised of {len(cert.evidence)} checks")
    if cert.crosscheck:
        from dealer_pipeline.certification.crosscheck import summary

        click.echo(f"call logs: {summary(cert.crosscheck)}")
    if report.own_log_summary(cert):
        click.echo(f"verdicts: {report.own_log_summary(cert)}")
    if hidden:
        click.echo(f"warning: {hidden} secret values found in the evidence were replaced by ***", err=True)
    click.echo(f"wrote {md_path} and {json_path}")
    if cert.failed:
        raise SystemExit(1)

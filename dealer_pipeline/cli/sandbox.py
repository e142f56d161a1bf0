"""`dealer-pipeline sandbox serve`: the simulated vendor APIs (see dealer_pipeline/sandbox)."""

from __future__ import annotations

from pathlib import Path

import click

from dealer_pipeline.paths import dagster_home
from dealer_pipeline.sandbox.cli import make_serve_command


def _default_dealers_file() -> Path:
    """The file `DEALER_PIPELINE_DEALERS_FILE` defaults to, so the pipeline finds these dealers."""
    return dagster_home() / "sandbox-dealers.yaml"


@click.group()
def sandbox() -> None:
    """The local sandbox of the four vendor APIs."""


sandbox.add_command(make_serve_command(default_dealers_file=_default_dealers_file))

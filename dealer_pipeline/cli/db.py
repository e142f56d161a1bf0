"""`dealer-pipeline db`: migrate the canonical store and render its DDL."""

from __future__ import annotations

from pathlib import Path

import click

from dealer_pipeline.paths import project_root
from dealer_pipeline.store import migrate
from dealer_pipeline.store.engine import get_engine


@click.group()
def db() -> None:
    """The canonical store's schema."""


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    engine = get_engine()
    migrate.upgrade(engine, revision)
    click.echo(f"store at {engine.url.render_as_string(hide_password=True)}: revision {migrate.current_revision(engine)}")


@db.command()
@click.argument("revision", default="base")
def downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (default: base, an empty store)."""
    engine = get_engine()
    migrate.downgrade(engine, revision)
    click.echo(f"store reverted to {migrate.current_revision(engine) or 'base'}")


@db.command("render-sql")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Default: sql/schema.sql")
def render_sql(out: Path | None) -> None:
    """Write the PostgreSQL DDL that the migrations produce, and the data dictionary's view-file column
    blocks and docs/data-dictionary.md."""
    from dealer_pipeline.store import dictionary, views

    target = out or project_root() / "sql" / "schema.sql"
    target.write_text(migrate.render_postgres_ddl())
    click.echo(f"wrote {target}")
    for path, text in dictionary.rendered_files(views.views_dir()).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            click.echo(f"wrote {path}")

"""The analyst views (`sql/views/*.sql`) and the read-only analyst role (`sql/roles.sql`).

Each view file is plain SQL that runs on SQLite and PostgreSQL: a leading `--` comment saying
what a row is (also set as `COMMENT ON VIEW` on PostgreSQL), then one `CREATE VIEW`. Where a
view cannot be written portably, `<name>.<dialect>.sql` beside it replaces `<name>.sql` on that
dialect. Migrations install them (`install_views`), so `dealer-pipeline db upgrade` creates them.

SQLite checks every view whenever a table is renamed, so a later migration that rebuilds a
table in batch mode must drop the views first and recreate them after (`drop_views` /
`install_views` around the change).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import sqlalchemy as sa

from dealer_pipeline.paths import project_root
from dealer_pipeline.store import dictionary

ANALYST_ROLE = "dealer_pipeline_analyst"
#: Views whose tables a later migration creates: the revision that installs each. An earlier migration
#: that installs "every view" installs those that existed at its revision (`upto`).
INTRODUCED_IN = {"v_vendor_state_changes": "0008"}
_CREATE = re.compile(r"^\s*CREATE\s+VIEW\s+(\w+)\s+AS\b", re.IGNORECASE | re.MULTILINE)


def views_dir() -> Path:
    return project_root() / "sql" / "views"


def roles_file() -> Path:
    return project_root() / "sql" / "roles.sql"


@dataclass(frozen=True)
class ViewDefinition:
    name: str
    comment: str
    create_sql: str
    path: Path


def _parse(path: Path, name: str) -> ViewDefinition:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    comment_lines = []
    for line in lines:
        if not line.startswith("--") or line.startswith(dictionary.COLUMNS_MARKER):
            break
        comment_lines.append(line[2:].strip())
    comment = " ".join(part for part in comment_lines if part)
    # the generated column block (dictionary.yaml's text) is documentation, not part of the view's comment
    skipped = len(comment_lines)
    while skipped < len(lines) and lines[skipped].startswith("--"):
        skipped += 1
    body = "\n".join(lines[skipped:]).strip().rstrip(";").strip()
    match = _CREATE.match(body)
    if not comment:
        raise ValueError(f"{path.name}: a view file starts with a -- comment saying what a row is")
    if match is None or match.group(1) != name:
        raise ValueError(f"{path.name}: expected one `CREATE VIEW {name} AS ...` statement")
    if ";" in body:
        raise ValueError(f"{path.name}: one statement per view file")
    return ViewDefinition(name=name, comment=comment, create_sql=body, path=path)


def view_definitions(dialect: str, directory: Path | None = None, *, upto: str | None = None
                     ) -> list[ViewDefinition]:
    """The views for `dialect`, in name order (dialect variants replace the portable file); with
    `upto`, only those a migration of that revision or earlier installs (`INTRODUCED_IN`)."""
    directory = directory or views_dir()
    chosen: dict[str, Path] = {}
    for path in sorted(directory.glob("*.sql")):
        stem, _, variant = path.stem.partition(".")
        if variant and variant != dialect:
            continue
        if variant or stem not in chosen:
            chosen[stem] = path
    return [_parse(path, name) for name, path in sorted(chosen.items())
            if upto is None or INTRODUCED_IN.get(name, "0000") <= upto]


def view_names() -> list[str]:
    return [view.name for view in view_definitions("postgresql")]


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def install_statements(dialect: str, *, upto: str | None = None, only: str | None = None) -> list[str]:
    statements = []
    for view in view_definitions(dialect, upto=upto):
        if only is not None and view.name != only:
            continue
        statements.append(view.create_sql)
        if dialect == "postgresql":
            statements.append(f"COMMENT ON VIEW {view.name} IS {_quote_literal(view.comment)}")
            statements += dictionary.comment_statements(only=view.name)
    return statements


def drop_statements(dialect: str, *, upto: str | None = None, only: str | None = None) -> list[str]:
    return [f"DROP VIEW IF EXISTS {view.name}" for view in reversed(view_definitions(dialect, upto=upto))
            if only is None or view.name == only]


Execute = Callable[[str], object]


def install_views(execute: Execute, dialect: str, *, upto: str | None = None, only: str | None = None) -> None:
    """Create every view (those of revision `upto` or earlier; or the one named `only`) through `execute`
    (Alembic's `op.execute`, or a connection's, online or offline)."""
    for statement in install_statements(dialect, upto=upto, only=only):
        execute(statement)


def drop_views(execute: Execute, dialect: str, *, upto: str | None = None, only: str | None = None) -> None:
    for statement in drop_statements(dialect, upto=upto, only=only):
        execute(statement)


def reinstall_views(conn: sa.Connection) -> None:
    """Drop and recreate every view on a live connection (after editing a view file in development)."""
    dialect = conn.dialect.name
    run = lambda statement: conn.exec_driver_sql(statement)  # noqa: E731
    drop_views(run, dialect)
    install_views(run, dialect)


def apply_analyst_role(engine: sa.Engine) -> None:
    """Create or refresh the read-only analyst role from `sql/roles.sql` (PostgreSQL only; idempotent)."""
    if engine.dialect.name != "postgresql":
        raise ValueError("the analyst role exists only on PostgreSQL; SQLite has no roles")
    script = roles_file().read_text(encoding="utf-8")
    with engine.begin() as conn:
        # The DBAPI cursor without parameters, so the script's `%I` reaches the server untouched.
        cursor = conn.connection.cursor()
        try:
            cursor.execute(script)
        finally:
            cursor.close()

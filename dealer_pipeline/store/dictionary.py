"""The data dictionary (`dictionary.yaml`): one text per column, written everywhere it is read.

From the one file: the SQLAlchemy tables' column comments (`apply_to_metadata`, called by
schema.py), PostgreSQL's `COMMENT ON COLUMN` for tables and views (`comment_statements`, run by a
migration and whenever the views are installed), the column block of each view file
(`render_view_file`) and `docs/data-dictionary.md` (`render_markdown`). `render_files` is what
`dealer-pipeline db render-sql` writes; the tests compare all of them with this file.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import sqlalchemy as sa
import yaml

from dealer_pipeline.paths import project_root

SOURCE = Path(__file__).with_name("dictionary.yaml")
_UNSAFE = re.compile(r"%|(?<![:\w\\]):\w")
COLUMNS_MARKER = "-- Columns (from dealer_pipeline/store/dictionary.yaml; `dealer-pipeline db render-sql` writes them):"


@dataclass(frozen=True)
class Relation:
    name: str
    kind: str  # "table" or "view"
    about: str | None
    columns: dict[str, str]


@functools.lru_cache(maxsize=1)
def relations() -> tuple[Relation, ...]:
    """Every described table, then every view; a view's `=table.column` is that column's text."""
    document = yaml.safe_load(SOURCE.read_text(encoding="utf-8"))
    tables = {name: Relation(name, "table", entry.get("about"), dict(entry["columns"]))
              for name, entry in document["tables"].items()}

    def resolve(view: str, column: str, text: str) -> str:
        if not text.startswith("="):
            return text
        table, _, source_column = text[1:].partition(".")
        try:
            return tables[table].columns[source_column]
        except KeyError:
            raise ValueError(f"{view}.{column}: {text} names no described column") from None

    views = [Relation(name, "view", entry.get("about"),
                      {column: resolve(name, column, text) for column, text in entry["columns"].items()})
             for name, entry in document["views"].items()]
    for relation in (*tables.values(), *views):
        for column, text in relation.columns.items():
            if _UNSAFE.search(text):
                raise ValueError(f"{relation.name}.{column}: no '%' or ':name' in the text (drivers read them as "
                                 "parameters when the comment statements run)")
    return (*tables.values(), *views)


def described(kind: str | None = None) -> dict[str, Relation]:
    return {r.name: r for r in relations() if kind is None or r.kind == kind}


def apply_to_metadata(metadata: sa.MetaData) -> None:
    """Set every described table column's comment (schema.py holds no comment of its own for these)."""
    for relation in described("table").values():
        table = metadata.tables[relation.name]
        unknown = set(relation.columns) - set(table.columns.keys())
        if unknown:
            raise ValueError(f"dictionary.yaml describes {relation.name} columns that do not exist: {sorted(unknown)}")
        for column, text in relation.columns.items():
            table.columns[column].comment = text


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def comment_statements(kind: str | None = None, only: str | None = None) -> list[str]:
    """PostgreSQL `COMMENT ON COLUMN` for every described column (of one kind, or of one relation)."""
    return [f"COMMENT ON COLUMN {r.name}.{column} IS {_literal(text)}"
            for r in relations() if (kind is None or r.kind == kind) and (only is None or r.name == only)
            for column, text in r.columns.items()]


def render_view_file(text: str, view: str) -> str:
    """A view file with its column block (after the leading comment) rewritten from the dictionary."""
    lines = text.splitlines()
    head = []
    for line in lines:
        if not line.startswith("--") or line.startswith(COLUMNS_MARKER):
            break
        head.append(line)
    rest = lines[len(head):]
    if rest and rest[0].startswith(COLUMNS_MARKER):
        rest = rest[next((i for i, line in enumerate(rest) if not line.startswith("--")), len(rest)):]
    block = [COLUMNS_MARKER, *(f"--   {column}: {text}" for column, text in described("view")[view].columns.items())]
    return "\n".join([*head, *block, *rest]) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def render_markdown() -> str:
    from dealer_pipeline.store.views import view_definitions  # views install this file's comments

    view_about = {view.name: view.comment for view in view_definitions("postgresql")}
    out = ["# Data dictionary", "",
           "Generated from `dealer_pipeline/store/dictionary.yaml` by `dealer-pipeline db render-sql`; the same",
           "text is in PostgreSQL (`COMMENT ON COLUMN`, `\\d+ vehicles` in psql) and in each view file of `sql/views/`.",
           "Analysts read the views (the `dealer_pipeline_analyst` role can read nothing else); the tables are",
           "described because the views are made of them.", ""]
    for kind, title in (("view", "Views"), ("table", "Tables")):
        out += [f"## {title}", ""]
        for relation in described(kind).values():
            out += [f"### `{relation.name}`", ""]
            about = relation.about or view_about.get(relation.name)
            if about:
                out += [about, ""]
            out += ["| column | meaning |", "|---|---|"]
            out += [f"| `{column}` | {_cell(text)} |" for column, text in relation.columns.items()]
            out.append("")
    return "\n".join(out)


def markdown_path() -> Path:
    return project_root() / "docs" / "data-dictionary.md"


def rendered_files(views_dir: Path) -> Mapping[Path, str]:
    """Every generated file and the text it must hold."""
    files: dict[Path, str] = {markdown_path(): render_markdown()}
    for view in described("view"):
        for path in sorted(views_dir.glob(f"{view}*.sql")):
            files[path] = render_view_file(path.read_text(encoding="utf-8"), view)
    return files

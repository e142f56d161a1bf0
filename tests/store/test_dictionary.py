"""The data dictionary is the one source of column comments: PostgreSQL, schema.py, the view files and
docs/data-dictionary.md all say what dictionary.yaml says, and every column has an entry."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dealer_pipeline.store import dictionary, views
from dealer_pipeline.store.schema import metadata


def test_generated_files_say_what_the_dictionary_says() -> None:
    stale = [str(path) for path, text in dictionary.rendered_files(views.views_dir()).items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    assert not stale, f"{stale} drifted from dictionary.yaml: run `dealer-pipeline db render-sql`"


def test_the_view_files_keep_their_comment_and_statement_apart_from_the_column_block() -> None:
    for view in views.view_definitions("postgresql"):
        assert dictionary.COLUMNS_MARKER not in view.comment and "--" not in view.create_sql
        text = view.path.read_text(encoding="utf-8")
        for column, meaning in dictionary.described("view")[view.name].columns.items():
            assert f"--   {column}: {meaning}\n" in text


def test_schema_py_takes_its_comments_from_the_dictionary() -> None:
    for relation in dictionary.described("table").values():
        table = metadata.tables[relation.name]
        assert {c.name: c.comment for c in table.columns} == relation.columns


def test_every_column_of_the_described_tables_and_views_is_described(store: sa.Engine) -> None:
    inspector = sa.inspect(store)
    for relation in dictionary.relations():
        actual = [c["name"] for c in inspector.get_columns(relation.name)]
        assert actual == list(relation.columns), f"{relation.name}: dictionary.yaml lists other columns"
        assert all(text.strip() for text in relation.columns.values())


@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgresql_comments_are_the_dictionarys(store: sa.Engine) -> None:
    names = [relation.name for relation in dictionary.relations()]
    with store.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT c.relname, a.attname, col_description(c.oid, a.attnum) FROM pg_class c "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
            "WHERE c.relname = ANY(:names) AND c.relnamespace = 'public'::regnamespace"), {"names": names}).all()
    stored = {(table, column): comment for table, column, comment in rows}
    expected = {(r.name, column): text for r in dictionary.relations() for column, text in r.columns.items()}
    assert stored == expected


@pytest.mark.parametrize("backend", ["postgresql"])
def test_reinstalled_views_keep_their_column_comments(store: sa.Engine) -> None:
    with store.begin() as conn:
        views.reinstall_views(conn)
        comment = conn.execute(sa.text(
            "SELECT col_description('v_stock_current'::regclass, a.attnum) FROM pg_attribute a "
            "WHERE a.attrelid = 'v_stock_current'::regclass AND a.attname = 'blocking_findings'")).scalar_one()
    assert comment == dictionary.described("view")["v_stock_current"].columns["blocking_findings"]

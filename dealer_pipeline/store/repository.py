"""The small repository layer: batch upserts, reads by key.

Upserts are `INSERT ... ON CONFLICT DO UPDATE` on both dialects, sent with executemany in
chunks. On SQLite that is a C loop (20k vehicle rows in about 1 s); on PostgreSQL SQLAlchemy
does not batch an `ON CONFLICT` insert without RETURNING, so each row is a round trip (about
0.4 ms). One multi-row `VALUES` statement per chunk was measured and is slower on both (SQL
compilation of tens of thousands of parameters), so large batches of vehicles go through COPY
instead (`canonical/bulk.py`).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

CHUNK_ROWS = 2_000

Row = Mapping[str, Any]


def _dialect_insert(conn: sa.Connection, table: sa.Table):  # type: ignore[no-untyped-def]
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"upsert is not supported on {conn.dialect.name}")


def key_columns(table: sa.Table) -> list[str]:
    return [c.name for c in table.primary_key.columns]


def upsert(
    conn: sa.Connection,
    table: sa.Table,
    rows: Sequence[Row],
    *,
    conflict_columns: Sequence[str] | None = None,
    update_columns: Iterable[str] | None = None,
    only_if: Callable[[Any], sa.ColumnElement[bool]] | None = None,
) -> int:
    """Insert `rows`, or update them in place when the key exists; returns rows sent.

    `update_columns` defaults to every column the rows carry except the key (an empty list
    updates nothing: existing rows are kept as they are); `only_if`
    builds, from the incoming row (`excluded`), a condition on the stored row (`table.c`)
    that must hold for the update to happen, e.g. `lambda new: table.c.v < new.v`.
    """
    if not rows:
        return 0
    conflict = list(conflict_columns or key_columns(table))
    columns = list(rows[0].keys())
    updates = [c for c in (columns if update_columns is None else update_columns) if c not in conflict]
    stmt = _dialect_insert(conn, table)
    if updates:
        stmt = stmt.on_conflict_do_update(
            index_elements=conflict,
            set_={c: stmt.excluded[c] for c in updates},
            where=only_if(stmt.excluded) if only_if else None,
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=conflict)
    for start in range(0, len(rows), CHUNK_ROWS):
        conn.execute(stmt, list(rows[start : start + CHUNK_ROWS]))
    return len(rows)


def insert_ignore(conn: sa.Connection, table: sa.Table, row: Row, conflict_columns: Sequence[str]) -> bool:
    """Insert one row unless its unique key exists; True when it was inserted."""
    stmt = _dialect_insert(conn, table).values(**row).on_conflict_do_nothing(index_elements=list(conflict_columns))
    return conn.execute(stmt).rowcount == 1


def insert_many(conn: sa.Connection, table: sa.Table, rows: Sequence[Row]) -> int:
    for start in range(0, len(rows), CHUNK_ROWS):
        conn.execute(sa.insert(table), list(rows[start : start + CHUNK_ROWS]))
    return len(rows)


def get_by_keys(
    conn: sa.Connection, table: sa.Table, keys: Iterable[Any], *, for_update: bool = False
) -> dict[Any, sa.RowMapping]:
    """Rows of a single-column-key table by key, in batches; missing keys are absent."""
    (key_col,) = table.primary_key.columns
    wanted = list(dict.fromkeys(keys))
    found: dict[Any, sa.RowMapping] = {}
    for start in range(0, len(wanted), CHUNK_ROWS):
        stmt = sa.select(table).where(key_col.in_(wanted[start : start + CHUNK_ROWS]))
        if for_update and conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        for row in conn.execute(stmt).mappings():
            found[row[key_col.name]] = row
    return found


def get_one(conn: sa.Connection, table: sa.Table, **key: Any) -> sa.RowMapping | None:
    stmt = sa.select(table).where(*(table.c[name] == value for name, value in key.items()))
    return conn.execute(stmt).mappings().first()

"""Bulk upsert for PostgreSQL: `COPY` into a temporary table, then one guarded `INSERT ... SELECT`.

An `INSERT ... ON CONFLICT` executemany goes one row per round trip through psycopg2 (SQLAlchemy
2.1 leaves upserts without RETURNING out of its multi-VALUES batching), and vehicle rows carry
kilobytes of JSON; `COPY` streams them in the server's text format instead. Used for large
batches only: a temporary table per transaction is not worth it for one notification.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Callable, Iterator, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


def supports_copy(conn: sa.Connection) -> bool:
    """COPY goes through psycopg2's `copy_expert`; other drivers use the plain upsert."""
    return conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg2"


def copy_upsert(
    conn: sa.Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    update_columns: Sequence[str],
    only_if: Callable[[Any], sa.ColumnElement[bool]],
) -> int:
    """Upsert `rows` (each carrying every column of `table`, keys unique) through `COPY`."""
    if not rows:
        return 0
    columns = [c.name for c in table.columns]
    staging = sa.Table(f"{table.name}_incoming", sa.MetaData(), *(sa.Column(c.name, c.type) for c in table.columns))
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging.name} (LIKE {table.name}) ON COMMIT DROP"
    )
    conn.exec_driver_sql(f"TRUNCATE {staging.name}")
    if _has_lz4(conn):
        # Compressing kilobytes of JSON per row with lz4 instead of pglz roughly halves the server's work.
        conn.exec_driver_sql("SET LOCAL default_toast_compression = 'lz4'")
    encoders = [_encoder(column.type) for column in table.columns]
    lines = (
        "\t".join([encode(row[name]) for name, encode in zip(columns, encoders, strict=True)]) + "\n"
        for row in rows
    )
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.copy_expert(f"COPY {staging.name} ({', '.join(columns)}) FROM STDIN", _Stream(lines), size=_CHUNK)
    finally:
        cursor.close()
    (key,) = [c.name for c in table.primary_key.columns]
    stmt = postgresql.insert(table).from_select(columns, sa.select(*(staging.c[name] for name in columns)))
    stmt = stmt.on_conflict_do_update(
        index_elements=[key],
        set_={name: stmt.excluded[name] for name in update_columns},
        where=only_if(stmt.excluded),
    )
    conn.execute(stmt)
    return len(rows)


_CHUNK = 256 * 1024


class _Stream:
    """A file-like view of encoded lines, read in chunks while the server is already parsing the
    previous ones: encoding here and JSON parsing there overlap instead of taking turns."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._rest = ""

    def read(self, size: int = -1) -> str:
        parts, length = [self._rest], len(self._rest)
        for line in self._lines:
            parts.append(line)
            length += len(line)
            if 0 <= size <= length:
                break
        text = "".join(parts)
        if size < 0:
            self._rest = ""
            return text
        self._rest = text[size:]
        return text[:size]


def _has_lz4(conn: sa.Connection) -> bool:
    return bool(
        conn.exec_driver_sql(
            "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
        ).first()
    )


_json_text = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _escape(text: str) -> str:
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _encoder(type_: sa.types.TypeEngine) -> Callable[[Any], str]:
    """COPY text-format field writer for one column type (NULL is `\\N`)."""
    impl = type_.dialect_impl(postgresql.dialect())
    if isinstance(impl, sa.JSON):
        # JSON text holds no raw tab/newline/CR (they are escaped inside strings); only backslashes double.
        return lambda v: "\\N" if v is None else _json_text(v).replace("\\", "\\\\")
    if isinstance(impl, sa.Boolean):
        return lambda v: "\\N" if v is None else ("t" if v else "f")
    if isinstance(getattr(impl, "impl", impl), (sa.DateTime, sa.Date)):
        return lambda v: "\\N" if v is None else _iso(v)
    if isinstance(impl, (sa.Integer, sa.Numeric)):
        return lambda v: "\\N" if v is None else str(v)
    return lambda v: "\\N" if v is None else _escape(str(v))


def _iso(value: date | datetime) -> str:
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: timestamps must carry a time zone")
    return value.isoformat()

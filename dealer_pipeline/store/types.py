"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

#: JSON on SQLite, JSONB on PostgreSQL (indexable, compact, compared by value).
JSONDocument = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

def storable_text(value: str) -> str:
    """`value` as text both backends store: NULs and lone surrogates escaped (PostgreSQL text refuses
    NUL; UTF-8 cannot encode a lone surrogate). Plain text is returned as it is."""
    if not value.isascii():
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value.replace("\x00", "\\x00") if "\x00" in value else value


def storable_json(document: Any) -> str:
    """JSON text PostgreSQL's JSONB accepts: `json.dumps`, except that strings holding a NUL or a lone
    surrogate (which JSONB refuses) are stored as `storable_text` writes them."""
    text = json.dumps(document)
    if "\\u0000" in text or "\\ud" in text:
        return json.dumps(_storable_strings(document))
    return text


def _storable_strings(value: Any) -> Any:
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(k) if isinstance(k, str) else k: _storable_strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable_strings(v) for v in value]
    return value


#: Money: exact decimals. (SQLite keeps them as REAL; scale 2 rounds them back exactly.)
Money = sa.Numeric(14, 2)


class UTCDateTime(sa.types.TypeDecorator):
    """A timezone-aware timestamp on both dialects.

    PostgreSQL keeps `timestamptz`; SQLite has no zone, so values are stored in UTC and
    handed back with `tzinfo=UTC`. Naive datetimes are refused: their zone is a guess.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: timestamps must carry a time zone")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)

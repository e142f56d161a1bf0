"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

#: JSON on SQLite, JSONB on PostgreSQL (indexable, compact, compared by value).
JSONDocument = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

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

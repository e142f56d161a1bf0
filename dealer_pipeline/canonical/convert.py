"""Tolerant readers for vendor values: a bad value becomes None and is flagged, never an exception.

Each reader takes the `flag(field, value)` callback of the record being normalized, so one
malformed field costs that field only, and the batch's `unknown_values` says what was lost.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Mapping

from dealer_pipeline.canonical.vocabulary import fold
from dealer_pipeline.store.types import storable_text

Flag = Callable[[str, Any], None]

CENTS = Decimal("0.01")
TENTHS = Decimal("0.1")
#: A vendor timestamp further ahead of our receipt time than this is a bad clock: it is
#: clamped (and flagged), or one bogus value would shield the vehicle from every later update.
FUTURE_TOLERANCE = timedelta(hours=1)

_DECIMAL_TEXT = re.compile(r"^[0-9]+(\.[0-9]{1,2})?$")


def mapping(value: Any) -> Mapping[str, Any] | None:
    if type(value) is dict:  # the common case, without the ABC machinery of isinstance(Mapping)
        return value
    return value if isinstance(value, Mapping) else None


def text(value: Any) -> str | None:
    """Strings as sent (blank -> None; NULs and lone surrogates escaped so either backend stores them);
    numbers as their decimal text (ids sometimes come as numbers)."""
    if type(value) is str:
        return storable_text(value) if value and not value.isspace() else None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return storable_text(value) if value and not value.isspace() else None
    if isinstance(value, int):
        return str(value)
    return None


def compact_upper(value: Any) -> str | None:
    """Registrations and VINs: spaces removed, upper case."""
    raw = text(value)
    return "".join(raw.split()).upper() if raw else None


#: Integer columns are 32-bit on PostgreSQL; `source_version` is 64-bit (`limit=MAX_INT64`).
MAX_INT32 = 2**31 - 1
MAX_INT64 = 2**63 - 1


def integer(value: Any, name: str, flag: Flag, *, limit: int = MAX_INT32) -> int | None:
    """A whole number within ±`limit`; floats and numeric strings (ASCII only) are rounded half up.
    Anything else, or out of range, is flagged and dropped: one absurd value must not fail the insert."""
    if value is None:
        return None
    if isinstance(value, bool) or (isinstance(value, str) and not value.isascii()):
        flag(name, value)
        return None
    if isinstance(value, int):
        whole: int | None = value
    else:
        try:
            number = float(value) if isinstance(value, (float, str, Decimal)) else math.nan
        except ValueError:
            number = math.nan
        whole = int(math.floor(number + 0.5)) if math.isfinite(number) else None
    if whole is None or abs(whole) > limit:
        flag(name, value if not isinstance(value, int) else f"{str(value)[:30]}...")
        return None
    return whole


def number(value: Any, name: str, flag: Flag) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if isinstance(value, str) and value.isascii():
        try:
            parsed = float(value)
        except ValueError:
            parsed = math.nan
        if math.isfinite(parsed):
            return parsed
    flag(name, value)
    return None


def round_tenths(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(TENTHS, rounding=ROUND_HALF_UP)


#: Money columns are NUMERIC(14, 2).
MAX_MONEY = Decimal(10) ** 12


def money(value: Any, name: str, flag: Flag) -> Decimal | None:
    """A non-negative amount below `MAX_MONEY` as Decimal with two places; ints, finite floats and
    'digits[.dd]' strings (ASCII digits)."""
    if value is None:
        return None
    amount: Decimal | None = None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_MONEY:
        amount = Decimal(value).quantize(CENTS)
    elif isinstance(value, float) and math.isfinite(value) and 0 <= value < MAX_MONEY:
        amount = Decimal(repr(value)).quantize(CENTS, rounding=ROUND_HALF_UP)
    elif isinstance(value, str) and _DECIMAL_TEXT.match(value) and len(value) <= 16:
        amount = Decimal(value).quantize(CENTS)
    if amount is None or amount >= MAX_MONEY:
        flag(name, value)
        return None
    return amount


def day(value: Any, name: str, flag: Flag) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10]) if len(value) >= 10 else date.fromisoformat(value)
        except ValueError:
            pass
    flag(name, value)
    return None


def timestamp(value: Any, name: str, flag: Flag, *, received_at: datetime) -> datetime | None:
    """ISO-8601 with any number of fraction digits; no zone means UTC (both vendors send UTC)."""
    if value is None:
        return None
    parsed: datetime | None = None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = _fraction_trimmed(value)
    if parsed is None:
        flag(name, value)
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    parsed = parsed.astimezone(timezone.utc)
    if parsed > received_at + FUTURE_TOLERANCE:
        flag(name, value)
        return received_at.astimezone(timezone.utc)
    return parsed


_FRACTION = re.compile(r"^(.*T\d\d:\d\d:\d\d)\.(\d+)(.*)$")


def _fraction_trimmed(value: str) -> datetime | None:
    """`fromisoformat` takes 1-6 fraction digits; vendors sometimes send 7-9 (nanoseconds)."""
    match = _FRACTION.match(value)
    if not match:
        return None
    try:
        return datetime.fromisoformat(f"{match[1]}.{match[2][:6]}{match[3]}")
    except ValueError:
        return None


def lookup(table: Mapping[str, str], value: str | None, name: str, flag: Flag) -> str | None:
    """A vendor enum value through a `folded_map`; unknown values become 'other' and are flagged."""
    if value is None:
        return None
    mapped = table.get(fold(value))
    if mapped is None:
        flag(name, value)
        return "other"
    return mapped

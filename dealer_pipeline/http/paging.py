"""One paginator for numbered pages (`page` 1, 2, … beside a total), and one reader of a page body.

Autotrader's advertisers and stock and Webmotors' stock list page the same way; they differ
only in field names and in whether records can move between pages while they are listed
(`Paging.may_shift`: Webmotors' stock can, so distinct records are counted and one page of
slack is allowed). Guards: the same page twice, a page beyond what the total allows, and a
total no listing could have raise instead of looping or duplicating.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from dealer_pipeline.http.errors import MalformedResponse, PaginationError

#: Records a listing may claim at most: a larger total is a malformed answer, not pages to walk.
MAX_TOTAL = 1_000_000


class NumberedPage(Protocol):
    @property
    def number(self) -> int: ...

    @property
    def items(self) -> Sequence[Mapping[str, Any]]: ...

    @property
    def total(self) -> int: ...


P = TypeVar("P", bound=NumberedPage)


@dataclass(frozen=True)
class Paging:
    """How one listing is walked: `key` names a record (None when it has no key)."""

    vendor: str
    page_size: int
    key: Callable[[Mapping[str, Any]], Any]
    what: str  # e.g. "stock of advertiser 123", for errors
    may_shift: bool = False  # records can move between pages: count distinct keys, allow one extra page


def paginate(fetch: Callable[[int], P], paging: Paging) -> Iterator[P]:
    """Pages from 1 until `total` records were seen or a page comes back empty."""
    seen: set[Any] = set()
    counted = 0
    previous: str | None = None
    number = 1
    while True:
        page = fetch(number)
        if not page.items:
            return
        keys = [paging.key(item) for item in page.items]
        signature = hashlib.sha256(json.dumps(keys, default=str).encode()).hexdigest()
        _check(page, paging, repeated=signature == previous)
        previous = signature
        if paging.may_shift:
            seen.update(k for k in keys if k is not None)
            counted += sum(k is None for k in keys)
        else:
            counted += len(keys)
        yield page
        if len(seen) + counted >= page.total:
            return
        number += 1


def _check(page: NumberedPage, paging: Paging, *, repeated: bool) -> None:
    where = {"vendor": paging.vendor, "status": 200, "cf_ray": getattr(page, "cf_ray", None)}
    if repeated:
        raise PaginationError(f"{paging.what}: page {page.number} repeats page {page.number - 1}", **where)
    allowed = max(1, math.ceil(page.total / paging.page_size)) + (1 if paging.may_shift else 0)
    if page.number > allowed:
        raise PaginationError(f"{paging.what}: page {page.number} is beyond total {page.total} at "
                              f"{paging.page_size} per page", **where)


def read_page(body: Any, *, items: str, total: str, what: str, vendor: str, path: str,
              cf_ray: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """The records and the total of one page body; `MalformedResponse` saying what is wrong."""
    where = {"vendor": vendor, "method": "GET", "path": path, "status": 200, "cf_ray": cf_ray}
    if not isinstance(body, dict) or not isinstance(body.get(items), list):
        raise MalformedResponse(f"{what} has no {items} list", **where)
    count = body.get(total)
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_TOTAL:
        raise MalformedResponse(f"{what} has no valid {total} ({repr(count)[:40]})", **where)
    records = body[items]
    if not all(isinstance(record, dict) for record in records):
        raise MalformedResponse(f"{what} has {items} that are not all objects", **where)
    return list(records), count

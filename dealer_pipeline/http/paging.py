"""One paginator for numbered pages (`page` 1, 2, … beside a total) or pages that link to the next
(`follow_links`: Autocosmos' `_links.next.href`), and one reader of a page body.

Autotrader's advertisers and stock and Webmotors' stock list page the same way; they differ
only in field names and in whether records can move between pages while they are listed
(`Paging.may_shift`: Webmotors' stock can, so distinct records are counted and one page of
slack is allowed). Guards: the same page twice, a page beyond what the total allows, and a
total no listing could have raise instead of looping or duplicating. Followed links are refused when
they lead back to a page already read, off the vendor's host (our credentials would go with them), or
past `MAX_LINKED_PAGES`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from dealer_pipeline.http.errors import MalformedResponse, PaginationError

#: Records a listing may claim at most: a larger total is a malformed answer, not pages to walk.
MAX_TOTAL = 1_000_000
#: Pages a link-following listing may have at most: more is a chain of links that never ends.
MAX_LINKED_PAGES = 1_000


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


class LinkedPage(Protocol):
    @property
    def items(self) -> Sequence[Mapping[str, Any]]: ...

    @property
    def next(self) -> str | None: ...  # the page's link to the next one, as sent (None on the last)


L = TypeVar("L", bound=LinkedPage)


@dataclass(frozen=True)
class Links:
    """Where a link-following listing may go: `base_url` is the vendor's (links must stay on its host)."""

    vendor: str
    base_url: str
    what: str  # e.g. "publication list", for errors
    max_pages: int = MAX_LINKED_PAGES


def follow_links(fetch: Callable[[str], L], first: str, links: Links) -> Iterator[L]:
    """Pages from the path `first`, then each page's `next` link (a path under `links.base_url`)."""
    seen: set[str] = set()
    path: str | None = first
    ray: str | None = None  # of the page whose link is followed
    while path is not None:
        where = {"vendor": links.vendor, "method": "GET", "path": path, "cf_ray": ray}
        if _canonical(path) in seen:
            raise PaginationError(f"{links.what} links back to a page already read", **where)
        if len(seen) == links.max_pages:
            raise PaginationError(f"{links.what} has more than {links.max_pages} pages", **where)
        seen.add(_canonical(path))
        page = fetch(path)
        yield page
        ray = getattr(page, "cf_ray", None)
        path = _resolve(page.next, path, links, ray)


def _resolve(href: str | None, current: str, links: Links, cf_ray: str | None) -> str | None:
    """The path (with query) a `next` link names, relative to the vendor's base URL; None when there is none."""
    if href is None or href == "":
        return None
    where = {"vendor": links.vendor, "method": "GET", "path": current, "status": 200, "cf_ray": cf_ray}
    if not isinstance(href, str):
        raise PaginationError(f"{links.what} has a next link that is not a string", **where)
    base, target = urlsplit(links.base_url), urlsplit(urljoin(current, href))
    if target.scheme or target.netloc:
        if (target.scheme.lower(), target.netloc.lower()) != (base.scheme.lower(), base.netloc.lower()):
            raise PaginationError(f"{links.what} links to another host ({target.netloc or target.scheme + ':'}); "
                                  f"not followed", **where)
        prefix = base.path.rstrip("/")
        if not (target.path + "/").startswith(prefix + "/"):
            raise PaginationError(f"{links.what} links outside the API ({target.path[:80]})", **where)
        target = target._replace(scheme="", netloc="", path=target.path[len(prefix):] or "/")
    return target._replace(fragment="").geturl()


def _canonical(path: str) -> str:
    """A path with its query parameters in one order, so the same page is recognised however linked."""
    parts = urlsplit(path)
    return f"{parts.path}?{urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))}"


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

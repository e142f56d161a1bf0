"""The one paginator and page reader (`http.paging`) on bad input: malformed pages, absurd totals,
missing fields, pages that repeat or run past their total, and `next` links that loop, leave the
vendor's host or never end (alone, and in Autocosmos' publication list over a real socket)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from dealer_pipeline.http import MalformedResponse, PaginationError
from dealer_pipeline.http.paging import MAX_TOTAL, Links, Paging, follow_links, paginate, read_page
from dealer_pipeline.vendors.autocosmos import AutocosmosClient
from tests.http.scripted_vendor import ScriptedVendor


@dataclass(frozen=True)
class _Page:
    number: int
    items: list[dict[str, Any]]
    total: int
    cf_ray: str | None = "ray-1"


def _read(body: Any) -> tuple[list[dict[str, Any]], int]:
    return read_page(body, items="results", total="totalResults", what="page 3", vendor="v", path="/stock",
                     cf_ray="ray-9")


@pytest.mark.parametrize(("body", "says"), [
    (None, "no results list"),
    ([], "no results list"),
    ("<html>busy</html>", "no results list"),
    ({}, "no results list"),
    ({"totalResults": 3}, "no results list"),
    ({"results": {"a": 1}, "totalResults": 1}, "no results list"),
    ({"results": []}, "no valid totalResults (None)"),
    ({"results": [], "totalResults": None}, "no valid totalResults (None)"),
    ({"results": [], "totalResults": -1}, "no valid totalResults (-1)"),
    ({"results": [], "totalResults": True}, "no valid totalResults (True)"),
    ({"results": [], "totalResults": 2.0}, "no valid totalResults (2.0)"),
    ({"results": [], "totalResults": "12"}, "no valid totalResults ('12')"),
    ({"results": [], "totalResults": MAX_TOTAL + 1}, f"no valid totalResults ({MAX_TOTAL + 1})"),
    ({"results": [{"id": 1}, "two", None], "totalResults": 3}, "results that are not all objects"),
    ({"results": [[1]], "totalResults": 1}, "results that are not all objects"),
])
def test_a_malformed_page_is_refused_with_what_is_wrong(body: Any, says: str) -> None:
    with pytest.raises(MalformedResponse) as caught:
        _read(body)
    error = caught.value
    assert says in error.message and error.message.startswith("page 3 ")
    assert (error.vendor, error.method, error.path, error.status, error.cf_ray) == ("v", "GET", "/stock", 200, "ray-9")


def test_an_absurd_total_is_cut_short_in_the_message() -> None:
    with pytest.raises(MalformedResponse) as caught:
        _read({"results": [], "totalResults": 10**400})
    assert len(caught.value.message) < 120


def test_a_good_page_is_read_whole() -> None:
    assert _read({"results": [{"id": 1}, {"id": 2}], "totalResults": 7, "extra": "kept out"}) == (
        [{"id": 1}, {"id": 2}], 7)
    assert _read({"results": [], "totalResults": 0}) == ([], 0)
    assert _read({"results": [{"id": 1}], "totalResults": MAX_TOTAL}) == ([{"id": 1}], MAX_TOTAL)


def _walk(pages: dict[int, list[Any]], total: int | dict[int, int], *, may_shift: bool = False,
          size: int = 2) -> list[int]:
    def fetch(number: int) -> _Page:
        count = total[min(number, max(total))] if isinstance(total, dict) else total
        return _Page(number, [{"id": i} for i in pages.get(number, [])], count)

    paging = Paging("v", size, lambda item: item.get("id"), "stock of v:1", may_shift=may_shift)
    return [page.number for page in paginate(fetch, paging)]


def test_pages_end_at_the_total_or_at_an_empty_page() -> None:
    assert _walk({1: [1, 2], 2: [3, 4], 3: [5]}, 5) == [1, 2, 3]
    assert _walk({1: [1, 2], 2: [3, 4]}, 9) == [1, 2]  # promised 9, then an empty page: stop, no error
    assert _walk({}, 0) == [] and _walk({}, 40) == []
    assert _walk({1: [1]}, 0) == [1]  # a total of 0 beside records: the records are read, then stop


def test_the_same_page_twice_is_refused_not_looped() -> None:
    with pytest.raises(PaginationError, match="stock of v:1: page 2 repeats page 1") as caught:
        _walk({1: [1, 2], 2: [1, 2], 3: [3]}, 6)
    assert (caught.value.vendor, caught.value.status, caught.value.cf_ray) == ("v", 200, "ray-1")
    with pytest.raises(PaginationError, match="repeats"):  # records without keys look alike too
        _walk({1: [None, None], 2: [None, None]}, 9)


def test_pages_that_never_add_up_to_the_total_stop_beyond_it() -> None:
    endless = {n: [n] for n in range(1, 50)}  # one new record a page, total 5 at 2 a page
    with pytest.raises(PaginationError, match="page 4 is beyond total 5 at 2 per page"):
        _walk(endless, 5)
    with pytest.raises(PaginationError, match="page 5 is beyond total 5"):  # one page of slack when shifting
        _walk(endless, 5, may_shift=True)


def test_an_absurd_total_still_stops_at_the_first_empty_page() -> None:
    assert _walk({1: [1, 2], 2: [3]}, MAX_TOTAL) == [1, 2]


def test_a_shifting_listing_counts_distinct_records() -> None:
    # An ad moved from page 1 to page 2 while listing: counting hits would stop before ad 4.
    assert _walk({1: [1, 2], 2: [2, 3], 3: [4]}, 4, may_shift=True) == [1, 2, 3]
    assert _walk({1: [1, 2], 2: [2, 3], 3: [4]}, 4) == [1, 2]  # a stable listing counts every record
    # Records without a key count one each.
    assert _walk({1: [None, 1], 2: [None, 2]}, 4, may_shift=True) == [1, 2]


@dataclass(frozen=True)
class _Linked:
    items: list[dict[str, Any]]
    next: Any
    cf_ray: str | None = "ray-2"


LINKS = Links("v", "https://api.example.com", "publication list", max_pages=5)


def _follow(site: dict[str, Any], first: str = "/pubs", links: Links = LINKS) -> tuple[list[str], list[Any]]:
    """Walk `site` (path -> next link); the paths fetched, and the items read."""
    fetched: list[str] = []

    def fetch(path: str) -> _Linked:
        fetched.append(path)
        return _Linked([{"page": path}], site[path])

    items = [item for page in follow_links(fetch, first, links) for item in page.items]
    return fetched, items


def test_links_are_followed_relative_absolute_and_to_the_end() -> None:
    site = {"/pubs": "/pubs?page=2", "/pubs?page=2": "https://API.example.com/pubs?page=3#top",
            "/pubs?page=3": "pubs?page=4", "/pubs?page=4": None}
    fetched, items = _follow(site)
    assert fetched == ["/pubs", "/pubs?page=2", "/pubs?page=3", "/pubs?page=4"]
    assert len(items) == 4


def test_a_link_back_to_an_earlier_page_is_refused_not_looped() -> None:
    site = {"/pubs": "/pubs?page=2&size=10", "/pubs?page=2&size=10": "/pubs?page=3",
            "/pubs?page=3": "https://api.example.com/pubs?size=10&page=2"}
    with pytest.raises(PaginationError, match="links back to a page already read") as raised:
        _follow(site)
    assert raised.value.path == "/pubs?size=10&page=2"  # the same page, its query in another order


@pytest.mark.parametrize("href", ["https://evil.example.net/pubs?page=2", "//evil.example.net/pubs",
                                  "http://api.example.com/pubs?page=2", "https://api.example.com:8443/pubs",
                                  "javascript:alert(1)"])
def test_a_link_to_another_host_is_never_followed(href: str) -> None:
    # Following it would be a fetch of a path `site` lacks (a KeyError), not this error.
    with pytest.raises(PaginationError, match="links to another host") as raised:
        _follow({"/pubs": href})
    assert raised.value.path == "/pubs" and raised.value.cf_ray == "ray-2"


def test_a_link_outside_the_api_under_a_base_path_is_refused() -> None:
    links = Links("v", "https://api.example.com/api/", "publication list")
    assert _follow({"/pubs": "https://api.example.com/api/pubs?page=2", "/pubs?page=2": None}, links=links)[0] == [
        "/pubs", "/pubs?page=2"]
    with pytest.raises(PaginationError, match="links outside the API"):
        _follow({"/pubs": "https://api.example.com/admin/pubs"}, links=links)


def test_links_that_never_end_stop_at_the_page_limit() -> None:
    fetched: list[str] = []

    def fetch(path: str) -> _Linked:
        fetched.append(path)
        return _Linked([{}], f"/pubs?page={len(fetched) + 1}")

    with pytest.raises(PaginationError, match="more than 5 pages"):
        list(follow_links(fetch, "/pubs", LINKS))
    assert len(fetched) == 5


@pytest.mark.parametrize("href", [None, ""])
def test_no_next_link_ends_the_listing(href: Any) -> None:
    assert _follow({"/pubs": href})[0] == ["/pubs"]


def test_a_next_link_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(PaginationError, match="not a string"):
        _follow({"/pubs": {"href": "/pubs?page=2"}})


def test_autocosmos_publication_list_follows_its_links_over_a_socket(store: sa.Engine,
                                                                    vendor: ScriptedVendor) -> None:
    path = "/v3/publicaciones/admin@agencia.com.ar"
    vendor.queue(path, *[{"status": 200, "body": {"_entries": [{"ExternalId": f"STK-{n}"}],
                                                   "_links": {"next": {"href": href}}}}
                         for n, href in [(1, f"{path}?page=2"), (2, f"{vendor.url}{path}?page=3"), (3, None)]])
    client = AutocosmosClient.from_settings(engine=store, base_url=vendor.url)
    try:
        entries = client.list_publications("admin@agencia.com.ar", dealer_id="ac:1")
        assert [e["ExternalId"] for e in entries] == ["STK-1", "STK-2", "STK-3"]
        assert [c["query"] for c in vendor.calls(path)] == [{}, {"page": ["2"]}, {"page": ["3"]}]
        vendor.queue(path, {"status": 200, "body": {"_entries": [], "_links": {"next": {"href": f"{path}?page=2"}}}},
                     {"status": 200, "body": {"_entries": [], "_links": {"next": {"href": "https://evil.example/x"}}}})
        with pytest.raises(PaginationError, match="links to another host"):
            client.list_publications("admin@agencia.com.ar", dealer_id="ac:1")
        assert len(vendor.calls(path)) == 5 and len(vendor.calls()) == 5
    finally:
        client.http.close()

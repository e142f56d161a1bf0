"""Autotrader Connect: the client the pipeline uses (api/autotrader.md Part 2).

Everything vendor-specific sits here: the token grant (`/authenticate`, `expires_at` or
legacy `expires`), the 403 kinds told apart by configurable message patterns, what an
operator is told to do, the pagination of `/advertisers` and `/stock`, response
refinement (explicit `=false` for sections the pipeline does not store), features and
charge times. Transport etiquette (shared token, pauses, blocks, call log) is the HTTP
layer's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

from dealer_pipeline.http import (
    Action,
    MalformedResponse,
    TokenAuth,
    TokenGrant,
    VendorClient,
    VendorPolicy,
    Verdict,
)
from dealer_pipeline.http.blocks import is_request_block
from dealer_pipeline.http.grants import GrantSpec, grant_token
from dealer_pipeline.http.paging import Paging, read_page
from dealer_pipeline.http.paging import paginate as paginate_pages
from dealer_pipeline.http.policy import compile_pattern
from dealer_pipeline.settings import Secret, Settings
from dealer_pipeline.vendors.base import VendorAdapter

VENDOR = "autotrader"
TOKEN_LIFETIME = timedelta(minutes=15)  # assumed when the grant carries no expiry

#: Sections of a stock record the pipeline stores (requested explicitly `=true`).
STORED_SECTIONS: tuple[str, ...] = ("vehicle", "advertiser", "adverts", "metadata", "features", "media", "highlights")
#: Sections it does not use (requested explicitly `=false`, as the go-live checks want).
UNUSED_SECTIONS: tuple[str, ...] = (
    "history", "check", "valuations", "responseMetrics", "finance", "motTests", "competitors",
)

NOT_ON_INTEGRATION = r"is not on your integration"
LACKS_PRODUCT = r"does not have access to the (?P<product>.+?) product"

ADVERTISERS_MAX_PAGE_SIZE = 100
STOCK_MAX_PAGE_SIZE = 200


def dealer_id(advertiser_id: str) -> str:
    return f"{VENDOR}:{advertiser_id}"


# ---- policy ------------------------------------------------------------------------------
@dataclass
class AutotraderPolicy(VendorPolicy):
    """api/autotrader.md 2.7: 403 kind A (advertiser not on the integration) blocks the
    advertiser, kind B (advertiser lacks the product) blocks that service for it; anything
    unrecognised is treated as A, the safer reading. Patterns are configurable."""

    vendor: str = VENDOR
    base_url: str = ""
    not_on_integration_pattern: str = NOT_ON_INTEGRATION
    lacks_product_pattern: str = LACKS_PRODUCT

    def refine(self, verdict: Verdict, status: int, body: str) -> Verdict:
        if status != 403:
            return verdict
        message = verdict.message or ""
        if compile_pattern(self.not_on_integration_pattern).search(message):
            return Verdict(Action.BLOCK_DEALER, "403A", message, verdict.retry_after)
        if compile_pattern(self.lacks_product_pattern).search(message):
            return Verdict(Action.BLOCK_SERVICE, "403B", message, verdict.retry_after)
        return Verdict(Action.BLOCK_DEALER, "403A", message, verdict.retry_after)

    def block_action(self, reason: str, dealer_id: str | None, service: str | None, message: str | None) -> str:
        advertiser = dealer_id.split(":", 1)[1] if dealer_id else None
        if reason == "403A":
            who = f"advertiser {advertiser}" if advertiser else "this integration"
            return (f"contact Autotrader: {who} is not on the integration (no call is made for it until this "
                    f"block is resolved)")
        if reason == "403B":
            found = compile_pattern(self.lacks_product_pattern).search(message or "")
            product = found.group("product") if found and "product" in found.groupdict() else "required"
            return (f"contact Autotrader: advertiser {advertiser} lacks the {product} product needed for "
                    f"/{service} (other services continue; /{service} resumes when this block is resolved)")
        if is_request_block(reason):
            return f"fix the request's input (Autotrader said: {message}); it is not retried until resolved"
        return super().block_action(reason, dealer_id, service, message)


# ---- authentication ------------------------------------------------------------------------
_LEGACY_EXPIRES = "%a %b %d %H:%M:%S %Z %Y"  # "Wed May 18 09:35:06 UTC 2022"


def parse_expiry(body: Mapping[str, Any], received_at: datetime) -> datetime:
    """`expires_at` (ISO-8601), else legacy `expires` (ISO or the 2022 text form), else 15 min."""
    for name in ("expires_at", "expires"):
        value = body.get(name)
        if isinstance(value, str) and value.strip():
            parsed = _parse_time(value.strip())
            if parsed is not None:
                return parsed
    return received_at + TOKEN_LIFETIME


def _parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.strptime(value, _LEGACY_EXPIRES)
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


#: `/authenticate` (form body): an absolute `expires_at`/`expires`, counted from the answer; else 15 min.
GRANT = GrantSpec(VENDOR, "/authenticate", TOKEN_LIFETIME, expires_in_field=None,
                  expires_at_fields=("expires_at", "expires"), parse_time=_parse_time, service="authenticate",
                  from_answer=True)


@dataclass(frozen=True)
class AutotraderAuth(TokenAuth):
    """Key and secret exchanged at `POST /authenticate` (form body) for a 15-minute token."""

    base_url: str
    key: str
    secret: Secret

    def identity(self) -> tuple[str, ...]:
        return (self.base_url.rstrip("/"), self.key, "")

    def key_material(self) -> Secret:
        return self.secret

    def obtain(self, client: VendorClient) -> TokenGrant:
        return grant_token(client, GRANT, data={"key": self.key, "secret": self.secret.reveal()})


# ---- pages ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Page:
    number: int
    results: list[dict[str, Any]]
    total_results: int
    cf_ray: str | None = None

    @property
    def items(self) -> list[dict[str, Any]]:
        return self.results

    @property
    def total(self) -> int:
        return self.total_results


def _page(body: Any, number: int, cf_ray: str | None, path: str) -> Page:
    results, total = read_page(body, items="results", total="totalResults", what=f"page {number}", vendor=VENDOR,
                               path=path, cf_ray=cf_ray)
    return Page(number, results, total, cf_ray)


def paginate(fetch: Callable[[int], Page], page_size: int, key: Callable[[dict], Any], what: str) -> Iterator[Page]:
    """Pages from 1 until `totalResults` records are seen or a page comes back empty (`http.paging`)."""
    return paginate_pages(fetch, Paging(VENDOR, page_size, key, what))


def stock_id_of(record: Mapping[str, Any]) -> Any:
    metadata = record.get("metadata")
    return metadata.get("stockId") if isinstance(metadata, Mapping) else None


# ---- the client ----------------------------------------------------------------------------
@dataclass
class AutotraderClient(VendorAdapter):
    """Autotrader Connect calls; every one goes through `http` (shared etiquette, logged)."""

    http: VendorClient
    charge_times_enabled: bool = True
    charge_times_path: str = "/stock/{stockId}/charge-times"
    stock_page_size: int = STOCK_MAX_PAGE_SIZE
    advertiser_page_size: int = ADVERTISERS_MAX_PAGE_SIZE
    stored_sections: Sequence[str] = STORED_SECTIONS
    unused_sections: Sequence[str] = UNUSED_SECTIONS

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, engine: sa.Engine | None = None,
                      run_id: str | None = None, base_url: str | None = None, key: str | None = None,
                      secret: Secret | None = None, policy_overrides: Mapping[str, Any] | None = None,
                      max_in_flight: int = 16, **client_overrides: Any) -> AutotraderClient:
        """A client configured from the `AUTOTRADER_*` settings (overridable), by `vendors.factory`."""
        from dealer_pipeline.vendors.factory import ClientSettings, build_client

        config = ClientSettings(VENDOR, base_url, key, secret, policy=dict(policy_overrides or {}),
                                max_in_flight=max_in_flight, options=client_overrides)
        return build_client(config, engine=engine, run_id=run_id, settings=settings)

    # ---- authentication ----
    def authenticate(self) -> TokenGrant:
        """The shared token, obtained from `/authenticate` only if no fresh one is cached."""
        return self.http.current_token()

    # ---- advertisers ----
    def list_advertisers(self, page: int = 1, page_size: int | None = None) -> Page:
        size = _bounded(page_size or self.advertiser_page_size, ADVERTISERS_MAX_PAGE_SIZE, "advertiser page size")
        params = {"page": page, "pageSize": size}
        response = self.http.request("GET", "/advertisers", params=params)
        return _page(response.body, page, response.cf_ray, "/advertisers")

    def iter_advertisers(self, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        size = page_size or self.advertiser_page_size
        for page in paginate(lambda n: self.list_advertisers(n, size), size,
                             lambda r: r.get("advertiserId"), "advertisers"):
            yield from page.results

    def get_advertiser(self, advertiser_id: str) -> dict[str, Any] | None:
        """The advertiser's record if it is on our integration, else None (`?advertiserId=`)."""
        response = self.http.request("GET", "/advertisers", params={"advertiserId": advertiser_id},
                                     dealer_id=dealer_id(advertiser_id))
        page = _page(response.body, 1, response.cf_ray, "/advertisers")
        for record in page.results:
            if str(record.get("advertiserId")) == str(advertiser_id):
                return record
        return None

    # ---- stock ----
    def stock_params(self, advertiser_id: str, page: int, page_size: int) -> dict[str, Any]:
        params: dict[str, Any] = {"advertiserId": advertiser_id, "page": page, "pageSize": page_size}
        params.update({name: "true" for name in self.stored_sections})
        params.update({name: "false" for name in self.unused_sections})
        return params

    def stock_page(self, advertiser_id: str, page: int, page_size: int | None = None) -> Page:
        size = _bounded(page_size or self.stock_page_size, STOCK_MAX_PAGE_SIZE, "stock page size")
        response = self.http.request("GET", "/stock", params=self.stock_params(advertiser_id, page, size),
                                     dealer_id=dealer_id(advertiser_id))
        return _page(response.body, page, response.cf_ray, "/stock")

    def iter_stock(self, advertiser_id: str, page_size: int | None = None) -> Iterator[Page]:
        """Every page of the advertiser's stock, in order (all lifecycle states)."""
        size = page_size or self.stock_page_size
        return paginate(lambda n: self.stock_page(advertiser_id, n, size), size, stock_id_of,
                        f"stock of advertiser {advertiser_id}")

    def get_stock_features(self, stock_id: str, advertiser_id: str) -> list[dict[str, Any]] | None:
        """The taxonomy features of a stock item; None when Autotrader does not know it (404)."""
        response = self.http.request("GET", f"/stock/{quote(stock_id, safe='')}/features",
                                     params={"advertiserId": advertiser_id}, dealer_id=dealer_id(advertiser_id))
        return _list_field(response, "features", f"/stock/{stock_id}/features")

    def get_charge_times(self, stock_id: str, advertiser_id: str) -> list[dict[str, Any]] | None:
        """Charge times of a stock item ([] for non-plug-in vehicles); None when unknown (404)."""
        if not self.charge_times_enabled:
            raise RuntimeError("charge times are disabled (AUTOTRADER_CHARGE_TIMES_ENABLED=false)")
        path = self.charge_times_path.replace("{stockId}", quote(stock_id, safe=""))
        response = self.http.request("GET", path, params={"advertiserId": advertiser_id},
                                     dealer_id=dealer_id(advertiser_id))
        return _list_field(response, "chargeTimes", path)


def _list_field(response: Any, name: str, path: str) -> list[dict[str, Any]] | None:
    if response.absent:
        return None
    body = response.body
    if not isinstance(body, dict) or not isinstance(body.get(name), list):
        raise MalformedResponse(f"response has no {name} list", vendor=VENDOR, method="GET", path=path,
                                status=response.status, cf_ray=response.cf_ray)
    return body[name]


def _bounded(value: int, maximum: int, what: str) -> int:
    if not 1 <= value <= maximum:
        raise ValueError(f"{what} must be between 1 and {maximum}, got {value}")
    return value


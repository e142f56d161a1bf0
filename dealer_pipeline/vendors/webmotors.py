"""Webmotors API Marketplace: the client the pipeline uses (api/webmotors.md Part 2).

Everything vendor-specific sits here: the per-dealer password grant (Basic client
credentials, JSON body, `201`, `expires_in`), the `client_id`/`access_token` headers, what
each status means (2.7, 2.8), the 401 reported with Webmotors' three probable causes, the
`p`/`qty` paging of the stock list, the publication status report, lead detail and CRM lead
insertion. Transport etiquette (shared encrypted token, pauses, blocks, call log) is the
HTTP layer's.

Most Marketplace paths are not public, so paths, field names and limits live in a
`WebmotorsContract` that can be overridden (e.g. from Dagster resource config) once
homologation shows the real swagger, without code changes.

One client serves one dealer: the token belongs to the dealer's "Integrador de API" user and
every call is scoped to that dealer. The vendor's message text is logged and stored, never
parsed: what a status means comes from the status alone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable, Iterator, Mapping, Sequence
from urllib.parse import quote

import requests
import sqlalchemy as sa
from requests.auth import HTTPBasicAuth

from dealer_pipeline.dealers_file import DealerEntry, DealersFile, DealersFileError, load_dealers
from dealer_pipeline.http import (
    Action,
    MalformedResponse,
    TokenAuth,
    TokenGrant,
    UnexpectedStatus,
    VendorBlocked,
    VendorClient,
    VendorError,
    VendorPolicy,
    VendorResponse,
    Verdict,
    new_session,
)
from dealer_pipeline.http.grants import GrantSpec, grant_token
from dealer_pipeline.http.paging import Paging, paginate, read_page
from dealer_pipeline.http.policy import status_table
from dealer_pipeline.settings import Secret, Settings
from dealer_pipeline.vendors.base import VendorAdapter
from dealer_pipeline.vendors.contract import apply_overrides

VENDOR = "webmotors"
MAX_PAGE_SIZE = 100
DEFAULT_TOKEN_LIFETIME_SECONDS = 3600.0  # when a grant carries no usable expires_in
DEFAULT_ORIGIN = "Dealer Pipeline"       # `origem` of CRM leads: our classified's name
REPORT_STATUSES = ("Publicado", "Erro")
REJECTED = (400, 413, 422)  # our input: raised as `WebmotorsRejected`, never retried

#: Webmotors' three probable causes of a 401 (seeds/003), as an operator reads them.
UNAUTHORIZED_CAUSES = (
    ("(1) the integration token is invalid: it must be the one Cockpit generated when the dealer activated our "
     "classified in Estoque or CRM"),
    ("(2) the dealer deactivated the integration with our classified in Cockpit (Estoque > Integrações for stock, "
     "CRM > Integrações for leads)"),
    "(3) the dealer has no active Cockpit user with the \"Integrador de API\" profile (Cockpit > Conta)",
)


def unauthorized_action(dealer_id: str | None, service: str | None) -> str:
    """What a person does about a 401: the three causes, then resolve the block."""
    who = f"dealer {dealer_id}" if dealer_id else "the integration"
    held = f"no /{service} call is sent for it" if service else "no call is sent for it"
    return (f"Webmotors answered 401 for {who}; probable causes: {'; '.join(UNAUTHORIZED_CAUSES)}. Ask the dealer "
            f"to fix it in Cockpit, then resolve this block (until then {held}; if every Webmotors dealer fails "
            f"the same way, check WEBMOTORS_CLIENT_ID and WEBMOTORS_CLIENT_SECRET)")


def dealer_id(cnpj: str) -> str:
    return f"{VENDOR}:{cnpj}"


# ---- the contract, configurable ------------------------------------------------------------
@dataclass(frozen=True)
class WebmotorsContract:
    """Paths, field names and limits of api/webmotors.md Part 2 (overridable per deployment)."""

    token_path: str = "/oauth/v1/access-token"
    stock_path: str = "/site/v1/estoque"
    status_path: str = "/marketplace/v1/anuncios/{ad_id}/status"
    lead_path: str = "/lead/v1/leads/{id_lead}"
    crm_leads_path: str = "/crm/v1/leads"
    client_id_header: str = "client_id"
    token_header: str = "access_token"
    token_field: str = "access_token"
    expires_in_field: str = "expires_in"
    page_param: str = "p"
    page_size_param: str = "qty"
    max_page_size: int = MAX_PAGE_SIZE
    total_field: str = "total"
    hits_field: str = "hits"
    hit_id_field: str = "id"
    lead_type_param: str = "id_tipo_lead"
    lead_wrappers: tuple[str, ...] = ("Retorno", "data")
    report_status_field: str = "status"
    report_url_field: str = "url"
    report_message_field: str = "mensagem"
    crm_id_field: str = "id"

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, Any] | None) -> "WebmotorsContract":
        """The default contract with `overrides` applied (strings are coerced to the field's type).

        An unknown name or a bad value is a ValueError naming it, so a typo in configuration
        fails at start-up instead of silently calling the default path.
        """
        contract = apply_overrides(cls, overrides, "Webmotors",
                                   paths=("token_path", "stock_path", "status_path", "lead_path", "crm_leads_path"))
        if not 1 <= contract.max_page_size <= 10_000:
            raise ValueError(f"max_page_size must be between 1 and 10000, got {contract.max_page_size}")
        if "{ad_id}" not in contract.status_path or "{id_lead}" not in contract.lead_path:
            raise ValueError("status_path needs an {ad_id} and lead_path an {id_lead} placeholder")
        return contract


# ---- policies ------------------------------------------------------------------------------
#: 2.7/2.8: 400/413/422 are our input (never retried, surfaced with the vendor's message); 401
#: gets one new token; 403 = the API is not released for our app; 429 pauses every call to
#: Webmotors (Retry-After honoured); 500 is retried with exponential backoff.
API_STATUS_TABLE: Mapping[int, Action] = status_table(
    {400: Action.FAIL, 403: Action.BLOCK_SERVICE, 413: Action.FAIL, 422: Action.FAIL, 500: Action.RETRY})


@dataclass
class WebmotorsPolicy(VendorPolicy):
    """API calls. 400 is deliberately not the layer's per-path block: Webmotors' PUT and POST
    carry their input in the body, so a block on the path would stop every other dealer's
    reports or leads; the bad call is logged in `api_calls` and raised with the vendor's message.
    A POST creates something (a CRM lead): it is re-sent only after a 429, which Webmotors answers
    before acting, never after a timeout or a 5xx (the lead may exist). A 401 that one new token
    did not cure blocks the service for the dealer, naming Webmotors' three probable causes."""

    vendor: str = VENDOR
    base_url: str = ""
    status_table: Mapping[int, Action] = field(default_factory=lambda: dict(API_STATUS_TABLE))

    def resends(self, method: str, action: Action | None) -> bool:
        return method.upper() != "POST" or action is Action.PAUSE_VENDOR

    def refused_again(self, verdict: Verdict) -> Verdict:
        return dataclasses.replace(verdict, action=Action.BLOCK_SERVICE, reason="401")

    def error(self, exc: VendorError) -> VendorError:
        if isinstance(exc, VendorBlocked) and exc.reason == "401" and not isinstance(exc, WebmotorsUnauthorized):
            return WebmotorsUnauthorized(exc.message, block_id=exc.block_id, reason=exc.reason, action=exc.action,
                                         vendor_message=exc.vendor_message, **exc.where())
        if isinstance(exc, UnexpectedStatus) and exc.status in REJECTED:
            return WebmotorsRejected(exc.message, vendor_message=exc.vendor_message or "no message", **exc.where())
        return exc

    def block_action(self, reason: str, dealer_id: str | None, service: str | None, message: str | None) -> str:
        if reason == "403":
            return (f"Webmotors has not released the API behind /{service} for our app: open a support ticket asking "
                    f"to release it (e.g. \"API Consulta de Estoque\"), then resolve this block (it stops /{service} "
                    f"for {dealer_id or 'every dealer'}); Webmotors said: {message}")
        if reason == "401":
            return unauthorized_action(dealer_id, service)
        return super().block_action(reason, dealer_id, service, message)


#: The token call: every refusal is about one dealer's user, so it blocks that dealer (never the
#: shared token path, which every dealer uses).
TOKEN_STATUS_TABLE: Mapping[int, Action] = {
    **API_STATUS_TABLE,
    400: Action.BLOCK_DEALER,
    401: Action.BLOCK_DEALER,
    403: Action.BLOCK_DEALER,
    404: Action.FAIL,
}


@dataclass
class WebmotorsTokenPolicy(VendorPolicy):
    vendor: str = VENDOR
    base_url: str = ""
    status_table: Mapping[int, Action] = field(default_factory=lambda: dict(TOKEN_STATUS_TABLE))
    credential_source: str = "the env vars named in the dealers file (webmotors.username_env / password_env)"

    def refine(self, verdict: Verdict, status: int, body: str) -> Verdict:
        if status == 400:  # bad username or password: a credential problem, not a malformed request
            return Verdict(Action.BLOCK_DEALER, "login", verdict.message, verdict.retry_after)
        return verdict

    def block_action(self, reason: str, dealer_id: str | None, service: str | None, message: str | None) -> str:
        if reason == "401":
            return unauthorized_action(dealer_id, None)
        if reason == "login":
            return (f"Webmotors refused the username or password of {dealer_id}'s \"Integrador de API\" user: fix "
                    f"{self.credential_source}, then resolve this block; Webmotors said: {message}")
        if reason == "403":
            return (f"Webmotors refused the login of {dealer_id}'s user (inactive, or not an \"Integrador de API\" "
                    f"profile): ask the dealer to fix it in Cockpit, then resolve this block; "
                    f"Webmotors said: {message}")
        return super().block_action(reason, dealer_id, service, message)


# ---- errors --------------------------------------------------------------------------------
class WebmotorsUnauthorized(VendorBlocked):
    """A 401 that one new token did not cure (or a refused login): the three causes, and a block."""


class WebmotorsRejected(VendorError):
    """Webmotors rejected our input (400, 413 or 422): never retried; `vendor_message` says why."""

    def __init__(self, message: str, *, vendor_message: str, **kw: Any) -> None:
        super().__init__(message, vendor_message=vendor_message, **kw)


class WebmotorsNotFound(VendorError):
    """An ad or lead Webmotors does not know for this dealer (404); never retried."""


# ---- authentication ------------------------------------------------------------------------
@dataclass(frozen=True)
class WebmotorsAuth(TokenAuth):
    """A dealer user's password grant at the token path (Basic client credentials, JSON body).

    The token is per (base URL, client_id, dealer username); its cache row is encrypted with a
    key derived from the client secret. The grant goes through a short-lived client of its own
    (`WebmotorsTokenPolicy`), sharing the API client's store, call log and wait budget.
    """

    base_url: str
    client_id: str
    client_secret: Secret
    username: str
    password: Secret
    dealer_id: str
    contract: WebmotorsContract = field(default_factory=WebmotorsContract)
    credential_source: str = "the env vars named in the dealers file (webmotors.username_env / password_env)"

    def identity(self) -> tuple[str, ...]:
        return (self.base_url.rstrip("/"), self.client_id, self.username)

    def key_material(self) -> Secret:
        return self.client_secret

    def authorize(self, headers: Any, token: Secret) -> None:
        headers[self.contract.client_id_header] = self.client_id
        headers[self.contract.token_header] = token.reveal()

    def obtain(self, client: VendorClient) -> TokenGrant:
        c = self.contract
        policy = WebmotorsTokenPolicy(base_url=self.base_url, credential_source=self.credential_source,
                                      **client.policy.transport_knobs())
        grant = GrantSpec(VENDOR, c.token_path, timedelta(seconds=DEFAULT_TOKEN_LIFETIME_SECONDS), c.token_field,
                          c.expires_in_field)
        with new_session(pool_size=1) as session:
            session.auth = HTTPBasicAuth(self.client_id, self.client_secret.reveal())
            return grant_token(client.helper(policy, session=session), grant, dealer_id=self.dealer_id, json_body={
                "grant_type": "password", "username": self.username, "password": self.password.reveal()})


# ---- pages ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class StockPage:
    number: int
    size: int
    hits: list[dict[str, Any]]
    total: int

    @property
    def items(self) -> list[dict[str, Any]]:
        return self.hits


@dataclass
class StockListing:
    """Every hit of one dealer's stock list, and whether it is one consistent snapshot.

    `consistent` is False when the stock moved during the download (the total changed, an ad
    showed up on two pages, or fewer ads than the total came back): the hits are real and can
    be applied, but an ad missing from them may only have shifted between pages, so nothing
    may be marked removed on the strength of this listing.
    """

    hits: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    total: int = 0
    consistent: bool = True
    note: str | None = None


def paginate_stock(fetch: Callable[[int], StockPage], page_size: int, key: Callable[[Mapping[str, Any]], Any],
                   what: str) -> Iterator[StockPage]:
    """Pages from 1 until `total` distinct ads were seen or a page comes back empty (`http.paging`).

    Distinct ads, not hits: when the stock shifts between pages an ad can show up twice, and
    counting it twice would stop one page early; one page of slack is allowed for such a shift.
    """
    return paginate(fetch, Paging(VENDOR, page_size, key, what, may_shift=True))


def collect_listing(pages: Iterator[StockPage], key: Callable[[Mapping[str, Any]], Any]) -> StockListing:
    """Every page's hits, de-duplicated by ad id (the later copy wins), judged for consistency."""
    listing = StockListing()
    by_id: dict[Any, dict[str, Any]] = {}
    unkeyed: list[dict[str, Any]] = []
    totals: list[int] = []
    duplicates = 0
    for page in pages:
        listing.pages += 1
        totals.append(page.total)
        for hit in page.hits:
            ad = key(hit)
            if ad is None:
                unkeyed.append(hit)
            elif ad in by_id:
                duplicates += 1
                by_id[ad] = hit
            else:
                by_id[ad] = hit
    listing.hits = [*by_id.values(), *unkeyed]
    listing.total = totals[-1] if totals else 0
    problems = []
    if len(set(totals)) > 1:
        problems.append(f"total changed during the download ({totals[0]} -> {totals[-1]})")
    if duplicates:
        problems.append(f"{duplicates} ads appeared on two pages")
    if len(listing.hits) < listing.total:
        problems.append(f"{len(listing.hits)} ads listed but total says {listing.total}")
    if problems:
        listing.consistent = False
        listing.note = "; ".join(problems)
    return listing


def _stock_page(body: Any, number: int, size: int, contract: WebmotorsContract, path: str) -> StockPage:
    hits, total = read_page(body, items=contract.hits_field, total=contract.total_field, what=f"stock page {number}",
                            vendor=VENDOR, path=path)
    return StockPage(number, size, hits, total)


def unwrap_lead(body: Any, wrappers: Sequence[str] = ("Retorno", "data")) -> dict[str, Any] | None:
    """The lead detail object, bare or inside one of `wrappers`; None if neither holds an object."""
    if not isinstance(body, dict):
        return None
    for name in wrappers:
        if isinstance(body.get(name), dict):
            return body[name]
    return body or None


def digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


# ---- the client ----------------------------------------------------------------------------
@dataclass
class WebmotorsClient(VendorAdapter):
    """One dealer's Webmotors calls; every one goes through the HTTP layer (shared etiquette, logged).

    `http` sends GET and PUT (retried per 2.7); `once` sends the POSTs, which the policy re-sends
    only after a 429, never after a timeout or a 500 (the lead might exist); separate clients
    keep their statistics apart.
    """

    http: VendorClient
    once: VendorClient
    dealer_id: str
    cnpj: str
    contract: WebmotorsContract = field(default_factory=WebmotorsContract)
    stock_page_size: int = MAX_PAGE_SIZE
    origin: str = DEFAULT_ORIGIN
    session: requests.Session | None = None

    def __post_init__(self) -> None:
        self.stock_page_size = _bounded(self.stock_page_size, self.contract.max_page_size, "stock page size")

    @classmethod
    def for_dealer(cls, dealer: DealerEntry, settings: Settings | None = None, *, engine: sa.Engine | None = None,
                   run_id: str | None = None, base_url: str | None = None, client_id: str | None = None,
                   client_secret: Secret | None = None, contract: WebmotorsContract | None = None,
                   policy_overrides: Mapping[str, Any] | None = None, **client_overrides: Any) -> "WebmotorsClient":
        """A client for one dealers-file entry, configured from the `WEBMOTORS_*` settings (overridable), by
        `vendors.factory`."""
        from dealer_pipeline.vendors.factory import ClientSettings, build_client

        config = ClientSettings(VENDOR, base_url, client_id, client_secret, contract=contract,
                                policy=dict(policy_overrides or {}), options=client_overrides)
        return build_client(config, engine=engine, run_id=run_id, settings=settings, dealer=dealer)

    @classmethod
    def for_dealer_id(cls, dealer: str, dealers: DealersFile | None = None, **kwargs: Any) -> "WebmotorsClient":
        """A client for `webmotors:<CNPJ>` (or the bare CNPJ) as listed in the dealers file."""
        return cls.for_dealer(dealer_entry(dealer, dealers), **kwargs)

    def close(self) -> None:
        self.http.close()
        self.once.close()
        if self.session is not None:
            self.session.close()

    # ---- sending ----
    def _request(self, method: str, path: str, *, client: VendorClient | None = None, **kwargs: Any) -> VendorResponse:
        """One call for this dealer (the policy turns a 401 that survives one new token into a block)."""
        return (client or self.http).request(method, path, dealer_id=self.dealer_id, **kwargs)

    # ---- authentication ----
    def authenticate(self) -> TokenGrant:
        """The dealer's shared token, granted only if no fresh one is cached."""
        return self.http.current_token()

    # ---- stock ----
    def hit_id(self, hit: Mapping[str, Any]) -> Any:
        value = hit.get(self.contract.hit_id_field)
        return None if isinstance(value, bool) else value

    def stock_page(self, page: int, page_size: int | None = None) -> StockPage:
        """One page of the dealer's stock list (`p` from 1, `qty` 1..100)."""
        size = _bounded(page_size or self.stock_page_size, self.contract.max_page_size, "stock page size")
        if page < 1:
            raise ValueError(f"page must be >= 1, got {page}")
        c = self.contract
        response = self._request("GET", c.stock_path, params={c.page_param: page, c.page_size_param: size})
        if response.absent:
            raise UnexpectedStatus(f"the stock list answered 404: check WEBMOTORS_BASE_URL and the stock path "
                                   f"({c.stock_path})", vendor=VENDOR, method="GET", path=c.stock_path, status=404)
        return _stock_page(response.body, page, size, c, c.stock_path)

    def iter_stock(self, page_size: int | None = None) -> Iterator[StockPage]:
        """Every page of the dealer's stock, in order (every status)."""
        size = page_size or self.stock_page_size
        return paginate_stock(lambda n: self.stock_page(n, size), size, self.hit_id, f"stock of {self.dealer_id}")

    def list_stock(self, page_size: int | None = None) -> StockListing:
        """The whole stock list, downloaded before anything is returned (raises on any failure)."""
        return collect_listing(self.iter_stock(page_size), self.hit_id)

    # ---- publication status ----
    def report_status(self, ad_id: int | str, status: str, url: str | None = None, message: str | None = None) -> None:
        """Report our publication of an ad: `Publicado` with its URL, or `Erro` with the reason (204)."""
        if status not in REPORT_STATUSES:
            raise ValueError(f"status must be one of {REPORT_STATUSES}, got {status!r}")
        if status == "Publicado" and not url:
            raise ValueError("a Publicado report needs the ad's url")
        if status == "Erro" and not (message or "").strip():
            raise ValueError("an Erro report needs a non-empty message")
        c = self.contract
        path = c.status_path.replace("{ad_id}", quote(str(ad_id), safe=""))
        body = {c.report_status_field: status, c.report_url_field: url, c.report_message_field: message}
        response = self._request("PUT", path, json_body=body, expect_json=False)
        if response.absent:
            raise WebmotorsNotFound(f"ad {ad_id} is unknown or not {self.dealer_id}'s", vendor=VENDOR, method="PUT",
                                    path=path, status=404, cf_ray=response.cf_ray)

    # ---- leads ----
    def get_lead(self, id_lead: int | str, id_tipo_lead: int | str) -> dict[str, Any] | None:
        """A lead's detail (bare or wrapped in `Retorno`/`data`); None when Webmotors does not know it."""
        c = self.contract
        path = c.lead_path.replace("{id_lead}", quote(str(id_lead).strip(), safe=""))
        response = self._request("GET", path, params={c.lead_type_param: str(id_tipo_lead).strip()})
        if response.absent:
            return None
        lead = unwrap_lead(response.body, c.lead_wrappers)
        if lead is None:
            raise MalformedResponse("lead detail is not an object (bare or in Retorno/data)", vendor=VENDOR,
                                    method="GET", path=path, status=response.status, cf_ray=response.cf_ray)
        return lead

    def insert_crm_lead(
        self,
        *,
        nome: str,
        email: str | None = None,
        telefone: str | None = None,
        mensagem: str | None = None,
        anuncio_id: int | None = None,
        origem: str | None = None,
        cnpj: str | None = None,
    ) -> int:
        """Insert a lead raised on our channels into the dealer's Cockpit CRM; returns its CRM id.

        Sent once; re-sent only after a 429 (Webmotors did not act on it), never after a timeout
        or a 5xx, where the lead may already exist.
        """
        if not (nome or "").strip():
            raise ValueError("a CRM lead needs nome")
        if not (email or telefone):
            raise ValueError("a CRM lead needs an email or a telefone")
        if anuncio_id is not None and (not isinstance(anuncio_id, int) or isinstance(anuncio_id, bool)):
            raise ValueError(f"anuncio_id must be an integer ad id, got {anuncio_id!r}")
        body = {"cnpj": digits(cnpj) if cnpj else self.cnpj, "anuncio_id": anuncio_id, "nome": nome.strip(),
                "email": email, "telefone": telefone, "mensagem": mensagem, "origem": origem or self.origin}
        body = {k: v for k, v in body.items() if v is not None}
        response = self._request("POST", self.contract.crm_leads_path, client=self.once, json_body=body)
        lead_id = response.body.get(self.contract.crm_id_field) if isinstance(response.body, dict) else None
        if isinstance(lead_id, bool) or not isinstance(lead_id, (int, str)) or not str(lead_id).strip():
            raise MalformedResponse("CRM lead response has no id", vendor=VENDOR, method="POST",
                                    path=self.contract.crm_leads_path, status=response.status, cf_ray=response.cf_ray)
        return int(lead_id) if str(lead_id).isdigit() else lead_id  # type: ignore[return-value]


def dealer_entry(dealer: str, dealers: DealersFile | None = None) -> DealerEntry:
    """The dealers-file entry of `webmotors:<CNPJ>` (or the bare CNPJ); DealersFileError if absent."""
    wanted = dealer if dealer.startswith(f"{VENDOR}:") else dealer_id(digits(dealer))
    dealers = dealers or load_dealers()
    entry = dealers.by_id().get(wanted)
    if entry is None or entry.source != VENDOR:
        raise DealersFileError(f"dealer {wanted!r} is not a Webmotors dealer in {dealers.path}")
    return entry


def _bounded(value: int, maximum: int, what: str) -> int:
    if not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValueError(f"{what} must be between 1 and {maximum}, got {value!r}")
    return value


__all__ = [
    "DEFAULT_ORIGIN", "MAX_PAGE_SIZE", "StockListing", "StockPage", "UNAUTHORIZED_CAUSES", "VENDOR",
    "WebmotorsAuth", "WebmotorsClient", "WebmotorsContract", "WebmotorsNotFound", "WebmotorsPolicy",
    "WebmotorsRejected", "WebmotorsTokenPolicy", "WebmotorsUnauthorized", "collect_listing", "dealer_entry",
    "dealer_id", "paginate_stock", "unauthorized_action", "unwrap_lead",
]

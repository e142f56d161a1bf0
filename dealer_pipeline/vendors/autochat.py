"""Autochat stock API: the client the pipeline uses (api/autochat.md Part 2).

Everything vendor-specific sits here: the client-credentials token (JSON body with
`audience`, `expires_in` or 24 h), the car create / replace / delete dance (409 on create
switches to replace, 404 on replace falls back to create, 404 on delete is done), the
option list, and what each status means. Transport etiquette (one token per client_id in
the store for every process, pauses, blocks, call log) is the HTTP layer's.

Only `POST /api/cars`, `GET /api/options` and the token call are public, so paths, the
update and delete verbs, the token URL and audience, and the statuses that mean
"already exists" / "integration off" live in an `AutochatContract` that deployment config
can override once Autochat's swagger is seen, without code changes.

A 403 (the dealership's stock integration is off) becomes an `api_blocks` row for that
dealer only, so its later calls are not sent while every other dealership continues. A 400
is our input: never retried, and not the layer's per-path block either, because
`POST /api/cars` is shared by every car of every dealer; the field errors are raised in
`AutochatRejected` for the caller to record on the publication.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import sqlalchemy as sa

from dealer_pipeline.http import (
    Action,
    MalformedResponse,
    TokenAuth,
    TokenGrant,
    UnexpectedStatus,
    VendorClient,
    VendorError,
    VendorPolicy,
    VendorResponse,
    Verdict,
)
from dealer_pipeline.http.grants import GrantSpec, grant_token
from dealer_pipeline.http.policy import status_table
from dealer_pipeline.settings import Secret, Settings
from dealer_pipeline.vendors.base import VendorAdapter
from dealer_pipeline.vendors.contract import apply_overrides

log = logging.getLogger(__name__)

VENDOR = "autochat"
DEFAULT_AUDIENCE = "http://api.autochat.com/"
DEFAULT_TOKEN_LIFETIME_SECONDS = 86400.0  # "valid for 24 hours" when the grant has no expires_in


# ---- the contract, configurable ------------------------------------------------------------
@dataclass(frozen=True)
class AutochatContract:
    """Paths, verbs, audience and meaningful statuses of api/autochat.md Part 2 (overridable)."""

    audience: str = DEFAULT_AUDIENCE
    options_path: str = "/api/options"
    cars_path: str = "/api/cars"
    car_path: str = "/api/cars/{internal_id}"
    replace_method: str = "PUT"
    delete_method: str = "DELETE"
    duplicate_status: int = 409
    integration_off_status: int = 403

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, Any] | None) -> AutochatContract:
        """The default contract with `overrides` applied; an unknown name or bad value is a ValueError."""
        contract = apply_overrides(cls, overrides, "Autochat",
                                   normalize=lambda name, value: value.upper() if name.endswith("_method") else value,
                                   paths=("options_path", "cars_path", "car_path"))
        if "{internal_id}" not in contract.car_path:
            raise ValueError("car_path needs an {internal_id} placeholder")
        return contract

    def status_table(self) -> dict[int, Action]:
        return status_table({400: Action.FAIL, 422: Action.FAIL, 500: Action.RETRY, self.duplicate_status: Action.FAIL,
                             self.integration_off_status: Action.BLOCK_DEALER}, without=(403, 409))


# ---- policies ------------------------------------------------------------------------------
def field_errors(body: str) -> dict[str, list[str]]:
    """`{"errors": {"<field>": ["…"]}}` as a dict (empty when the body has no such map)."""
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        return {}
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, dict):
        return {}
    out: dict[str, list[str]] = {}
    for name, messages in errors.items():
        items = messages if isinstance(messages, list) else [messages]
        out[str(name)] = [str(m) for m in items]
    return out


def render_field_errors(errors: Mapping[str, list[str]]) -> str:
    return "; ".join(f"{name}: {', '.join(messages)}" for name, messages in errors.items())


@dataclass
class AutochatPolicy(VendorPolicy):
    """API calls. A 400's field map travels with the error (`details`, then `AutochatRejected`) for
    the caller to record."""

    vendor: str = VENDOR
    base_url: str = ""
    status_table: Mapping[int, Action] = field(default_factory=lambda: AutochatContract().status_table())

    def vendor_message(self, body: str) -> str | None:
        errors = field_errors(body)
        if errors:
            return render_field_errors(errors)[:1000]
        return super().vendor_message(body)

    def refine(self, verdict: Verdict, status: int, body: str) -> Verdict:
        if status in (400, 422):
            return dataclasses.replace(verdict, details=field_errors(body))
        return verdict

    def error(self, exc: VendorError) -> VendorError:
        if isinstance(exc, UnexpectedStatus) and exc.status in (400, 422):
            return AutochatRejected(exc.vendor_message or "no message", field_errors=exc.details or {},
                                    **exc.where())
        return exc

    def block_action(self, reason: str, dealer_id: str | None, service: str | None, message: str | None) -> str:
        if dealer_id:
            return (f"Autochat refused cars of dealer {dealer_id}: its stock integration is not enabled in the "
                    f"Autochat dashboard (Autochat said: {message}). Ask Autochat to enable it for the dealer's "
                    f"dealershipId, then resolve this block; no Autochat call is made for this dealer until then, "
                    f"other dealers continue")
        return super().block_action(reason, dealer_id, service, message)


@dataclass
class AutochatTokenPolicy(VendorPolicy):
    """The token endpoint: 400 is our configuration (audience, grant type), 401 our credentials."""

    vendor: str = VENDOR
    base_url: str = ""
    status_table: Mapping[int, Action] = field(default_factory=lambda: status_table(
        {400: Action.FAIL, 403: Action.FAIL, 404: Action.FAIL, 500: Action.RETRY, 503: Action.RETRY,
         504: Action.RETRY}, without=(409, 422)))


# ---- errors --------------------------------------------------------------------------------
class AutochatRejected(VendorError):
    """A 400: Autochat refused the car; `field_errors` maps each field to its messages. Never retried."""

    def __init__(self, message: str, *, field_errors: Mapping[str, list[str]], **kw: Any) -> None:
        self.field_errors = dict(field_errors)
        super().__init__(message, **kw)


# ---- authentication ------------------------------------------------------------------------
@dataclass(frozen=True)
class AutochatAuth(TokenAuth):
    """Client credentials exchanged at the token URL (JSON body) for a 24-hour bearer token.

    One token per (token URL, client_id, audience): every dealer, run and process shares it
    through the store's token cache, encrypted under a key derived from the client secret.
    """

    token_url: str
    client_id: str
    client_secret: Secret
    audience: str = DEFAULT_AUDIENCE

    def identity(self) -> tuple[str, ...]:
        return (self.token_url.rstrip("/"), self.client_id, self.audience)

    def key_material(self) -> Secret:
        return self.client_secret

    def obtain(self, client: VendorClient) -> TokenGrant:
        parts = urlsplit(self.token_url)
        policy = AutochatTokenPolicy(base_url=f"{parts.scheme}://{parts.netloc}", **client.policy.transport_knobs())
        grant = GrantSpec(VENDOR, parts.path or "/", timedelta(seconds=DEFAULT_TOKEN_LIFETIME_SECONDS))
        return grant_token(client.helper(policy), grant, json_body={
            "client_id": self.client_id, "client_secret": self.client_secret.reveal(), "audience": self.audience,
            "grant_type": "client_credentials"})


# ---- results -------------------------------------------------------------------------------
@dataclass(frozen=True)
class CarResult:
    """What one logical publish did: the final operation and every request it took."""

    op: str                       # create, replace, delete
    status: int                   # the final request's status
    requests: tuple[str, ...]     # e.g. ("POST 409", "PUT 200")
    body: Any = None
    absent: bool = False          # delete: the car was already gone


# ---- the client ----------------------------------------------------------------------------
@dataclass
class AutochatClient(VendorAdapter):
    """Autochat calls for every dealership of one API client; each goes through `http`."""

    http: VendorClient
    contract: AutochatContract = field(default_factory=AutochatContract)
    _options: list[dict[str, Any]] | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, engine: sa.Engine | None = None,
                      run_id: str | None = None, base_url: str | None = None, token_url: str | None = None,
                      client_id: str | None = None, client_secret: Secret | None = None,
                      contract: AutochatContract | None = None,
                      policy_overrides: Mapping[str, Any] | None = None) -> AutochatClient:
        """A client configured from the `AUTOCHAT_*` settings (each overridable), by `vendors.factory`."""
        from dealer_pipeline.vendors.factory import ClientSettings, build_client

        config = ClientSettings(VENDOR, base_url, client_id, client_secret, token_url, contract,
                                dict(policy_overrides or {}))
        return build_client(config, engine=engine, run_id=run_id, settings=settings)

    # ---- authentication ----
    def authenticate(self) -> TokenGrant:
        """The shared token, obtained only if no fresh one is cached in the store."""
        return self.http.current_token()

    # ---- options ----
    def options(self) -> list[dict[str, Any]]:
        """`GET /api/options`, fetched once per client (one client per run)."""
        if self._options is None:
            path = self.contract.options_path
            response = self.http.request("GET", path)
            body = response.body
            if response.absent or not isinstance(body, list) or not all(isinstance(o, dict) for o in body):
                raise MalformedResponse("the option list is not an array of objects", vendor=VENDOR, method="GET",
                                        path=path, status=response.status, cf_ray=response.cf_ray)
            self._options = [o for o in body if isinstance(o.get("name"), str) and o["name"]]
        return list(self._options)

    # ---- cars ----
    def car_path(self, internal_id: str) -> str:
        return self.contract.car_path.replace("{internal_id}", quote(internal_id, safe=""))

    def create(self, car: Mapping[str, Any], *, dealer_id: str) -> CarResult:
        """POST a new car; a 409 (its internalId exists, e.g. a retried POST that did land) switches to PUT."""
        try:
            response = self._send("POST", self.contract.cars_path, car, dealer_id)
        except UnexpectedStatus as exc:
            if exc.status != self.contract.duplicate_status:
                raise
            replaced = self._replace_existing(car, dealer_id)
            return dataclasses.replace(replaced, requests=(f"POST {exc.status}", *replaced.requests))
        return CarResult("create", response.status, (f"POST {response.status}",), response.body)

    def replace(self, car: Mapping[str, Any], *, dealer_id: str) -> CarResult:
        """PUT the whole car; a 404 (Autochat does not have it) falls back to POST."""
        method = self.contract.replace_method
        response = self._send(method, self.car_path(str(car["internalId"])), car, dealer_id)
        if not response.absent:
            return CarResult("replace", response.status, (f"{method} {response.status}",), response.body)
        try:
            created = self._send("POST", self.contract.cars_path, car, dealer_id)
        except UnexpectedStatus as exc:
            if exc.status == self.contract.duplicate_status:
                raise UnexpectedStatus(f"car {car['internalId']} is unknown to {method} but exists for POST",
                                       vendor=VENDOR, method="POST", path=self.contract.cars_path,
                                       status=exc.status, cf_ray=exc.cf_ray) from None
            raise
        return CarResult("create", created.status, (f"{method} 404", f"POST {created.status}"), created.body)

    def delete(self, internal_id: str, *, dealer_id: str) -> CarResult:
        """DELETE a sold or removed car; a 404 means it is already gone (done)."""
        method = self.contract.delete_method
        response = self._request(method, self.car_path(internal_id), dealer_id=dealer_id, expect_json=False)
        return CarResult("delete", response.status, (f"{method} {response.status}",), absent=response.absent)

    # ---- sending ----
    def _replace_existing(self, car: Mapping[str, Any], dealer_id: str) -> CarResult:
        method = self.contract.replace_method
        response = self._send(method, self.car_path(str(car["internalId"])), car, dealer_id)
        if response.absent:
            raise UnexpectedStatus(f"car {car['internalId']} exists for POST but is unknown to {method}",
                                   vendor=VENDOR, method=method, path=self.contract.car_path, status=404,
                                   cf_ray=response.cf_ray)
        return CarResult("replace", response.status, (f"{method} {response.status}",), response.body)

    def _send(self, method: str, path: str, car: Mapping[str, Any], dealer_id: str) -> VendorResponse:
        return self._request(method, path, dealer_id=dealer_id, json_body=dict(car))

    def _request(self, method: str, path: str, *, dealer_id: str, **kwargs: Any) -> VendorResponse:
        """One call for a dealer; a 400/422 leaves as `AutochatRejected` (the policy's `error` hook)."""
        return self.http.request(method, path, dealer_id=dealer_id, **kwargs)


__all__ = [
    "DEFAULT_AUDIENCE",
    "VENDOR",
    "AutochatAuth",
    "AutochatClient",
    "AutochatContract",
    "AutochatPolicy",
    "AutochatRejected",
    "AutochatTokenPolicy",
    "CarResult",
    "field_errors",
    "render_field_errors",
]

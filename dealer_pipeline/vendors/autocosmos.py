"""Autocosmos v3: the client the pipeline uses (api/autocosmos.md Part 2).

Everything vendor-specific sits here: ACS-HMAC signing of every request (2.1), what each
status means (2.7), the catalogue best match (2.2), publications (2.3) and enquiries (2.6).
Items the public material leaves unconfirmed (scheme and header names, the PATCH media type,
the `Monto`/`Fotos` field names, paths) live in `AutocosmosContract`, so homologation can
correct them by configuration. Transport etiquette (pauses, blocks, call log) is the HTTP
layer's.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests
import sqlalchemy as sa

from dealer_pipeline.http import (
    Action,
    MalformedResponse,
    RequestSigner,
    UnexpectedStatus,
    VendorClient,
    VendorError,
    VendorPolicy,
    VendorResponse,
)
from dealer_pipeline.http.paging import Links, follow_links
from dealer_pipeline.settings import Secret, Settings
from dealer_pipeline.vendors.base import VendorAdapter
from dealer_pipeline.vendors.contract import apply_overrides

VENDOR = "autocosmos"


# ---- the configurable contract ---------------------------------------------------------------------
@dataclass(frozen=True)
class AutocosmosContract:
    """Names Part 1 marks one-source or unconfirmed; override any with `with_overrides`."""

    scheme: str = "ACS-HMAC"
    date_header: str = "Date"
    digest_header: str = "Digest"
    digest_algorithm: str = "sha-256"
    acs_header_prefix: str = "x-acs-"
    patch_media_type: str = "application/merge-patch+json"
    amount_field: str = "Monto"
    photos_field: str = "Fotos"
    bestmatch_path: str = "/v3/versiones/bestmatch"
    publications_path: str = "/v3/publicaciones"
    enquiries_path: str = "/v3/consultas"
    #: Seconds to wait before repeating a signed POST/PATCH: the `Date` has one-second precision.
    replay_spacing_seconds: float = 1.0

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, Any] | None) -> AutocosmosContract:
        """The default contract with `overrides` coerced to each field's type; a bad one is a ValueError."""
        return apply_overrides(cls, overrides, "Autocosmos", paths=("bestmatch_path", "publications_path",
                                                                    "enquiries_path"))


# ---- signing (2.1) ---------------------------------------------------------------------------------
def body_digest(body: bytes, algorithm: str = "sha-256") -> str:
    """The `Digest` header value: `sha-256=<base64(SHA-256(body))>`."""
    return f"{algorithm}=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def canonical_string(method: str, digest: str | None, date: str, acs_headers: Iterable[tuple[str, str]],
                     path_and_query: str) -> str:
    """Method, Digest (or empty), Date, sorted `x-acs-*` lines, path and query; joined by LF."""
    lines = [method.upper(), digest or "", date]
    lines += [f"{name}:{value}" for name, value in sorted((n.lower(), v.strip()) for n, v in acs_headers)]
    lines.append(path_and_query)
    return "\n".join(lines)


def signature(secret: Secret, canonical: str) -> str:
    mac = hmac.new(secret.reveal().encode("utf-8"), canonical.encode("utf-8"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


class AutocosmosSigner(RequestSigner):
    """Signs each prepared request fresh; never lets an identical POST/PATCH go out twice in one second.

    The vendor treats a POST/PATCH with the same method, path, `Date` and `Digest` as a replay
    (401). Before signing one, the signer checks when it last signed the same method, path and
    body in this process and, if that was less than `replay_spacing_seconds` ago, waits: a retry
    after a 5xx, a timeout or a 401 therefore always carries a new `Date`.
    """

    def __init__(self, app_key: str, app_secret: Secret, contract: AutocosmosContract | None = None, *,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self.app_key = app_key
        self._secret = app_secret
        self.contract = contract or AutocosmosContract()
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._last_signed: dict[tuple[str, str, str], float] = {}
        self.waits = 0

    def __repr__(self) -> str:
        return f"AutocosmosSigner(app_key={self.app_key!r})"

    def sign(self, request: requests.PreparedRequest) -> None:
        contract = self.contract
        method = (request.method or "GET").upper()
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        if method == "PATCH" and body:
            request.headers["Content-Type"] = contract.patch_media_type
        digest = body_digest(body, contract.digest_algorithm) if body else None
        path = request.path_url
        now = self._space_out(method, path, digest or "")
        date = email.utils.formatdate(now, usegmt=True)
        request.headers[contract.date_header] = date
        if digest:
            request.headers[contract.digest_header] = digest
        acs = [(name, value) for name, value in request.headers.items()
               if name.lower().startswith(contract.acs_header_prefix)]
        canonical = canonical_string(method, digest, date, acs, path)
        request.headers["Authorization"] = f"{contract.scheme} {self.app_key}:{signature(self._secret, canonical)}"

    def _space_out(self, method: str, path: str, digest: str) -> float:
        """The signing time; waits first if the same non-idempotent request was signed < spacing ago."""
        if method not in ("POST", "PATCH"):
            return self._clock()
        key = (method, path, digest)
        with self._lock:
            now = self._clock()
            last = self._last_signed.get(key)
            spacing = self.contract.replay_spacing_seconds
            if last is not None and now - last < spacing:
                self.waits += 1
                self._sleep(spacing - (now - last) + 0.01)
                now = self._clock()
            self._last_signed[key] = now
            if len(self._last_signed) > 10_000:
                cutoff = now - spacing
                self._last_signed = {k: t for k, t in self._last_signed.items() if t >= cutoff}
            return now


# ---- policy (2.7) ----------------------------------------------------------------------------------
@dataclass
class AutocosmosPolicy(VendorPolicy):
    """Statuses: 400/409/415 are answers the publisher handles (never retried here); 401 is sent once
    more, re-signed, then fails clearly (no token to refresh); 403 blocks the dealer (agency not linked to our app); 404 is absent;
    429 pauses every Autocosmos call; 5xx pause the service. Retries wait at least 1 s (new `Date`)."""

    vendor: str = VENDOR
    base_url: str = ""
    backoff_base_seconds: float = 2.0
    max_attempts: int = 4

    def __post_init__(self) -> None:
        table = dict(self.status_table)
        table.update({400: Action.FAIL, 401: Action.REAUTH_ONCE, 403: Action.BLOCK_DEALER, 404: Action.ABSENT,
                      409: Action.FAIL, 415: Action.FAIL, 422: Action.FAIL})
        self.status_table = table

    def service_of(self, path: str) -> str:
        """`/v3/publicaciones/...` -> `publicaciones` (the version prefix is not a service)."""
        segments = [s for s in path.split("?", 1)[0].split("/") if s]
        if segments and segments[0].lower().startswith("v") and segments[0][1:].isdigit():
            segments = segments[1:]
        return segments[0] if segments else ""

    def vendor_message(self, body: str) -> str | None:
        """ProblemDetails as one line: `Title: Detail; Field: message, ...` (Errors keyed by field path)."""
        try:
            doc = json.loads(body) if body else None
        except ValueError:
            return body.strip()[:500] or None
        if not isinstance(doc, dict):
            return None
        head = ": ".join(str(doc[k]) for k in ("Title", "Detail") if doc.get(k))
        errors = doc.get("Errors")
        parts = []
        if isinstance(errors, dict):
            for name, messages in errors.items():
                text = "; ".join(map(str, messages)) if isinstance(messages, list) else str(messages)
                parts.append(f"{name}: {text}")
        message = head + (" | " if head and parts else "") + " | ".join(parts)
        return message[:1000] or super().vendor_message(body)

    def error(self, exc: VendorError) -> VendorError:
        """400, 409 and 415 as the errors the publisher branches on."""
        if not isinstance(exc, UnexpectedStatus):
            return exc
        message = exc.vendor_message or "no message"
        if exc.status == 400:
            return PublicationRefused(f"refused: {message}", errors=message, **exc.where())
        kind = _TRANSLATED.get(exc.status or 0)
        return kind(message, **exc.where()) if kind is not None else exc

    def block_action(self, reason: str, dealer_id: str | None, service: str | None, message: str | None) -> str:
        if reason == "403":
            who = f"dealer {dealer_id}" if dealer_id else "this app"
            return (f"Autocosmos refuses access to the agency of {who} (not linked to our app): have the agency "
                    f"accept our invitation (its webhook invitacionagencia_aceptada lifts this block by itself and "
                    f"republishes the dealer), or contact Autocosmos and resolve this block; nothing is sent for "
                    f"that agency until then")
        return super().block_action(reason, dealer_id, service, message)


# ---- errors the publisher branches on --------------------------------------------------------------
class PublicationRefused(VendorError):
    """400: the vendor refused the input; `errors` is its ProblemDetails (title, detail, Errors map)."""

    def __init__(self, message: str, *, errors: str, **kw: Any) -> None:
        self.errors = errors
        super().__init__(message, **kw)


class PublicationConflict(VendorError):
    """409: the ExternalId exists in the agency (create) or the publication is archived (change)."""


class UnsupportedMediaType(VendorError):
    """415: the request's Content-Type is not what the vendor expects (a contract setting is wrong)."""


_TRANSLATED: Mapping[int, type[VendorError]] = {409: PublicationConflict, 415: UnsupportedMediaType}


# ---- the client -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _PublicationPage:
    """One page of the publication list: its entries, its `_links.next.href` (None on the last) and CF-RAY."""

    items: list[dict[str, Any]]
    next: str | None
    cf_ray: str | None


@dataclass
class AutocosmosClient(VendorAdapter):
    """Autocosmos v3 calls; every one goes through `http` (signed, logged, shared etiquette)."""

    http: VendorClient
    contract: AutocosmosContract = field(default_factory=AutocosmosContract)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, engine: sa.Engine | None = None,
                      run_id: str | None = None, base_url: str | None = None, app_key: str | None = None,
                      app_secret: Secret | None = None, contract: AutocosmosContract | None = None,
                      policy_overrides: Mapping[str, Any] | None = None) -> AutocosmosClient:
        """A client configured from the `AUTOCOSMOS_*` settings (overridable), by `vendors.factory`."""
        from dealer_pipeline.vendors.factory import ClientSettings, build_client

        config = ClientSettings(VENDOR, base_url, app_key, app_secret, contract=contract,
                                policy=dict(policy_overrides or {}))
        return build_client(config, engine=engine, run_id=run_id, settings=settings)

    # ---- transport ----
    def _call(self, method: str, path: str, *, dealer_id: str | None, params: Mapping[str, Any] | None = None,
              json_body: Any = None) -> VendorResponse:
        """One logical call: a 401 is sent once more, re-signed (the signer spaces a POST/PATCH by >= 1 s);
        400, 409 and 415 leave as `PublicationRefused`, `PublicationConflict`, `UnsupportedMediaType`."""
        return self.http.request(method, path, params=params, json_body=json_body, dealer_id=dealer_id)

    def _publications(self, adminmail: str, external_id: str | None = None) -> str:
        path = f"{self.contract.publications_path}/{quote(adminmail, safe='@+')}"
        return path if external_id is None else f"{path}/{quote(external_id, safe='')}"

    @staticmethod
    def _object(response: VendorResponse, what: str, method: str, path: str) -> dict[str, Any]:
        if not isinstance(response.body, dict):
            raise MalformedResponse(f"{what} is not a JSON object", vendor=VENDOR, method=method, path=path,
                                    status=response.status, cf_ray=response.cf_ray)
        return response.body

    # ---- catalogue (2.2) ----
    def bestmatch(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """`GET /v3/versiones/bestmatch` with the given parameters (make and model required)."""
        path = self.contract.bestmatch_path
        response = self._call("GET", path, params=params, dealer_id=None)
        if response.absent:
            raise MalformedResponse("best match answered 404", vendor=VENDOR, method="GET", path=path,
                                    status=response.status, cf_ray=response.cf_ray)
        return self._object(response, "best match", "GET", path)

    # ---- publications (2.3) ----
    def list_publications(self, adminmail: str, *, dealer_id: str | None) -> list[dict[str, Any]]:
        """Every publication of the agency (archived included); follows `_links.next.href` if present."""
        links = Links(VENDOR, self.http.policy.base_url, "publication list")
        pages = follow_links(lambda path: self._publication_page(path, dealer_id), self._publications(adminmail), links)
        return [entry for page in pages for entry in page.items]

    def _publication_page(self, path: str, dealer_id: str | None) -> _PublicationPage:
        response = self._call("GET", path, dealer_id=dealer_id)
        body = self._object(response, "publication list", "GET", path)
        entries = body.get("_entries")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise MalformedResponse("publication list has no _entries list", vendor=VENDOR, method="GET",
                                    path=path, status=response.status, cf_ray=response.cf_ray)
        link = body.get("_links")
        nxt = link.get("next") if isinstance(link, dict) else None
        return _PublicationPage(entries, nxt.get("href") if isinstance(nxt, dict) else None, response.cf_ray)

    def get_publication(self, adminmail: str, external_id: str, *, dealer_id: str | None) -> dict[str, Any] | None:
        path = self._publications(adminmail, external_id)
        response = self._call("GET", path, dealer_id=dealer_id)
        if response.absent:
            return None
        return self._object(response, "publication", "GET", path)

    def create(self, adminmail: str, body: Mapping[str, Any], *, dealer_id: str | None) -> VendorResponse:
        """`POST`: 201 + the publication; `PublicationConflict` when the ExternalId exists (any state)."""
        return self._call("POST", self._publications(adminmail), json_body=dict(body), dealer_id=dealer_id)

    def replace(self, adminmail: str, external_id: str, body: Mapping[str, Any], *,
                dealer_id: str | None) -> VendorResponse | None:
        """`PUT` the full body; None when the publication is unknown (404)."""
        response = self._call("PUT", self._publications(adminmail, external_id), json_body=dict(body),
                              dealer_id=dealer_id)
        return None if response.absent else response

    def patch(self, adminmail: str, external_id: str, patch: Mapping[str, Any], *,
              dealer_id: str | None) -> VendorResponse | None:
        """`PATCH` (merge-patch, set by the signer) for partial changes; None when unknown (404)."""
        response = self._call("PATCH", self._publications(adminmail, external_id), json_body=dict(patch),
                              dealer_id=dealer_id)
        return None if response.absent else response

    def archive(self, adminmail: str, external_id: str, *, dealer_id: str | None) -> str:
        """`DELETE`: `archived` (204), `already_archived` (409) or `unknown` (404)."""
        try:
            response = self._call("DELETE", self._publications(adminmail, external_id), dealer_id=dealer_id)
        except PublicationConflict:
            return "already_archived"
        return "unknown" if response.absent else "archived"

    # ---- enquiries (2.6) ----
    def enquiries(self, adminmail: str, *, since: datetime | None = None,
                  dealer_id: str | None = None) -> list[dict[str, Any]]:
        """Enquiries of the agency with `Fecha` >= `since` (all when None), oldest first."""
        path = f"{self.contract.enquiries_path}/{quote(adminmail, safe='@+')}"
        params = None
        if since is not None:
            params = {"desde": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        response = self._call("GET", path, params=params, dealer_id=dealer_id)
        body = self._object(response, "enquiry list", "GET", path)
        entries = body.get("_entries")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise MalformedResponse("enquiry list has no _entries list", vendor=VENDOR, method="GET", path=path,
                                    status=response.status, cf_ray=response.cf_ray)
        return entries

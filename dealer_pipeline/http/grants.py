"""One token grant: POST the credentials, read the token and its lifetime from the answer.

Autotrader (`/authenticate`, a form body, absolute `expires_at` or legacy `expires`), Webmotors
(a password grant) and Autochat (client credentials, both JSON with `expires_in`) differ only in
data, a `GrantSpec`. A lifetime the answer does not give, or gives unusably (text, zero,
negative, an expiry already past), is the vendor's documented default; one beyond
`MAX_LIFETIME` is capped (a refused token is re-granted on its first 401 anyway).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dealer_pipeline.http.auth import TokenGrant
from dealer_pipeline.http.errors import MalformedResponse
from dealer_pipeline.settings import Secret
from dealer_pipeline.store.types import utcnow

if TYPE_CHECKING:
    from dealer_pipeline.http.client import VendorClient

log = logging.getLogger(__name__)

MAX_LIFETIME = timedelta(days=30)


@dataclass(frozen=True)
class GrantSpec:
    """Where one vendor grants tokens and how its answer names them."""

    vendor: str
    path: str
    default_lifetime: timedelta
    token_field: str = "access_token"
    expires_in_field: str | None = "expires_in"  # seconds, counted from before the request
    #: Absolute expiry fields tried first, with their parser (Autotrader's `expires_at`, `expires`).
    expires_at_fields: tuple[str, ...] = ()
    parse_time: Callable[[str], datetime | None] | None = None
    service: str = "oauth"
    from_answer: bool = False  # the lifetime starts when the answer arrives, not before the request


def grant_token(client: VendorClient, spec: GrantSpec, **request: Any) -> TokenGrant:
    """POST the grant through `client` (unauthenticated, logged, the vendor's policy) and read it."""
    requested_at = utcnow()
    response = client.request("POST", spec.path, authenticated=False, service=spec.service, **request)
    since = utcnow() if spec.from_answer else requested_at
    return read_grant(response.body, spec, since, status=response.status, cf_ray=response.cf_ray)


def read_grant(body: Any, spec: GrantSpec, since: datetime, *, status: int | None = None,
               cf_ray: str | None = None) -> TokenGrant:
    """The token and its expiry from a grant's body; `MalformedResponse` when it carries no token."""
    doc: Mapping[str, Any] = body if isinstance(body, dict) else {}
    token = doc.get(spec.token_field)
    if not isinstance(token, str) or not token.strip():
        raise MalformedResponse(f"token response has no {spec.token_field}", vendor=spec.vendor, method="POST",
                                path=spec.path, status=status, cf_ray=cf_ray)
    return TokenGrant(Secret(token), since + lifetime(doc, spec, since), since)


def lifetime(doc: Mapping[str, Any], spec: GrantSpec, since: datetime) -> timedelta:
    """How long the granted token lives: an absolute expiry, else `expires_in`, else the default."""
    for name in spec.expires_at_fields:
        value = doc.get(name)
        when = spec.parse_time(value.strip()) if spec.parse_time and isinstance(value, str) and value.strip() else None
        if when is not None and when > since:
            return min(when - since, MAX_LIFETIME)
    seconds = positive_seconds(doc.get(spec.expires_in_field)) if spec.expires_in_field else None
    if seconds is not None:
        return min(timedelta(seconds=seconds), MAX_LIFETIME)
    named = [n for n in (*spec.expires_at_fields, spec.expires_in_field) if n and n in doc]
    if named:
        log.warning("%s token grant with an unusable %s; assuming %d s", spec.vendor, "/".join(named),
                    spec.default_lifetime.total_seconds())
    return spec.default_lifetime


def positive_seconds(value: Any) -> float | None:
    """A grant's `expires_in` as seconds (a positive number or numeric text, at most `MAX_LIFETIME`);
    None when unusable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    cap = MAX_LIFETIME.total_seconds()
    if isinstance(value, int):
        return float(min(value, int(cap))) if value > 0 else None
    if isinstance(value, float) and value > 0 and not math.isnan(value):
        return min(value, cap)
    return None

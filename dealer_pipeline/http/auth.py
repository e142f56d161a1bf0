"""How a vendor call is authorised: a cached bearer token, or a signature per request.

Vendors with tokens (Autotrader, Webmotors, Autochat) implement `TokenAuth`; the token
itself is cached in the store by `tokens.TokenCache` so every process shares one.
Vendors that sign each request (Autocosmos) implement `RequestSigner`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import requests

from dealer_pipeline.settings import Secret

if TYPE_CHECKING:
    from dealer_pipeline.http.client import VendorClient


@dataclass(frozen=True)
class TokenGrant:
    """A token as the vendor granted it; `obtained_at` identifies this generation of it."""

    token: Secret
    expires_at: datetime
    obtained_at: datetime


class TokenAuth(ABC):
    """A credential that the vendor exchanges for an expiring bearer token."""

    @abstractmethod
    def identity(self) -> tuple[str, ...]:
        """What makes two tokens interchangeable: (base URL, client or key, user)."""

    @abstractmethod
    def key_material(self) -> Secret:
        """The vendor secret the cache's encryption key is derived from."""

    @abstractmethod
    def obtain(self, client: VendorClient) -> TokenGrant:
        """Ask the vendor for a new token (through `client`, unauthenticated, logged)."""

    def authorize(self, headers: MutableMapping[str, str], token: Secret) -> None:
        headers["Authorization"] = f"Bearer {token.reveal()}"


class RequestSigner(ABC):
    """A credential applied to each request (e.g. an HMAC over method, path, date and body)."""

    @abstractmethod
    def sign(self, request: requests.PreparedRequest) -> None:
        """Add the signature headers to `request` in place."""

"""What every vendor client shares: its HTTP client, closed with it, also as a context manager."""

from __future__ import annotations

from typing import Any

from dealer_pipeline.http import VendorClient


class VendorAdapter:
    """Base of the vendor clients (dataclasses that declare `http`)."""

    http: VendorClient

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

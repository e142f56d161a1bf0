"""Typed failures of vendor calls.

Every message names the vendor, method, path (already redacted), last status and CF-RAY,
because that is what support desks ask for; none ever carries a token, secret or body
that could hold one. What the vendor said travels beside the message: `vendor_message` (the
human text of its error body) and `details` (what the vendor's policy read from the body,
e.g. Autochat's field errors), so callers never re-parse the message.
"""

from __future__ import annotations

from typing import Any


class VendorError(Exception):
    """A vendor call that did not produce a usable response."""

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        cf_ray: str | None = None,
        vendor_message: str | None = None,
        details: Any = None,
    ) -> None:
        self.message = message
        self.vendor = vendor
        self.method = method
        self.path = path
        self.status = status
        self.cf_ray = cf_ray
        self.vendor_message = vendor_message
        self.details = details
        super().__init__(self._render())

    def where(self) -> dict[str, Any]:
        """The call's context, for raising the same failure as another (vendor-specific) type."""
        return {"vendor": self.vendor, "method": self.method, "path": self.path, "status": self.status,
                "cf_ray": self.cf_ray}

    def _render(self) -> str:
        where = " ".join(part for part in (self.method, self.path) if part)
        details = [f"last status {self.status if self.status is not None else 'none'}"]
        if self.cf_ray:
            details.append(f"CF-RAY {self.cf_ray}")
        head = f"{self.vendor} {where}".strip()
        return f"{head}: {self.message} ({', '.join(details)})"


class VendorBlocked(VendorError):
    """An unresolved row in `api_blocks` forbids this call; an operator must resolve it first."""

    def __init__(self, message: str, *, block_id: int, reason: str, action: str | None, **kw: object) -> None:
        self.block_id = block_id
        self.reason = reason
        self.action = action
        super().__init__(message, **kw)  # type: ignore[arg-type]


class BadRequest(VendorError):
    """The vendor rejected our input (400); never retried, flagged in `api_blocks`."""

    def __init__(self, message: str, *, block_id: int | None, vendor_message: str, **kw: object) -> None:
        self.block_id = block_id
        super().__init__(message, vendor_message=vendor_message, **kw)  # type: ignore[arg-type]


class AuthFailed(VendorError):
    """Credentials refused, or a fresh token was refused again (second 401)."""


class WaitBudgetExceeded(VendorError):
    """Pauses and backoff would take the call past `DEALER_PIPELINE_HTTP_MAX_WAIT_SECONDS`."""


class VendorUnavailable(VendorError):
    """Retries exhausted on 5xx, timeouts or connection errors."""


class MalformedResponse(VendorError):
    """A 2xx whose body is not the JSON the contract promises."""


class UnexpectedStatus(VendorError):
    """A status the vendor's policy table has no recovery for."""


class PaginationError(VendorError):
    """The vendor returned the same page twice, or pages that contradict their total."""

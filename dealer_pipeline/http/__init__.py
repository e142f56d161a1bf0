"""The vendor-neutral HTTP layer: shared tokens, shared pauses, blocks and the call log.

`VendorClient(policy, auth=..., engine=...)` is the one way the pipeline calls a vendor;
a `VendorPolicy` subclass says what the vendor's statuses mean.
"""

from dealer_pipeline.http.auth import RequestSigner, TokenAuth, TokenGrant
from dealer_pipeline.http.blocks import Block, BlockRegistry, list_blocks, resolve_block
from dealer_pipeline.http.calllog import CallLog
from dealer_pipeline.http.client import ClientStats, VendorClient, VendorResponse, new_session
from dealer_pipeline.http.errors import (
    AuthFailed,
    BadRequest,
    MalformedResponse,
    PaginationError,
    UnexpectedStatus,
    VendorBlocked,
    VendorError,
    VendorUnavailable,
    WaitBudgetExceeded,
)
from dealer_pipeline.http.pauses import PauseBoard
from dealer_pipeline.http.policy import DEFAULT_STATUS_TABLE, Action, VendorPolicy, Verdict
from dealer_pipeline.http.tokens import TokenCache

__all__ = [
    "DEFAULT_STATUS_TABLE",
    "Action",
    "AuthFailed",
    "BadRequest",
    "Block",
    "BlockRegistry",
    "CallLog",
    "ClientStats",
    "MalformedResponse",
    "PaginationError",
    "PauseBoard",
    "RequestSigner",
    "TokenAuth",
    "TokenCache",
    "TokenGrant",
    "UnexpectedStatus",
    "VendorBlocked",
    "VendorClient",
    "VendorError",
    "VendorPolicy",
    "VendorResponse",
    "VendorUnavailable",
    "Verdict",
    "WaitBudgetExceeded",
    "list_blocks",
    "new_session",
    "resolve_block",
]

"""What the sandbox's control routes (`/_sandbox/...`) share: reading a JSON object body."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request


async def json_object(request: Request, error: type[Exception]) -> dict[str, Any]:
    """The body as a JSON object (`{}` when empty); `error` (answered 400 by the caller) otherwise."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise error(f"body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise error("body must be a JSON object")
    return payload

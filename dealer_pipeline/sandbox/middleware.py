"""The ASGI middleware in front of every vendor: call log, scripted faults, Autotrader's CF-RAY.

It works on raw ASGI messages (it never reads the request body, so vendors that sign the
body, like Autocosmos, see it untouched) and logs every request under a vendor prefix,
faults included, after the answer is complete.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from typing import Any, Awaitable, Callable, Mapping
from urllib.parse import parse_qsl

from dealer_pipeline.sandbox.calllog import hash_token
from dealer_pipeline.sandbox.faults import FaultRule, RequestFacts
from dealer_pipeline.sandbox.runtime import SandboxRuntime

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

#: URL prefix -> vendor name in the call log.
PREFIXES = {"/autotrader": "autotrader", "/webmotors": "webmotors", "/autocosmos": "autocosmos",
            "/autochat": "autochat", "/media": "media"}
#: ASGI scope extension our uvicorn protocol adds: aborts the TCP connection with a reset.
ABORT_EXTENSION = "dealer_pipeline.sandbox.abort"

def new_cf_ray() -> str:
    """`<16 lowercase hex>-LHR`, as Autotrader's edge stamps every response."""
    return f"{secrets.token_hex(8)}-LHR"


def vendor_of(path: str) -> tuple[str, str] | None:
    """(vendor, vendor-relative path) for a request path under a vendor prefix."""
    for prefix, vendor in PREFIXES.items():
        if path == prefix or path.startswith(prefix + "/"):
            return vendor, path[len(prefix):] or "/"
    return None


def presented_token(headers: Mapping[str, str]) -> str | None:
    """The credential a request carries: a Bearer token, or Webmotors' `access_token` header."""
    authorization = headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return headers.get("access_token") or None


def presented_signature(headers: Mapping[str, str]) -> str | None:
    """A signed request's `Authorization` (e.g. `ACS-HMAC <AppKey>:<signature>`; not a bearer token or
    Basic credentials): the signature covers method, path, `Date` and `Digest`, so two requests with
    the same one are the same request signed once and sent twice (a replay)."""
    authorization = headers.get("authorization", "").strip()
    scheme = authorization.partition(" ")[0].lower()
    return authorization if authorization and scheme not in ("bearer", "basic") else None


def default_error(status: int, rule: FaultRule | None) -> tuple[bytes, str]:
    """Body of a scripted fault for a vendor that registered no renderer of its own."""
    if rule is not None and rule.body is not None:
        body = rule.body if isinstance(rule.body, str) else json.dumps(rule.body, ensure_ascii=False,
                                                                       separators=(",", ":"))
        return body.encode(), "application/json"
    return json.dumps({"status": status, "message": "scripted fault"}, separators=(",", ":")).encode(), \
        "application/json"


class SandboxMiddleware:
    """Wraps the whole sandbox app (see module docstring)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], runtime: SandboxRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        located = vendor_of(scope["path"])
        if located is None:
            await self.app(scope, receive, send)
            return
        vendor, path = located
        started = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query_string = scope.get("query_string", b"").decode("latin-1")
        query = dict(parse_qsl(query_string, keep_blank_values=True))
        token = presented_token(headers)
        dealers = self._dealers(vendor, scope, headers, query, path)
        cf_ray = new_cf_ray() if vendor == "autotrader" else None
        outcome: dict[str, Any] = {"status": None}

        async def logged_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
                if cf_ray is not None:
                    message = dict(message)
                    message["headers"] = [*message.get("headers", []), (b"cf-ray", cf_ray.encode())]
            await send(message)

        rule = self.runtime.faults.match(RequestFacts(vendor, scope["method"], path, query, frozenset(dealers)))
        try:
            if rule is None:
                await self.app(scope, receive, logged_send)
            else:
                await self._apply(rule, vendor, scope, receive, logged_send, token, query, outcome)
        except Exception:
            if outcome["status"] is not None or (rule is not None and rule.reset):
                raise
            # A bug in a vendor must still answer like the vendor's edge would (CF-RAY included).
            logger.exception("sandbox %s failed on %s %s", vendor, scope["method"], path)
            body = json.dumps({"status": 500, "message": "sandbox internal error"}).encode()
            await logged_send({"type": "http.response.start", "status": 500,
                               "headers": [(b"content-type", b"application/json"),
                                           (b"content-length", str(len(body)).encode())]})
            await logged_send({"type": "http.response.body", "body": body})
        finally:
            record = {
                "vendor": vendor, "method": scope["method"], "path": path, "query": query,
                "query_string": query_string, "status": outcome["status"], "token": hash_token(token),
                "signature": hash_token(presented_signature(headers)),
                "cf_ray": cf_ray, "dealer": max(dealers, key=lambda d: (":" in d, d)) if dealers else None,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            }
            if rule is not None:
                record["fault"] = rule.describe()
            self.runtime.calls.append(record)

    def _dealers(self, vendor: str, scope: Scope, headers: Mapping[str, str], query: Mapping[str, str],
                 path: str) -> set[str]:
        found: set[str] = set()
        if vendor == "autotrader" and query.get("advertiserId"):
            found |= {query["advertiserId"], f"autotrader:{query['advertiserId']}"}
        resolver = self.runtime.dealer_resolvers.get(vendor)
        if resolver is not None:
            try:
                found |= set(resolver({"headers": headers, "query": query, "path": path, "method": scope["method"]}))
            except Exception:  # a resolver must never break the request
                pass
        return found

    async def _apply(self, rule: FaultRule, vendor: str, scope: Scope, receive: Receive, send: Send,
                     token: str | None, query: Mapping[str, str], outcome: dict[str, Any]) -> None:
        if rule.delay_seconds:
            await asyncio.sleep(rule.delay_seconds)
        if rule.expire_token:
            self.runtime.tokens.expire(vendor, token)
        if rule.reset:
            abort = scope.get("extensions", {}).get(ABORT_EXTENSION)
            outcome["status"] = None
            if abort is not None:
                abort()
                return
            # Without our server protocol: start a response and break it off mid-body.
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]})
            raise ConnectionResetError("scripted connection reset")
        if rule.malformed_json:
            await self._malformed(scope, receive, send)
            return
        if rule.status is not None:
            facts = {"advertiser_id": query.get("advertiserId"), "path": scope["path"]}
            renderer = self.runtime.error_renderers.get(vendor)
            body, content_type = (renderer(rule.status, rule, facts) if renderer
                                  else default_error(rule.status, rule))
            headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
            if rule.retry_after is not None:
                headers.append((b"retry-after", f"{rule.retry_after:g}".encode()))
            headers += [(k.lower().encode(), v.encode()) for k, v in rule.headers.items()]
            await send({"type": "http.response.start", "status": rule.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    async def _malformed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Let the vendor answer, then send 200 with the first half of its body (never valid JSON)."""
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        original = b"".join(chunks)
        broken = original[: max(1, len(original) // 2)] if len(original) > 2 else b'{"results": ['
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(broken)).encode())]})
        await send({"type": "http.response.body", "body": broken})


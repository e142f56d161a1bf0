"""A tiny vendor over real sockets whose answers the test scripts, for the vendor-neutral layer.

`POST /auth` grants tokens (`ttl` seconds; an expired one gets a 401); every other path answers
200 `{"ok": true}` unless a scripted answer is queued for it: a status (with optional Retry-After and body),
or `reset` (close the connection without answering). Every request is recorded with a
monotonic-free wall-clock time, so tests can measure pauses from the server's side.
The Autotrader tests use the real sandbox instead; this exists to test the layer alone.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from dealer_pipeline.http import TokenAuth, TokenGrant, VendorClient, VendorPolicy
from dealer_pipeline.settings import Secret

CLIENT_ID = "scripted-client"
CLIENT_SECRET = "scripted-secret-value-1234"


@dataclass
class Script:
    ttl: float = 900.0
    answers: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    calls: list[dict[str, Any]] = field(default_factory=list)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> when it expires (time.time())
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    script: Script
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        script = self.script
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        auth = self.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        with script.lock:
            queued = script.answers.get(parts.path)
            answer = queued.popleft() if queued else None
        record = {"ts": time.time(), "method": self.command, "path": parts.path,
                  "query": parse_qs(parts.query), "token": token, "status": None}
        ray = f"{secrets.token_hex(8)}-TST"
        if answer == "reset":
            record["status"] = "reset"
            with script.lock:
                script.calls.append(record)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.close_connection = True
            self.connection.close()
            return
        if parts.path == "/auth" and answer is None:
            form = parse_qs(body.decode())
            if form.get("client") != [CLIENT_ID] or form.get("secret") != [CLIENT_SECRET]:
                status, payload, headers = 401, {"message": "bad credentials"}, {}
            else:
                new = secrets.token_urlsafe(32)
                expires = datetime.now(UTC) + timedelta(seconds=script.ttl)
                with script.lock:
                    script.tokens[new] = expires.timestamp()
                status, payload, headers = 200, {"token": new, "expires_at": expires.isoformat()}, {}
        elif answer is not None:
            status = answer["status"]
            payload = answer.get("body", {"message": f"scripted {status}"})
            headers = answer.get("headers", {})
        elif token is None or token not in script.tokens:
            status, payload, headers = 401, {"message": "token missing or invalid"}, {}
        elif script.tokens[token] <= time.time():
            status, payload, headers = 401, {"message": "token expired"}, {}
        else:
            status, payload, headers = 200, {"ok": True, "path": parts.path}, {}
        record["status"] = status
        with script.lock:
            script.calls.append(record)
        raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("CF-RAY", ray)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PUT = _answer


class ScriptedVendor:
    def __init__(self, ttl: float = 900.0) -> None:
        self.script = Script(ttl=ttl)
        handler = type("Handler", (_Handler,), {"script": self.script})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def queue(self, path: str, *answers: Any) -> None:
        with self.script.lock:
            self.script.answers[path].extend(answers)

    def calls(self, path: str | None = None) -> list[dict[str, Any]]:
        with self.script.lock:
            return [c for c in self.script.calls if path is None or c["path"] == path]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ScriptedAuth(TokenAuth):
    def __init__(self, base_url: str, secret: str = CLIENT_SECRET) -> None:
        self.base_url = base_url
        self.secret = Secret(secret)

    def identity(self) -> tuple[str, ...]:
        return (self.base_url, CLIENT_ID, "")

    def key_material(self) -> Secret:
        return self.secret

    def obtain(self, client: VendorClient) -> TokenGrant:
        response = client.request("POST", "/auth", data={"client": CLIENT_ID, "secret": self.secret.reveal()},
                                  authenticated=False, service="auth")
        now = datetime.now(UTC)
        return TokenGrant(Secret(response.body["token"]), datetime.fromisoformat(response.body["expires_at"]), now)


def make_client(url: str, engine: Any, *, max_wait: float = 30.0, run_id: str | None = None,
                max_in_flight: int = 16, **policy: Any) -> VendorClient:
    policy.setdefault("backoff_base_seconds", 0.05)
    policy.setdefault("default_429_pause_seconds", 1.0)
    return VendorClient(
        VendorPolicy(vendor="scripted", base_url=url, secret_query_params=frozenset({"token"}), **policy),
        engine=engine, auth=ScriptedAuth(url), max_wait_seconds=max_wait, run_id=run_id,
        block_cache_seconds=0.1, max_in_flight=max_in_flight,
    )



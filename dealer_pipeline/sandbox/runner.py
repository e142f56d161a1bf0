"""Start the sandbox as a subprocess and talk to its control routes (tests, demo, benchmarks).

    with start_sandbox(seed=7, dealers=3, vehicles=25) as sandbox:
        env = sandbox.env()                     # the pipeline's env vars, pointing at it
        sandbox.fault(vendor="autotrader", path="/stock", status=429, times=2, retry_after=1)
        ...
        calls = sandbox.calls(vendor="autotrader")

The subprocess runs `python -m dealer_pipeline.sandbox serve` on a free loopback port; the
handle waits for `/_sandbox/health` before returning and kills the process on `stop()`.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

import requests

from dealer_pipeline.sandbox.runtime import DEFAULT_CREDENTIALS, CREDENTIAL_ENV

STARTUP_TIMEOUT = 30.0


class SandboxError(RuntimeError):
    """The sandbox did not start, or a control call failed; the message says why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SandboxHandle:
    """A running sandbox subprocess (also a context manager that stops it)."""

    def __init__(self, process: subprocess.Popen, base_url: str, workdir: Path, dealers_file: Path,
                 credentials: Mapping[str, str], log_path: Path, owns_workdir: bool) -> None:
        self.process = process
        self.base_url = base_url
        self.workdir = workdir
        self.dealers_file = dealers_file
        self.credentials = dict(credentials)
        self.log_path = log_path
        self._owns_workdir = owns_workdir
        self._session = requests.Session()
        self._world: dict[str, Any] | None = None

    # -- addresses -------------------------------------------------------------------------
    def url(self, vendor: str) -> str:
        """Base URL of one vendor (`autotrader`, `webmotors`, `autocosmos`, `autochat`)."""
        return f"{self.base_url}/{vendor}"

    def env(self) -> dict[str, str]:
        """Every pipeline env var that points the pipeline at this sandbox, with its credentials."""
        c = self.credentials
        env = {
            "AUTOTRADER_BASE_URL": self.url("autotrader"), "AUTOTRADER_KEY": c["autotrader_key"],
            "AUTOTRADER_SECRET": c["autotrader_secret"], "AUTOTRADER_WEBHOOK_SECRET": c["autotrader_webhook_secret"],
            "WEBMOTORS_BASE_URL": self.url("webmotors"), "WEBMOTORS_CLIENT_ID": c["webmotors_client_id"],
            "WEBMOTORS_CLIENT_SECRET": c["webmotors_client_secret"],
            "WEBMOTORS_LEADS_TOKEN": c["webmotors_leads_token"],
            "AUTOCOSMOS_BASE_URL": self.url("autocosmos"), "AUTOCOSMOS_APP_KEY": c["autocosmos_app_key"],
            "AUTOCOSMOS_APP_SECRET": c["autocosmos_app_secret"],
            "AUTOCOSMOS_WEBHOOK_SECRET": c["autocosmos_webhook_secret"],
            "AUTOCHAT_BASE_URL": self.url("autochat"), "AUTOCHAT_TOKEN_URL": f"{self.url('autochat')}/oauth/token",
            "AUTOCHAT_CLIENT_ID": c["autochat_client_id"], "AUTOCHAT_CLIENT_SECRET": c["autochat_client_secret"],
            "DEALER_PIPELINE_DEALERS_FILE": str(self.dealers_file),
        }
        for dealer in self.world()["webmotors"]:
            env[dealer["username_env"]] = dealer["username"]
            env[dealer["password_env"]] = dealer["password"]
        return env

    # -- control routes --------------------------------------------------------------------
    def control(self, method: str, path: str, json_body: Any = None, *, params: Mapping[str, Any] | None = None,
                expect: Iterable[int] = (200, 201, 204)) -> Any:
        """Call a `/_sandbox/...` route; returns the decoded JSON (or None for an empty answer)."""
        response = self._session.request(method, f"{self.base_url}/_sandbox{path}", json=json_body, params=params,
                                         timeout=120)
        if response.status_code not in set(expect):
            raise SandboxError(f"{method} /_sandbox{path} -> {response.status_code}: {response.text[:500]}")
        if not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/x-ndjson"):
            return [json.loads(line) for line in response.text.splitlines() if line]
        return response.json()

    def health(self) -> dict[str, Any]:
        return self.control("GET", "/health")

    def world(self, refresh: bool = False) -> dict[str, Any]:
        """Dealers of both markets with ids, credentials, access flags and publish targets."""
        if self._world is None or refresh:
            self._world = self.control("GET", "/world")
        return self._world

    def calls(self, vendor: str | None = None, since: int | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("vendor", vendor), ("since", since)) if v is not None}
        return self.control("GET", "/calls", params=params) or []

    def last_seq(self) -> int:
        """Sequence number of the newest call so far (pass it as `since=` to see only what follows)."""
        return int(self.health()["last_call_seq"])

    def clear_calls(self) -> None:
        self.control("POST", "/calls/clear")

    def fault(self, **rule: Any) -> dict[str, Any]:
        """Script a fault, e.g. `fault(vendor="autotrader", path="/stock", status=429, times=3, retry_after=1)`."""
        return self.control("POST", "/faults", rule)

    def clear_faults(self) -> None:
        self.control("DELETE", "/faults")

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change run-time settings, e.g. `configure(token_ttl={"autotrader": 2}, receiver_url=...)`."""
        return self.control("POST", "/config", settings)

    def change(self, vendor: str, record_id: str | int, /, **change: Any) -> dict[str, Any]:
        """Change one stock record (`/_sandbox/<vendor>/stock/<id>/change`) and deliver its notification."""
        return self.control("POST", f"/{vendor}/stock/{record_id}/change", change)

    def hold_publication(self, adminmail: str, external_id: str) -> dict[str, Any]:
        """Make Autocosmos hold a publication under `external_id` that no signed call created (an earlier
        create whose answer was lost): a copy of an active one of the agency, so its content is out of date.
        The next create of that ExternalId is answered 409."""
        held = self.control("GET", f"/autocosmos/publicaciones/{adminmail}")
        sibling = next((p for p in held if p["Estado"] == "Activa"), None)
        if sibling is None:
            raise SandboxError(f"agency {adminmail} holds no active publication to copy")
        body = {k: v for k, v in sibling.items() if k not in ("Estado", "_links", "_sandbox")}
        return self.control("POST", f"/autocosmos/publicaciones/{adminmail}", {**body, "ExternalId": external_id})

    def deliveries(self, vendor: str | None = None, since: int | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("vendor", vendor), ("since", since)) if v is not None}
        return self.control("GET", "/deliveries", params=params)

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until the sandbox's background work (deliveries, photo processing) is done."""
        self.control("POST", "/settle", params={"timeout": timeout})

    # -- lifecycle -------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the subprocess (SIGTERM, then SIGKILL after 5 s); safe to call twice."""
        self._session.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "SandboxHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sandbox(*, seed: int = 7, dealers: int = 3, vehicles: int = 25, port: int | None = None,
                  receiver_url: str | None = None, dealers_file: str | Path | None = None,
                  token_ttl_seconds: float | None = None, extra_args: Iterable[str] = (),
                  credentials: Mapping[str, str] | None = None, workdir: str | Path | None = None) -> SandboxHandle:
    """Run the sandbox in a subprocess on a free loopback port (or `port`) and wait until it answers.

    `credentials` overrides what the sandbox accepts (keys of `DEFAULT_CREDENTIALS`); the
    handle's `env()` then carries the same values. The dealers file goes to `dealers_file`, or
    into a temporary directory removed on `stop()`.
    """
    accepted = dict(DEFAULT_CREDENTIALS)
    unknown = set(credentials or {}) - set(accepted)
    if unknown:
        raise ValueError(f"unknown credentials {sorted(unknown)}")
    accepted.update(credentials or {})
    owns = workdir is None
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="dp-sandbox-"))
    work.mkdir(parents=True, exist_ok=True)
    target = Path(dealers_file) if dealers_file else work / "dealers.yaml"
    env = dict(os.environ)
    env.update({CREDENTIAL_ENV[name]: value for name, value in accepted.items()})
    last_error = ""
    for _ in range(3):
        chosen = port or free_port()
        argv = [sys.executable, "-m", "dealer_pipeline.sandbox", "serve", "--host", "127.0.0.1", "--port", str(chosen),
                "--seed", str(seed), "--dealers", str(dealers), "--vehicles", str(vehicles),
                "--dealers-file", str(target)]
        if receiver_url:
            argv += ["--receiver", receiver_url]
        if token_ttl_seconds is not None:
            argv += ["--token-ttl", str(token_ttl_seconds)]
        argv += list(extra_args)
        log_path = work / f"sandbox-{chosen}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        base = f"http://127.0.0.1:{chosen}"
        handle = SandboxHandle(process, base, work, target, accepted, log_path, owns)
        if _wait_healthy(process, base):
            atexit.register(handle.stop)  # never leave a sandbox behind, even if the caller forgets
            return handle
        last_error = log_path.read_text(errors="replace")[-2000:]
        handle._owns_workdir = False
        handle.stop()
        if port is not None or "address already in use" not in last_error.lower():
            break
    if owns:
        shutil.rmtree(work, ignore_errors=True)
    raise SandboxError(f"the sandbox did not start:\n{last_error}")


def _wait_healthy(process: subprocess.Popen, base: str) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if requests.get(f"{base}/_sandbox/health", timeout=1).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.05)
    return False

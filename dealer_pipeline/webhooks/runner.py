"""Start the receiver as a subprocess on a free loopback port (tests, demo, benchmarks).

The parent binds the socket (port 0: the kernel picks a free one) and hands it to the child,
so two receivers started at once can never race for the same port.

    with start_receiver(env={"DEALER_PIPELINE_DATABASE_URL": url}) as receiver:
        requests.put(receiver.url("autotrader"), ...)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Mapping

ROUTES = {
    "autotrader": "/webhooks/autotrader",
    "autocosmos": "/webhooks/autocosmos",
    "webmotors": "/webhooks/webmotors/leads",
}


@dataclass
class ReceiverHandle:
    base_url: str
    process: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, source: str) -> str:
        return self.base_url + ROUTES[source]

    def stop(self, timeout: float = 15) -> None:
        """Graceful stop (SIGTERM: in-flight requests finish), then SIGKILL if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL the receiver (and its worker processes): nothing gets to clean up."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=15)

    def __enter__(self) -> "ReceiverHandle":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _wait_healthy(handle: ReceiverHandle, timeout: float, *, store_required: bool) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if handle.process.poll() is not None:
            raise RuntimeError(f"the receiver exited with code {handle.process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(handle.base_url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            if not store_required:
                return  # serving, though its store is unreachable
            last = exc
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.05)
    handle.kill()
    raise RuntimeError(f"the receiver did not become healthy within {timeout} s (last: {last})")


def start_receiver(
    *,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    host: str = "127.0.0.1",
    log_level: str = "warning",
    startup_timeout: float = 30,
    store_required: bool = True,
    extra_args: tuple[str, ...] = (),
    log_path: str | os.PathLike[str] | None = None,
) -> ReceiverHandle:
    """Start `python -m dealer_pipeline.webhooks.server` with `env` added to this process's
    environment (e.g. DEALER_PIPELINE_DATABASE_URL, the webhook secrets); waits for /healthz
    (to answer 200, or to answer at all when `store_required` is false); `extra_args` go to the
    server's command line (e.g. `("--header-timeout", "1")`); `log_path` receives its output."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(4096)
    port = sock.getsockname()[1]
    child_env = dict(os.environ, **(env or {}))
    argv = [sys.executable, "-m", "dealer_pipeline.webhooks.server", "--fd", str(sock.fileno()),
            "--workers", str(workers), "--log-level", log_level, *extra_args]
    log = open(log_path, "ab") if log_path is not None else None  # noqa: SIM115 - the child writes to it
    try:
        process = subprocess.Popen(argv, env=child_env, pass_fds=(sock.fileno(),), start_new_session=True,
                                   stdout=log, stderr=log)
    finally:
        sock.close()  # the child holds its own copy
        if log is not None:
            log.close()
    handle = ReceiverHandle(base_url=f"http://{host}:{port}", process=process)
    _wait_healthy(handle, startup_timeout, store_required=store_required)
    return handle

"""A throwaway Redis (Debian's `redis-server`, installed by `make test`) on a free loopback port,
run as an unprivileged user when the tests run as root; nothing is written to disk."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

from dealer_pipeline.sandbox.runner import free_port

REDIS_SERVER = "redis-server"
UNPRIVILEGED_USER = "nobody"


def _as_unprivileged(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", UNPRIVILEGED_USER, "--", *argv]


def _answers(port: int) -> bool:
    """Whether the server answers (a PONG, or NOAUTH when it wants a password first)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


BIND_ATTEMPTS = 4
BIND_FAILURE = "Address already in use"


def _argv(binary: str, port: int, workdir: Path, password: str | None) -> list[str]:
    return [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(workdir), "--protected-mode", "yes", *(["--requirepass", password] if password else [])]


def _started(process: subprocess.Popen, port: int, log_path: Path, timeout: float) -> bool:
    """Whether the server came up on `port`; False when another process took the port first."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and not _answers(port):
        assert time.monotonic() < deadline, "redis-server did not answer PING"
        time.sleep(0.05)
    if process.poll() is None:
        return True
    output = log_path.read_text(errors="replace")
    assert BIND_FAILURE in output, f"redis-server exited: {output[-2000:]}"
    return False


def _start(binary: str, workdir: Path, password: str | None, timeout: float) -> tuple[subprocess.Popen, int]:
    """Start redis-server on a free port. The port is only free when `free_port()` looks: another process
    may bind it before redis does, so a bind failure starts again on a new port."""
    for attempt in range(BIND_ATTEMPTS):
        port = free_port()
        log_path = workdir / f"redis-{attempt}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(_as_unprivileged(_argv(binary, port, workdir, password)),
                                       stdout=log, stderr=subprocess.STDOUT)
        if _started(process, port, log_path, timeout):
            return process, port
    raise AssertionError(f"redis-server found no free port in {BIND_ATTEMPTS} attempts")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def throwaway_redis(password: str | None = None, timeout: float = 15.0) -> Iterator[str]:
    """Start redis-server (requiring `password`, if given); yield its URL (database 0); stop it."""
    binary = shutil.which(REDIS_SERVER)
    assert binary, "redis-server is missing: `make test` installs it (apt-get install redis-server)"
    # Its working directory must be reachable by the unprivileged user (pytest's are root-only).
    workdir = Path(tempfile.mkdtemp(prefix="dp-redis-"))
    workdir.chmod(0o777)
    try:
        process, port = _start(binary, workdir, password, timeout)
        try:
            yield f"redis://{f':{password}@' if password else ''}127.0.0.1:{port}/0"
        finally:
            _stop(process)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

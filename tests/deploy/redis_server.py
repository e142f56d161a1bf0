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


@contextlib.contextmanager
def throwaway_redis(password: str | None = None, timeout: float = 15.0) -> Iterator[str]:
    """Start redis-server (requiring `password`, if given); yield its URL (database 0); stop it."""
    binary = shutil.which(REDIS_SERVER)
    assert binary, "redis-server is missing: `make test` installs it (apt-get install redis-server)"
    # Its working directory must be reachable by the unprivileged user (pytest's are root-only).
    workdir = Path(tempfile.mkdtemp(prefix="dp-redis-"))
    workdir.chmod(0o777)
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(workdir), "--protected-mode", "yes", *(["--requirepass", password] if password else [])]
    log = (workdir / "redis.log").open("wb")
    process = subprocess.Popen(_as_unprivileged(argv), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not _answers(port):
            assert process.poll() is None, f"redis-server exited: {(workdir / 'redis.log').read_text()[-2000:]}"
            assert time.monotonic() < deadline, "redis-server did not answer PING"
            time.sleep(0.05)
        yield f"redis://{f':{password}@' if password else ''}127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)

"""A throwaway PostgreSQL server for the tests: initdb in a temp dir, a free loopback port,
torn down on exit even after a failure or a signal.

The server refuses to run as root, so when we are root it runs as the unprivileged
`postgres` user (which owns only the temp dir); the tests connect over TCP.

    python -m tests.support.postgres -- pytest -q      # run a command against a fresh server
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

ADMIN_USER = "postgres"
URL_VARIABLE = "DEALER_PIPELINE_TEST_PG_URL"
#: Servers this process started: port -> (data dir, a directory the server user can read).
_STARTED: dict[int, tuple[Path, str]] = {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", ADMIN_USER, "--", *argv]


def _run(argv: list[str], cwd: str) -> None:
    result = subprocess.run(_as_server_user(argv), cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:2])} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Start a server, yield the admin URL (postgresql+psycopg2://...), stop and delete it."""
    root = Path(tempfile.mkdtemp(prefix="dp-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    password = secrets.token_hex(12)
    pwfile = root / "pw"
    pwfile.write_text(password)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(ADMIN_USER)
        for path in (root, sock, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    port = free_port()
    cwd = str(root)  # a directory the server user can read
    try:
        _run(["initdb", "-D", str(data), "-U", ADMIN_USER, f"--pwfile={pwfile}", "--auth-local=trust",
              "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8"], cwd)
        options = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        _run(["pg_ctl", "-D", str(data), "-l", str(root / "server.log"), "-w", "-o", options, "start"], cwd)
        _STARTED[port] = (data, cwd)
        try:
            yield f"postgresql+psycopg2://{ADMIN_USER}:{password}@127.0.0.1:{port}/postgres"
        finally:
            _STARTED.pop(port, None)
            subprocess.run(_as_server_user(["pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"]),
                           cwd=cwd, capture_output=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def restart_postgres(url: str) -> None:
    """Restart (fast shutdown: every session is cut) a server `throwaway_postgres` started here."""
    data, cwd = _STARTED[int(url.rsplit("@", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])]
    _run(["pg_ctl", "-D", str(data), "-l", str(data.parent / "server.log"), "-m", "fast", "-w", "restart"], cwd)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: python -m tests.support.postgres -- COMMAND ...", file=sys.stderr)
        return 2
    # SIGTERM/SIGHUP become exceptions so the finally blocks stop the server.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    with throwaway_postgres() as url:
        print(f"throwaway PostgreSQL at {url.split('@')[1]}", flush=True)
        env = dict(os.environ, **{URL_VARIABLE: url})
        child = subprocess.Popen(argv, env=env)
        try:
            return child.wait()
        except BaseException:
            child.terminate()
            child.wait(timeout=30)
            raise


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""A real `dagster-daemon` on a throwaway DAGSTER_HOME (the repo's dagster.yaml, SQLite storage, or the
instance file a test gives).

The daemon evaluates the sensors and launches every run as its own process, as production does.
It runs in its own session, so stopping it (SIGTERM, then SIGKILL) also ends its code server and
the run workers it started, whatever state the test is in.

    with start_daemon(env) as daemon:
        daemon.instance()  # the same instance, from this process
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import dagster as dg

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class DaemonHandle:
    home: Path
    process: subprocess.Popen

    def instance(self) -> dg.DagsterInstance:
        """The daemon's instance, opened from this process (close it, or use it as a context manager)."""
        return dg.DagsterInstance.from_config(str(self.home))

    def log_tail(self, chars: int = 4000) -> str:
        path = self.home / "daemon.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def alive(self) -> bool:
        return self.process.poll() is None


@contextmanager
def start_daemon(env: Mapping[str, str], *, keep_home: bool = False,
                 instance_yaml: str | None = None) -> Iterator[DaemonHandle]:
    """Run `dagster-daemon run` with `env` added to this process's environment; always torn down.
    `instance_yaml` replaces the repo's dagster.yaml (e.g. PostgreSQL storage and run limits)."""
    home = Path(tempfile.mkdtemp(prefix="dp-dagster-"))
    if instance_yaml is None:
        shutil.copyfile(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    else:
        (home / "dagster.yaml").write_text(instance_yaml)
    daemon_env = {**os.environ, **env, "DAGSTER_HOME": str(home), "TMPDIR": str(home)}
    # Create the instance's SQLite storage before the daemon does: two processes creating it at
    # once race on its schema ("table alembic_version already exists").
    dg.DagsterInstance.from_config(str(home)).dispose()
    executable = str(Path(sys.executable).with_name("dagster-daemon"))
    with open(home / "daemon.log", "wb") as log:
        process = subprocess.Popen([executable, "run", "-w", str(ROOT / "workspace.yaml")], cwd=ROOT, env=daemon_env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield DaemonHandle(home, process)
    finally:
        _stop(process)
        if keep_home or os.environ.get("DAEMON_KEEP_HOME"):
            print(f"DAGSTER_HOME kept at {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


def _stop(process: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 15)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            # the group may outlive its leader for a moment (run workers finishing): end it too
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue
        return

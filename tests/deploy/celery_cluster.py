"""A loopback Celery cluster for the round trip: a throwaway Redis broker, a Dagster instance on
`deploy/dagster.yaml` (PostgreSQL storage), and worker processes started the way a deployment
starts them (`celery -A dealer_pipeline.runner.celery_worker worker`), one step at a time each."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

import sqlalchemy as sa

from dealer_pipeline.defs.execution import BROKER_VARIABLE
from dealer_pipeline.paths import project_root

WORKER_APP = "dealer_pipeline.runner.celery_worker"


def instance_env(dagster_db_url: str, home: Path) -> dict[str, str]:
    """DAGSTER_HOME holding `deploy/dagster.yaml`, and the DAGSTER_PG_* variables it reads."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(project_root() / "deploy" / "dagster.yaml", home / "dagster.yaml")
    parts = sa.make_url(dagster_db_url)
    return {"DAGSTER_HOME": str(home), "DAGSTER_PG_HOST": parts.host or "", "DAGSTER_PG_PORT": str(parts.port),
            "DAGSTER_PG_DB": parts.database or "", "DAGSTER_PG_USER": parts.username or "",
            "DAGSTER_PG_PASSWORD": parts.password or ""}


@dataclass
class Workers:
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def pids(self) -> dict[int, str]:
        return {p.pid: name for name, p in self.processes.items()}


@contextlib.contextmanager
def celery_workers(count: int, env: Mapping[str, str], logdir: Path, timeout: float = 120.0) -> Iterator[Workers]:
    """Start `count` solo-pool workers (the task runs in the worker's own process, so a step's pid
    is the worker's); wait until each answers a ping; stop them all afterwards."""
    from dealer_pipeline.defs.execution import celery_app

    workers = Workers()
    logdir.mkdir(parents=True, exist_ok=True)
    try:
        for index in range(count):
            name = f"w{index + 1}"
            log = (logdir / f"{name}.log").open("wb")
            workers.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", WORKER_APP, "worker", "--pool", "solo", "-n", f"{name}@%h",
                 "-Q", "dagster", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
                 "--without-heartbeat"],
                cwd=project_root(), env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
        previous = os.environ.get(BROKER_VARIABLE)
        os.environ[BROKER_VARIABLE] = env[BROKER_VARIABLE]
        try:
            app = celery_app()
            deadline = time.monotonic() + timeout
            while True:
                replies = app.control.ping(timeout=1.0) or []
                if len(replies) >= count:
                    break
                for name, process in workers.processes.items():
                    assert process.poll() is None, f"worker {name} exited: {_tail(logdir / f'{name}.log')}"
                assert time.monotonic() < deadline, f"only {len(replies)} of {count} workers answered"
            app.close()
        finally:
            if previous is None:
                os.environ.pop(BROKER_VARIABLE, None)
            else:
                os.environ[BROKER_VARIABLE] = previous
        yield workers
    finally:
        for process in workers.processes.values():
            process.terminate()
        for process in workers.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""

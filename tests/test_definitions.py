"""The code location loads (as `dg check defs` does in the UI) and its asset graph is what we expect."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dealer_pipeline.paths import project_root

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.txt"


def _graph_lines() -> list[str]:
    from dealer_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    lines = [f"asset {key.to_user_string()}" for key in graph.get_all_asset_keys()]
    lines += [f"check {key.asset_key.to_user_string()}:{key.name}" for key in graph.asset_check_keys]
    lines += [f"job {job.name}" for job in defs.jobs or []]
    lines += [f"schedule {s.name}" for s in defs.schedules or []]
    lines += [f"sensor {s.name}" for s in defs.sensors or []]
    return sorted(lines)


def test_definitions_snapshot() -> None:
    """Asset keys, checks, schedules and sensors change only on purpose (UPDATE_SNAPSHOTS=1 rewrites)."""
    current = "\n".join(_graph_lines()) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(current)
    assert current == SNAPSHOT.read_text()


def test_dg_check_defs_passes(tmp_path: Path) -> None:
    dg = Path(sys.executable).with_name("dg")
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path))
    result = subprocess.run([str(dg), "check", "defs"], cwd=project_root(), env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_loading_the_code_location_leaves_pandas_and_great_expectations_unimported() -> None:
    """Every code-server start, run worker and CLI call loads the definitions: the data-quality
    stack (pandas ~0.3 s, Great Expectations ~3 s) is imported by the checks when they run."""
    probe = ("import sys, dealer_pipeline.definitions; "
             "print(sorted(m for m in ('pandas', 'numpy', 'great_expectations', 'scipy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", probe], cwd=project_root(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
